"""Procedural video clips, deterministic from a seed, for training, tests and demos.

Real footage cannot be used to train the demo model, so this module draws structured synthetic
scenes whose content spans coarse to fine: layout, colours and motion (what the first tokens of a
VideoFlexTok sequence should capture), then thin stripes, dots, outlines and text-like marks (what
the last tokens add).

A scene is sampled once from `numpy.random.default_rng(seed)` (split into one stream per part:
background, objects, details, camera, lighting) into a frozen `SceneSpec` written in world
coordinates: the first frame spans [-1, 1] on both axes, y points down, time is in seconds.
It is then rendered at any size, frame count and frame rate, so the same seed gives the same scene
at 64 px and 128 px, and a 17-frame clip is the first 17 frames of the 33-frame one.

Drawing is `synthetic.render.render`: numpy, analytically anti-aliased, the same bytes for a seed
in every run and process.

Legend: T frames, H = W = size pixels. Clips are (T, H, W, 3) uint8; the tensors the tokenizer
takes are (3, T, H, W) float32 in [-1, 1].

Example:
    >>> clip = make_clip(7)                       # (17, 64, 64, 3) uint8
    >>> batch = make_batch(range(4), 17, 128)     # (4, 3, 17, 128, 128) float32 in [-1, 1]
    >>> print(sample_scene(7).describe())
"""

from collections.abc import Iterable

import numpy as np
import torch

from .render import render
from .sample import sample_scene
from .scene import Background, Camera, Dots, Lighting, ObjectSpec, SceneSpec, Text


def make_clip(
    seed: int, num_frames: int = 17, size: int = 64, fps: float = 8.0, *, difficulty: float = 0.5
) -> np.ndarray:
    """The clip of `seed`: (num_frames, size, size, 3) uint8, the same bytes on every call."""
    return render(sample_scene(seed, difficulty), num_frames, size, fps)


def _signed(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float32 in [-1, 1]. numpy, not torch: torch's threaded
    kernels stall for milliseconds when other processes hold the cores."""
    x = clip.transpose(3, 0, 1, 2).astype(np.float32, order="C")
    x /= 127.5
    x -= 1.0
    return x


def make_clip_tensor(
    seed: int, num_frames: int = 17, size: int = 64, fps: float = 8.0, *, difficulty: float = 0.5
) -> torch.Tensor:
    """The clip of `seed` as the tokenizer takes it: (3, T, size, size) float32 in [-1, 1]."""
    return torch.from_numpy(_signed(make_clip(seed, num_frames, size, fps, difficulty=difficulty)))


def make_batch(
    seeds: Iterable[int],
    num_frames: int = 17,
    size: int = 64,
    fps: float = 8.0,
    *,
    difficulty: float = 0.5,
) -> torch.Tensor:
    """Clips of several seeds: (B, 3, T, size, size) float32 in [-1, 1]."""
    clips = [_signed(make_clip(s, num_frames, size, fps, difficulty=difficulty)) for s in seeds]
    if not clips:
        raise ValueError("seeds is empty")
    return torch.from_numpy(np.stack(clips))


__all__ = [
    "Background",
    "Camera",
    "Dots",
    "Lighting",
    "ObjectSpec",
    "SceneSpec",
    "Text",
    "make_batch",
    "make_clip",
    "make_clip_tensor",
    "render",
    "sample_scene",
]
