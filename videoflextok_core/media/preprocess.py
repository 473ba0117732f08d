"""The official preprocessing of picked frames (`read_mp4`, steps 4-7 in the reference notes,
../shared/reference/ARCHITECTURE.md §14): /255, bicubic antialiased resize of the shorter side
to S, clamp, centre crop S x S, map to [-1, 1].

Legend: T frames, H/W source pixels, S = `size`, the model side.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def output_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    """`size` (S or (H, W)) -> output (H, W)."""
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    return h, w


def preprocess(frames: np.ndarray | Tensor, size: int | tuple[int, int] = 256) -> Tensor:
    """The official preprocessing (the module docstring) of a batch of RGB frames.

    Args:
        frames: uint8 [T, H, W, 3].
        size: side S of a square output (the official rule: shorter side to S, longer side to
            int(S * long / short), centre crop), or (H_out, W_out) for a non-square model: the
            frame is scaled to cover H_out x W_out, then centre-cropped.

    Returns:
        float32 [3, T, H_out, W_out] in [-1, 1].
    """
    u8 = torch.as_tensor(frames)
    if u8.dtype != torch.uint8 or u8.ndim != 4 or u8.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [T, H, W, 3], got {u8.dtype} {tuple(u8.shape)}")
    T, h, w, _ = u8.shape
    x = torch.empty(T, 3, h, w).copy_(u8.permute(0, 3, 1, 2)).div_(255)  # (T, 3, H, W)
    out_h, out_w = output_hw(size)
    if out_h == out_w:
        short, long = min(h, w), max(h, w)
        new_long = int(out_h * long / short)  # torchvision's rule for an int size
        new_hw = (out_h, new_long) if h <= w else (new_long, out_h)
    else:
        scale = max(out_h / h, out_w / w)
        new_hw = (max(out_h, round(h * scale)), max(out_w, round(w * scale)))
    if new_hw != (h, w):  # torchvision returns the input unchanged when the size matches
        x = F.interpolate(x, size=new_hw, mode="bicubic", align_corners=False, antialias=True)
    x = x.clamp_(0, 1)
    top = int(round((new_hw[0] - out_h) / 2))
    left = int(round((new_hw[1] - out_w) / 2))
    x = x[:, :, top : top + out_h, left : left + out_w]  # (T, 3, H_out, W_out)
    return ((x - 0.5) / 0.5).permute(1, 0, 2, 3).contiguous()  # (3, T, H_out, W_out)


__all__ = ["output_hw", "preprocess"]
