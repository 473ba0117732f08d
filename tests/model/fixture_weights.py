"""Deterministic random weights for test fixtures, keyed by the OFFICIAL state-dict names.

Variant fixtures (tests/model/fixtures/variants) store only a config and golden outputs; the
weights are re-made here from (name, shape) with a seed, so the official code and our port see
identical tensors without committing weight files. Values follow the spirit of the shared tiny
fixture: every tensor non-trivial (no zero-init heads), LayerNorm weights near 1, small biases.
"""

import hashlib
import math

import torch


def _seed(name: str, seed: int) -> int:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def fixture_tensor(name: str, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """One float32 tensor for parameter `name` of `shape`, independent of every other key."""
    g = torch.Generator().manual_seed(_seed(name, seed))
    x = torch.randn(tuple(shape), generator=g, dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "mix_factor":
        return 2.0 + 0.5 * x
    if ".norm" in name and leaf == "weight" and len(shape) == 1:
        return 1.0 + 0.1 * x
    if leaf == "bias":
        return 0.1 * x
    if len(shape) >= 2 and leaf == "weight":
        fan_in = math.prod(shape[1:])
        scale = 0.5 if "adaLN_modulation" in name else 1.0
        return scale * x / math.sqrt(fan_in)
    return 0.5 * x  # registers, posembs, mask tokens, null condition, logvar-free tensors


def fixture_state_dict(
    shapes: dict[str, tuple[int, ...]], seed: int = 0
) -> dict[str, torch.Tensor]:
    """{official key: shape} -> {official key: tensor} (fixed sincos tables get random values
    too: both implementations load whatever the checkpoint holds)."""
    out = {name: fixture_tensor(name, shape, seed) for name, shape in sorted(shapes.items())}
    for name in out:
        # VidTok's posterior log-variance channels: keep the std small (about 0.14) as in the
        # shared tiny fixture, so sampled tokens stay close to the mean ones.
        if name.endswith("vae.vidtok.encoder.conv_out.conv.bias"):
            half = out[name].shape[0] // 2
            out[name][half:] = -4.0
    return out
