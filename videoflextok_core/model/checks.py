"""Input checks of `VideoFlexTok.tokenize` / `detokenize`: a ValueError that says what was
expected and what came, before any work. Plain tensors in, checked tensors out (on their own
device and dtype; the model moves them).

Legend: B batch, T frames, H/W pixels, t token frames, n / N tokens per frame (given / the
model's), k conditioning frames, z/h/w the VAE latent grid.
"""

from collections.abc import Sequence

import torch

from .chunking import Chunking


def check_video(video, resolution: tuple[int, int], chunking: Chunking) -> torch.Tensor:
    """A video to tokenize: (B, 3, T, H, W) float in [-1, 1], T a whole number of chunks."""
    if not isinstance(video, torch.Tensor):
        raise ValueError(f"video must be a torch.Tensor, got {type(video).__name__}")
    if video.dim() == 4:
        raise ValueError(
            f"video must be (B, 3, T, H, W); got {tuple(video.shape)} - add a batch axis "
            "with video[None]"
        )
    if video.dim() != 5 or video.shape[1] != 3:
        raise ValueError(f"video must be (B, 3, T, H, W), got {tuple(video.shape)}")
    if not video.is_floating_point():
        raise ValueError(f"video must be a float tensor in [-1, 1], got {video.dtype}")
    H, W = resolution
    if tuple(video.shape[3:]) != (H, W):
        raise ValueError(
            f"this model works on {H}x{W} frames, got {video.shape[3]}x{video.shape[4]} "
            f"(read_video(..., size={H}) resizes and crops)"
        )
    T, c = video.shape[2], chunking
    if not c.is_valid(T):
        first = [c.valid_frames(n) for n in (1, 2, 3)]
        raise ValueError(
            f"{T} frames cannot be split into {c.chunk}-frame chunks with overlap "
            f"{c.overlap}; use {first[0]}, {first[1]}, {first[2]}, ... frames"
        )
    if not bool(torch.isfinite(video).all()):
        raise ValueError("video contains NaN or infinite values")
    lo, hi = float(video.min()), float(video.max())
    if lo < -1.05 or hi > 1.05:
        hint = " (it looks like 0..255 pixel values)" if hi > 2 else ""
        raise ValueError(f"video values must be in [-1, 1], got [{lo:.3g}, {hi:.3g}]{hint}")
    return video


