"""What the decoder invents: one token budget decoded with several seeds in ONE batched call,
and the per-pixel spread across them.

    from videoflextok_core.seeds import seed_spread
    result = seed_spread(model, tokens, k=4, sampler=Sampler(steps=25, seed=0), n=4)
    result.videos.shape       # (4, 3, T, H, W): seeds 0, 1, 2, 3
    result.spread.shape       # (T, H, W): std across the seeds, mean over RGB, pixels in [0, 1]
    result.mean               # one number: how much the decoder invents at this k

The decoder is generative: k tokens fix what they carry (layout, colours, motion at small k)
and the flow sampler draws the rest from its noise. Decoding the same tokens from several noises
shows which is which: what stays fixed across seeds comes from the tokens, what changes is
invented. The spread shrinks as k grows (more is fixed by the tokens).

Seed s in the batch decodes exactly the video of a single decode with seed s
(`model.decode_clip(tokens, [k], replace(sampler, seed=s))`, up to float32 rounding of
batched kernels): `detokenize(noise=Noise(seeds=...))` gives each sample its own generator
and global RNG stream.

Legend: n seeds, T frames, H/W pixels, t latent frames, N tokens per latent frame, k budget.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .model import Noise, VideoFlexTok
from .model.sampling import MAX_SEED, Sampler

MIN_SEEDS, MAX_SEEDS = 2, 8  # a spread needs two samples; eight decodes are one batch


@dataclass(frozen=True)
class SeedSpread:
    """One budget decoded with seeds seed..seed+n-1, and the spread across them."""

    k: int
    seeds: tuple[int, ...]
    videos: Tensor  # (n, 3, T, H, W) float32 CPU in [-1, 1], in seed order
    spread: Tensor  # (T, H, W) float32: `pixel_spread(videos)`
    seconds: float  # the batched decode

    @property
    def mean(self) -> float:
        """The mean spread over every pixel and frame (pixel units, [0, 1])."""
        return float(self.spread.mean())


def pixel_spread(videos: Tensor) -> Tensor:
    """(n, 3, T, H, W) in [-1, 1] -> (T, H, W): the standard deviation across the n videos
    (population, in [0, 1] pixel units, so at most 0.5), averaged over the RGB channels."""
    if videos.dim() != 5 or videos.shape[1] != 3 or videos.shape[0] < MIN_SEEDS:
        raise ValueError(
            f"videos must be (n, 3, T, H, W) with n >= {MIN_SEEDS}, got {tuple(videos.shape)}"
        )
    unit = (videos.float().clamp(-1, 1) + 1) / 2
    return unit.std(dim=0, correction=0).mean(dim=0)  # (3, T, H, W) -> (T, H, W)


def check_seeds(n, first_seed: int) -> int:
    """The number of seeds, MIN_SEEDS..MAX_SEEDS, with first_seed + n - 1 a valid seed."""
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_SEEDS <= n <= MAX_SEEDS:
        raise ValueError(f"number of seeds must be an int in {MIN_SEEDS}..{MAX_SEEDS}, got {n!r}")
    if first_seed + n - 1 > MAX_SEED:
        raise ValueError(f"seeds {first_seed}..{first_seed + n - 1} go beyond {MAX_SEED}")
    return n


def seed_spread(
    model: VideoFlexTok,
    tokens: Tensor,
    k: int,
    sampler: Sampler,
    n: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSpread:
    """Decode the first k tokens of every timestep of `tokens` (1, t, N) with the seeds
    sampler.seed .. sampler.seed + n - 1 in one `detokenize` call (a batch of n).

    The caller's global RNG state is left untouched. `progress(done, total)` counts steps.
    """
    n = check_seeds(n, sampler.seed)
    seeds = tuple(range(sampler.seed, sampler.seed + n))
    devices = [model.device] if model.device.type == "cuda" else []
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=devices):  # re-encoding sets the global RNG per sample
        videos = model.detokenize(
            [tokens.to(model.device)] * n,
            sampler,
            keep=[k] * n,
            noise=Noise(seeds=seeds),
            progress=progress,
        )
    videos = torch.cat(videos).float().clamp(-1, 1).cpu()  # (n, 3, T, H, W)
    seconds = time.perf_counter() - t0
    return SeedSpread(k, seeds, videos, pixel_spread(videos), seconds)


__all__ = ["MAX_SEEDS", "MIN_SEEDS", "SeedSpread", "check_seeds", "pixel_spread", "seed_spread"]
