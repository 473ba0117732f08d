"""The training clips of the demo model: a fixed mixture of three generators, indexed.

Sample i of a stage is a pure function of (stage seed base, i): which generator draws it, its
seed, and its augmentation (a horizontal flip). A stage's data position is therefore one
integer, the number of samples drawn so far, and a resumed stage sees exactly the clips an
uninterrupted one would have.

Generators:
* procedural: `synthetic.make_clip`, the scenes the app's procedural examples come from (shapes,
  stripes, text-like marks), at a random difficulty;
* natural: `synthetic.natural.natural_clip` without photos (dead leaves, 1/f noise, gradients);
* photo: `natural_clip` over the pip-wheel photographs of training/photos.py.

Seeds live in ranges of their own, far from the held-out evaluation seeds (config.EVAL_SEED_BASE).
Legend: B clips, T frames; batches are (B, 3, T, size, size) float32 in [-1, 1].
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from synthetic import make_clip
from synthetic.natural import natural_clip

PROCEDURAL, NATURAL, PHOTO = "procedural", "natural", "photo"
SEED_OFFSETS = {PROCEDURAL: 3_000_000, NATURAL: 40_000_000, PHOTO: 80_000_000}


@dataclass(frozen=True)
class Mixture:
    """How often each generator draws a sample (weights are normalised)."""

    procedural: float = 0.35
    natural: float = 0.30
    photo: float = 0.35

    def probabilities(self, with_photos: bool) -> np.ndarray:
        w = np.array([self.procedural, self.natural, self.photo if with_photos else 0.0])
        return w / w.sum()


class TrainingClips:
    """Clip i of a stream: `clip(i, frames, size)` -> (T, H, W, 3) uint8; `batch(start, count,
    ...)` -> (count, 3, T, H, W) float32 in [-1, 1], samples start .. start + count - 1.

    base: the stream's seed base (one per stage, so stages see different clips).
    photos: (H, W, 3) float32 photographs; without any, the photo share goes to the others.
    """

    def __init__(self, base: int, photos: Sequence[np.ndarray], mixture: Mixture = Mixture()):
        self.base = base
        self.photos = list(photos)
        self.p = mixture.probabilities(bool(self.photos))

    def source(self, i: int) -> tuple[str, int, np.random.Generator]:
        rng = np.random.default_rng([self.base, i])
        kind = (PROCEDURAL, NATURAL, PHOTO)[rng.choice(3, p=self.p)]
        return kind, SEED_OFFSETS[kind] + self.base * 1_000_000 + i, rng

    def clip(self, i: int, frames: int, size: int, fps: float = 8.0) -> np.ndarray:
        kind, seed, rng = self.source(i)
        if kind == PROCEDURAL:
            u8 = make_clip(seed, frames, size, fps, difficulty=float(rng.uniform(0.3, 0.9)))
        else:
            u8 = natural_clip(seed, frames, size, fps, photos=self.photos if kind == PHOTO else ())
        if rng.uniform() < 0.5:
            u8 = u8[:, :, ::-1]
        return u8

    def batch(self, start: int, count: int, frames: int, size: int) -> torch.Tensor:
        u8 = np.stack([self.clip(i, frames, size) for i in range(start, start + count)])
        x = torch.from_numpy(u8).permute(0, 4, 1, 2, 3).float()  # (B, 3, T, H, W)
        return x.div_(127.5).sub_(1.0)
