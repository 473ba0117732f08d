"""A video file read as a model's input: its resolution, frame rate and chunking.

    from videoflextok_core.media.clip import load_clip
    video, info = load_clip("clip.mp4", model)   # (3, T, H, W) in [-1, 1], T = 1 + 16K

Legend: T frames, H/W the model's pixels.
"""

import os

from torch import Tensor

from .read import DEFAULT_MAX_FRAMES, VideoInfo, read_video


def load_clip(
    path: str | os.PathLike,
    model,
    fps: float | None = None,
    start: float = 0.0,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> tuple[Tensor, VideoInfo]:
    """Read a video file as the model's input: (3, T, H, W) in [-1, 1] and its `VideoInfo`.

    model: a `VideoFlexTok` or its `ModelConfig` (read: resolution, fps, chunking). Square
    models get the official preprocessing; a non-square one (the tiny test model) gets frames
    scaled to cover H x W and centre-cropped. fps: default the model's training rate. T is a
    whole number of the model's chunks (`Chunking.frames_at_most`: 1 + 16K for chunk 17,
    overlap 1; 9K for chunk 9 without overlap).
    """
    config = getattr(model, "config", model)
    H, W = config.resolution
    fps = config.fps if fps is None else fps
    size = H if H == W else (H, W)
    return read_video(path, fps, size, start, max_frames, config.chunking)


__all__ = ["load_clip"]
