"""Token files: a clip's token ids in one .safetensors with where they came from.

    from videoflextok_core.tokenfile import read_tokens, save_tokens, token_metadata
    save_tokens(path, tokens, token_metadata(model, ref, info, video.shape[1], tokens))
    tokens, meta = read_tokens(path)                 # (1, t, N) int64, dict of strings
    read_tokens(upload, limits=TokenLimits(max_timesteps=40, max_tokens_per_frame=256))
    check_same_model(meta, path.name, "model_config_hash", config_hash(model.config), "config",
                     "this model", "Decode with the model that made the tokens.")

The file holds one tensor, "tokens" (1, t, N) int64, and string metadata: `kind`
("videoflextok-tokens"), the model (`model_ref`, `model_config_hash`,
`model_weights_fingerprint`, `resolution`, `codebook_size`, `bits_per_token`), the clip (`fps`,
`start`, `frames`, `latent_frames`, `tokens_per_frame`, `source`, `video_note`), the precision
(`tokenize_precision`: what the ids were computed in, "fp32" unless the weights are bf16;
`precision`: the model's setting, e.g. "bf16-autocast", what a decode by the writer ran in) and
the writer (`tool_version`, plus whatever `extra` the writer adds, e.g. the app's sampler
settings). The CLI and the app write and read the same format. Paths are recorded by name only
(`model_ref`: a local checkpoint's folder or file name, or the Hub id; `source`: the video's
file name), so a file shared from a server does not reveal its layout.

A server reading uploads passes `TokenLimits`: the file's size and its tensor's shape are checked
against them before any tensor is read, so one upload cannot hold the model for hours.
"""

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where used: `python -m videoflextok_core --help` stays fast
    from torch import Tensor

TOKENS_KIND = "videoflextok-tokens"  # metadata "kind" of a tokens file
VERSION = "0.1.0"  # written as tool_version


class TokenFileError(ValueError):
    """A tokens file that cannot be used; the message says why, for a person."""


@dataclass(frozen=True)
class TokenLimits:
    """What a reader accepts: at most `max_timesteps` latent frames of at most
    `max_tokens_per_frame` ids, in a file of at most `max_bytes` (default: the int64 tensor at
    those limits plus `METADATA_BYTES` for the header)."""

    max_timesteps: int
    max_tokens_per_frame: int
    max_bytes: int | None = None

    @property
    def file_bytes(self) -> int:
        if self.max_bytes is not None:
            return self.max_bytes
        return self.max_timesteps * self.max_tokens_per_frame * 8 + METADATA_BYTES


METADATA_BYTES = 64 * 1024  # header + string metadata allowance of a tokens file


def _name(ref: str | os.PathLike) -> str:
    """A path's last part (a local file or folder), else `ref` as it is (a Hub id)."""
    path = Path(ref)
    return path.resolve().name if path.exists() else str(ref)


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
    meta = {
        "kind": TOKENS_KIND,
        "model_ref": _name(ref),
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
        "source": Path(info.path).name,
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


def read_tokens(
    path: str | Path, limits: TokenLimits | None = None
) -> tuple["Tensor", dict[str, str]]:
    """-> (tokens (1, t, n) int64, metadata dict); `TokenFileError` for anything else,
    including a file or tensor over `limits` (checked before the tensor is read)."""
    import torch
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.is_file():
        raise TokenFileError(f"{p}: no such tokens file")
    size = p.stat().st_size
    if limits is not None and size > limits.file_bytes:
        raise TokenFileError(
            f"{p.name} is {size:,} bytes; tokens files here are at most {limits.file_bytes:,} "
            f"bytes ({limits.max_timesteps} timesteps x {limits.max_tokens_per_frame} tokens)"
        )
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            if "tokens" not in f.keys():
                raise TokenFileError(
                    f"{p.name}: holds no 'tokens' tensor (found {sorted(f.keys())})"
                )
            if limits is not None:
                _check_shape(p.name, f.get_slice("tokens").get_shape(), limits)
            tokens = f.get_tensor("tokens")
    except (SafetensorError, OSError) as e:
        raise TokenFileError(f"{p.name}: not a safetensors tokens file ({e})") from None
    if tokens.dim() != 3 or tokens.shape[0] != 1 or tokens.is_floating_point():
        raise TokenFileError(
            f"{p.name}: 'tokens' must be integer ids (1, t, n), got {tokens.dtype} "
            f"{tuple(tokens.shape)}"
        )
    return tokens.to(torch.int64), meta


def _check_shape(name: str, shape: list[int], limits: TokenLimits) -> None:
    if len(shape) != 3:
        return  # read_tokens says what the shape must be
    t, n = shape[1], shape[2]
    if t > limits.max_timesteps:
        raise TokenFileError(
            f"{name} holds {t} timesteps; this app decodes at most {limits.max_timesteps} "
            f"(its longest clip). Decode longer token files with the CLI: "
            f"python -m videoflextok_core detokenize"
        )
    if n > limits.max_tokens_per_frame:
        raise TokenFileError(
            f"{name} has {n} tokens per timestep; this model has {limits.max_tokens_per_frame}"
        )


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
    "TokenLimits",
    "check_same_model",
    "read_tokens",
    "save_tokens",
    "token_metadata",
]
