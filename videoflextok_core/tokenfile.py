"""Token files: a clip's token ids in one .safetensors with where they came from.

    from videoflextok_core.tokenfile import read_tokens, save_tokens, token_metadata
    save_tokens(path, tokens, token_metadata(model, ref, info, video.shape[1], tokens))
    tokens, meta = read_tokens(path)                 # (1, t, N) int64, dict of strings
    check_same_model(meta, path.name, "model_config_hash", config_hash(model.config), "config",
                     "this model", "Decode with the model that made the tokens.")

The file holds one tensor, "tokens" (1, t, N) int64, and string metadata: `kind`
("videoflextok-tokens"), the model (`model_ref`, `model_config_hash`,
`model_weights_fingerprint`, `resolution`, `codebook_size`, `bits_per_token`), the clip (`fps`,
`start`, `frames`, `latent_frames`, `tokens_per_frame`, `source`, `video_note`), the precision
(`tokenize_precision`: what the ids were computed in, "fp32" unless the weights are bf16;
`precision`: the model's setting, e.g. "bf16-autocast", what a decode by the writer ran in) and
the writer (`tool_version`, plus whatever `extra` the writer adds, e.g. the app's sampler
settings). The CLI and the app write and read the same format.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where used: `python -m videoflextok_core --help` stays fast
    from torch import Tensor

TOKENS_KIND = "videoflextok-tokens"  # metadata "kind" of a tokens file
VERSION = "0.1.0"  # written as tool_version


class TokenFileError(ValueError):
    """A tokens file that cannot be used; the message says why, for a person."""


def token_metadata(
    model, ref: str, info, num_frames: int, tokens: "Tensor", extra: dict | None = None
) -> dict[str, str]:
    """What a tokens file records about where its tokens came from (all values strings).

    Args:
        model: the `VideoFlexTok` that made `tokens`; ref: how it was loaded (dir, file, Hub id).
        info: the clip's `VideoInfo` (from `read_video` / `media.clip.load_clip`).
        num_frames: frames the tokens encode (T); tokens: (1, t, N) ids.
        extra: more entries, e.g. {"k": 16, "timesteps": 25}; values are turned into strings.
    """
    from .model.identity import config_hash, weights_fingerprint

    H, W = model.resolution
    ref_path = Path(ref)
    meta = {
        "kind": TOKENS_KIND,
        "model_ref": str(ref_path.resolve()) if ref_path.exists() else str(ref),
        "model_config_hash": config_hash(model.config),
        "model_weights_fingerprint": weights_fingerprint(model),
        "resolution": f"{H}x{W}",
        "fps": f"{info.target_fps:g}",
        "start": f"{info.start:g}",
        "frames": str(num_frames),
        "latent_frames": str(tokens.shape[1]),
        "tokens_per_frame": str(tokens.shape[2]),
        "codebook_size": str(model.codebook_size),
        "bits_per_token": f"{math.log2(model.codebook_size):.4f}",
        "tokenized_from": "VAE posterior mean (deterministic)",
        "tokenize_precision": model.precision.tokenize_runs,
        "precision": model.precision.label,
        "source": str(Path(info.path).resolve()),
        "video_note": info.note,
        "tool_version": VERSION,
    }
    meta.update({str(k): str(v) for k, v in (extra or {}).items()})
    return meta


def save_tokens(path: str | Path, tokens: "Tensor", metadata: dict[str, str]) -> Path:
    """Write tokens (1, t, N) and their metadata; creates the parent directory."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"tokens": tokens.contiguous()}, str(path), metadata=metadata)
    return path


def read_tokens(path: str | Path) -> tuple["Tensor", dict[str, str]]:
    """-> (tokens (1, t, n) int64, metadata dict); `TokenFileError` for anything else."""
    import torch
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.is_file():
        raise TokenFileError(f"{p}: no such tokens file")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            if "tokens" not in f.keys():
                raise TokenFileError(
                    f"{p.name}: holds no 'tokens' tensor (found {sorted(f.keys())})"
                )
            tokens = f.get_tensor("tokens")
    except (SafetensorError, OSError) as e:
        raise TokenFileError(f"{p.name}: not a safetensors tokens file ({e})") from None
    if tokens.dim() != 3 or tokens.shape[0] != 1 or tokens.is_floating_point():
        raise TokenFileError(
            f"{p.name}: 'tokens' must be integer ids (1, t, n), got {tokens.dtype} "
            f"{tuple(tokens.shape)}"
        )
    return tokens.to(torch.int64), meta


def check_same_model(
    meta: dict, name: str, key: str, ours: str, what: str, model: str, advice: str
) -> None:
    """Refuse tokens whose metadata `key` (e.g. "model_config_hash") differs from `ours`.

    Args:
        name: the file's name, for the message; what: "config" or "weights".
        model: how the message names the model in use, e.g. "--model tiny".
        advice: the message's last sentence: what the user can do.
    """
    theirs = meta.get(key)
    if theirs is not None and theirs != ours:
        made_with = meta.get("model_ref", "another model")
        raise TokenFileError(
            f"{name} was made with a different model ({made_with}, {what} {theirs}); "
            f"{model} has {what} {ours}. {advice}"
        )


__all__ = [
    "TOKENS_KIND",
    "TokenFileError",
    "check_same_model",
    "read_tokens",
    "save_tokens",
    "token_metadata",
]
