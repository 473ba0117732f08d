"""Writing video with PyAV: an H.264 mp4 that browsers play (`write_video`).

Legend: T frames, H/W pixels.
"""

import math
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from torch import Tensor

from .read import MAX_TARGET_FPS


def to_uint8_frames(video: np.ndarray | Tensor) -> np.ndarray:
    """uint8 [T, H, W, 3] from uint8 [T, H, W, 3] (numpy or torch) or a float [3, T, H, W] /
    [1, 3, T, H, W] in [-1, 1] (clamped, rounded)."""
    if isinstance(video, Tensor) and video.dtype == torch.uint8:
        video = video.detach().cpu().numpy()
    if isinstance(video, np.ndarray) and video.dtype == np.uint8:
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames [T, H, W, 3], got {video.shape}")
        return video
    x = torch.as_tensor(video).detach()
    if x.ndim == 5 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 4 or x.shape[0] != 3 or not x.is_floating_point():
        raise ValueError(
            "expected uint8 [T, H, W, 3] or float [3, T, H, W] / [1, 3, T, H, W] in [-1, 1], "
            f"got {x.dtype} {tuple(x.shape)}"
        )
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).cpu().numpy()  # (T, H, W, 3)


def write_video(
    frames: np.ndarray | Tensor, path: str | os.PathLike, fps: float, crf: int = 18
) -> Path:
    """Write an H.264 mp4 that plays in Chromium and Safari.

    libx264, yuv420p, Main profile (x264 picks the smallest level that fits), BT.709 tags,
    `+faststart` (index before the data, so a browser starts playing before the download ends).
    Odd sizes are padded to even by repeating the last row / column (yuv420p needs even sides).

    Args:
        frames: uint8 [T, H, W, 3], or float [3, T, H, W] / [1, 3, T, H, W] in [-1, 1].
        path: output file; the `.mp4` container is used whatever the suffix.
        fps: frame rate.
        crf: x264 quality, 0 (lossless) .. 51; 18 is visually near-lossless.
    """
    x = to_uint8_frames(frames)
    if x.shape[0] == 0:
        raise ValueError("cannot write a video with no frames")
    if not (math.isfinite(fps) and 0 < fps <= MAX_TARGET_FPS):
        raise ValueError(f"fps must be in (0, {MAX_TARGET_FPS:g}], got {fps}")
    t, h, w, _ = x.shape
    if h % 2 or w % 2:
        x = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    path = Path(path)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(10_000))
        stream.width, stream.height = x.shape[2], x.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "profile": "main", "preset": "medium"}
        cc = stream.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1  # BT.709, tv
        for frame in x:
            f = av.VideoFrame.from_ndarray(frame, format="rgb24")
            f = f.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


__all__ = ["to_uint8_frames", "write_video"]
