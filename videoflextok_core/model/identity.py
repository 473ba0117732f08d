"""What a checkpoint is, as short hashes: its config, its weights, and how it runs.

    from videoflextok_core.model.identity import config_hash, model_identity
    config_hash(model.config)    # "3f2a..." (16 hex): what the weights mean
    model_identity(model)        # config hash - weights fingerprint - device-precision

Tokens files record the first two (`tokenfile.token_metadata`) so that a decode can refuse
tokens made by another model; the curve cache and the app key their results by all three.
"""

import hashlib
import json

import torch

from .specs import ModelConfig


def config_hash(config: ModelConfig | dict) -> str:
    """Hash of what the weights mean: the config JSON with sorted keys, minus "demo_defaults"
    (sampler presets do not change what tokens mean)."""
    raw = config.raw_dict if isinstance(config, ModelConfig) else dict(config)
    raw.pop("demo_defaults", None)
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def weights_fingerprint(model: torch.nn.Module, samples: int = 1024) -> str:
    """Cheap fingerprint of the weights: names, shapes and up to `samples` evenly strided values
    of every tensor, rounded to bf16 so float32 and bf16 copies of a checkpoint agree."""
    h = hashlib.sha256()
    picks = []
    for name, p in sorted(model.state_dict().items()):
        h.update(f"{name}{tuple(p.shape)};".encode())
        flat = p.detach().reshape(-1)
        if flat.numel() and p.is_floating_point():
            step = max(1, flat.numel() // samples)
            picks.append(flat[::step][:samples].to(torch.bfloat16))
    if picks:
        h.update(torch.cat(picks).cpu().view(torch.int16).numpy().tobytes())  # one transfer
    return h.hexdigest()[:16]


def model_identity(model) -> str:
    """config hash + weights fingerprint + how a `VideoFlexTok` runs (device type and
    `precision.label`: "fp32", "bf16-autocast", ...), since all of them change the pixels."""
    run = f"{model.device.type}-{model.precision.label}"
    return f"{config_hash(model.config)}-{weights_fingerprint(model)}-{run}"


__all__ = ["config_hash", "model_identity", "weights_fingerprint"]