def check_tokens(
    token_ids_list,
    keep,
    *,
    n_registers: int,
    codebook_size: int,
    chunking: Chunking,
    can_drop_tokens: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """B token tensors (1, t, n) and `num_keep_tokens_list` -> ids (B, t, N) int64 padded to
    full width, keep_k (B,) int64 (a narrower tensor keeps its width n)."""
    if isinstance(token_ids_list, torch.Tensor):
        raise ValueError("token_ids_list must be a list of (1, t, n) tensors, one per video")
    if not isinstance(token_ids_list, Sequence) or len(token_ids_list) == 0:
        raise ValueError("token_ids_list must be a non-empty list of (1, t, n) tensors")
    N, c = n_registers, chunking
    padded, widths = [], []
    for i, ids in enumerate(token_ids_list):
        if not isinstance(ids, torch.Tensor):
            raise ValueError(f"token_ids_list[{i}] is a {type(ids).__name__}, not a tensor")
        if ids.dim() != 3 or ids.shape[0] != 1:
            raise ValueError(f"token_ids_list[{i}] must be (1, t, n), got {tuple(ids.shape)}")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise ValueError(f"token_ids_list[{i}] must hold integer ids, got {ids.dtype}")
        n = ids.shape[2]
        if not 1 <= n <= N:
            raise ValueError(f"token_ids_list[{i}] has {n} tokens per frame; expected 1..{N}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= codebook_size):
            raise ValueError(
                f"token_ids_list[{i}] has ids outside [0, {codebook_size - 1}] "
                f"(min {int(ids.min())}, max {int(ids.max())})"
            )
        ids = ids.long()
        if n < N:  # model-card slicing: the missing ids are masked by nested dropout
            ids = torch.cat([ids, ids.new_zeros(1, ids.shape[1], N - n)], dim=2)
        padded.append(ids)
        widths.append(n)
    t = padded[0].shape[1]
    if any(p.shape[1] != t for p in padded):
        raise ValueError(
            f"all token tensors need the same length, got {[p.shape[1] for p in padded]}"
        )
    nc = c.num_chunks_for_tokens(t)
    if nc < 1 or c.valid_token_frames(nc) != t:
        ok = [c.valid_token_frames(n) for n in (1, 2, 3)]
        raise ValueError(f"{t} token frames is not a whole number of chunks; use {ok}, ...")
    B = len(padded)
    if not can_drop_tokens and (keep is not None or min(widths) < N):
        raise ValueError(
            f"this model has no nested dropout ('dec_nested_dropout'), so it cannot decode "
            f"fewer than {N} tokens per frame; pass full-width tokens without "
            "keep (num_keep_tokens_list)"
        )
    if keep is None:
        keep = widths
    else:
        if isinstance(keep, (int, torch.Tensor)) or len(keep) != B:
            raise ValueError(f"keep (num_keep_tokens_list) must be a list of {B} ints")
        for k in keep:
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= N:
                raise ValueError(f"keep values must be ints in 1..{N}, got {k!r}")
        keep = [min(k, n) for k, n in zip(keep, widths)]
    return torch.cat(padded), torch.tensor(keep, dtype=torch.long)


def check_frames(
    frames, B: int, resolution: tuple[int, int], chunking: Chunking
) -> torch.Tensor | None:
    """`conditioning_frames` -> (B, 3, k, H, W) with k = 1 + 4m <= chunk, or None."""
    name = "conditioning_frames"
    if frames is None:
        return None
    if not isinstance(frames, torch.Tensor):
        if not isinstance(frames, Sequence) or len(frames) != B:
            raise ValueError(f"{name} must be a (B, 3, k, H, W) tensor or a list of {B}")
        for f in frames:
            if not isinstance(f, torch.Tensor) or f.dim() != 5 or f.shape[0] != 1:
                raise ValueError(f"{name} list entries must be (1, 3, k, H, W) tensors")
        frames = torch.cat(list(frames))
    H, W = resolution
    if (
        frames.dim() != 5
        or frames.shape[0] != B
        or frames.shape[1] != 3
        or tuple(frames.shape[3:]) != (H, W)
    ):
        raise ValueError(f"{name} must be ({B}, 3, k, {H}, {W}), got {tuple(frames.shape)}")
    k, tdf = frames.shape[2], chunking.time_factor
    if (k - 1) % tdf or k > chunking.chunk:
        raise ValueError(f"{name} must have 1 + {tdf}m frames, at most {chunking.chunk}")
    if not bool(torch.isfinite(frames).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return frames


def check_noise(noise, shape: tuple[int, ...]) -> torch.Tensor | None:
    """`noise_list` -> the first chunk's noise (B, z, t, h, w) = `shape`, or None."""
    if noise is None:
        return None
    B = shape[0]
    if not isinstance(noise, torch.Tensor):
        if not isinstance(noise, Sequence) or len(noise) != B:
            raise ValueError(f"noise_list must hold {B} tensors (1, z, t, h, w)")
        if not all(isinstance(n, torch.Tensor) for n in noise):
            raise ValueError("noise_list entries must be (1, z, t, h, w) tensors")
        noise = torch.cat([n.to(noise[0].device) for n in noise])
    if tuple(noise.shape) != tuple(shape):
        raise ValueError(f"noise_list must be {tuple(shape)}, got {tuple(noise.shape)}")
    if not bool(torch.isfinite(noise).all()):
        raise ValueError("noise_list contains NaN or infinite values")
    return noise
