"""Where a decode's random numbers come from (`Noise`), and the per-sample random streams that
make a batched decode equal to single decodes.

A decode draws two kinds of random numbers: the initial noise of every chunk, (1, z, t, h, w)
per sample, from a `torch.Generator`; and, when chunks overlap, the VAE posterior and FSQ draws
that re-encode the decoded overlap frames of the chunk before, from the global torch RNG (as
upstream). `Noise` says where both come from:

    Noise()                          the global torch RNG, per sample in batch order (upstream)
    Noise(generator=g)               g, per sample in batch order (upstream's `generator`)
    Noise(generator=g, shared=True)  every sample draws what a single-sample call would draw:
                                     B budgets decoded together equal each decoded alone
    Noise(given=x, generator=g)      x (B, z, t, h, w) is the first chunk's noise (upstream's
                                     `noise_list`); later chunks draw from g
    Noise(seeds=(s0, s1, ...))       sample b decodes as a single-sample call with
                                     `Generator().manual_seed(s_b)` after `torch.manual_seed(s_b)`

Legend: B batch, z latent channels, t/h/w latent grid.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .sampling import MAX_SEED


@dataclass(frozen=True)
class Noise:
    """Where a decode's random numbers come from (see the module docstring); checked once."""

    generator: torch.Generator | None = None  # initial noise; None: the global torch RNG
    given: torch.Tensor | Sequence[torch.Tensor] | None = None  # the first chunk's noise
    shared: bool = False  # every sample the draws of a single-sample call (`generator`'s)
    seeds: tuple[int, ...] | None = None  # one seed per sample, instead of all the above

    def __post_init__(self):
        if not isinstance(self.shared, bool):
            raise ValueError(f"shared must be True or False, got {self.shared!r}")
        if self.seeds is None:
            return
        if self.generator is not None or self.given is not None or self.shared:
            raise ValueError("give seeds, or a generator / given noise / shared, not both")
        seeds = self.seeds
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
            raise ValueError(f"seeds must be a sequence of ints, got {seeds!r}")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
                raise ValueError(f"seeds must be ints in 0..{MAX_SEED}, got {s!r}")
        object.__setattr__(self, "seeds", tuple(seeds))


class SeedStreams:
    """The random streams of B samples decoded as if each were alone (`Noise(seeds=...)`): one
    noise generator and one global RNG state (for re-encoding) per sample."""

    def __init__(self, seeds: Sequence[int], batch: int, device: torch.device):
        if len(seeds) != batch:
            raise ValueError(f"seeds must hold one seed per sample ({batch}), got {len(seeds)}")
        self.states = []  # B (CPU state, CUDA state or None), updated as samples draw
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            for s in seeds:
                torch.manual_seed(s)
                self.states.append(rng_state(device))
        self.generators = [torch.Generator(device).manual_seed(s) for s in seeds]


def rng_state(device: torch.device) -> tuple:
    """The global torch RNG state: (CPU, the device's CUDA state or None)."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def set_rng_state(state: tuple, device: torch.device) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)


__all__ = ["Noise", "SeedStreams", "rng_state", "set_rng_state"]
