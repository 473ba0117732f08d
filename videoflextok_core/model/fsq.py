"""Finite Scalar Quantization (Mentzer et al., 2023, arXiv 2309.15505).

Each of the d = len(levels) channels of a latent is squashed by tanh into [-(L-1)/2, (L-1)/2] and
rounded to one of L integer levels; the digits form a mixed-radix number, the token id. Channel 0
is the least significant digit. Everything here runs in float32 (fp32 like upstream), whatever the
autocast state; float64 inputs stay float64 (for float64 reference runs).

Shapes: (..., d) values in [-1, 1] <-> (...) int64 ids in [0, prod(levels)).
"""

import math

import torch
from torch import nn


def _at_least_fp32(z: torch.Tensor) -> torch.Tensor:
    return z.to(torch.promote_types(z.dtype, torch.float32))


class FSQ(nn.Module):
    """FSQ codes <-> ids. Port of `videoflextok.regularizers.quantize_fsq.FSQ` (inference part).

    Derived constants are non-persistent buffers, so the module has no state-dict entries.
    """

    def __init__(self, levels: list[int]):
        super().__init__()
        if not levels or any(int(L) < 2 for L in levels):
            raise ValueError(f"FSQ levels must be integers >= 2, got {levels}")
        self.levels_list = [int(L) for L in levels]
        levels_t = torch.tensor(self.levels_list, dtype=torch.int32)
        basis = torch.cumprod(torch.tensor([1] + self.levels_list[:-1]), dim=0).to(torch.int32)
        self.register_buffer("levels", levels_t, persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.dim = len(levels)
        self.codebook_size = math.prod(self.levels_list)

    def bound(self, z: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        """Squash z (..., d) into (-(L-1)/2, (L-1)/2) per channel, shifted for even L."""
        half_l = (self.levels - 1).to(z.dtype) * (1 + eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0).to(z.dtype)
        shift = (offset / half_l).atanh()
        return (z + shift).tanh() * half_l - offset

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(..., d) float latents -> (..., d) float32 (or float64) codes in [-1, 1]."""
        with torch.autocast(z.device.type, enabled=False):
            return self.bound(_at_least_fp32(z)).round() / (self.levels // 2)

    def quantize_ste(self, z: torch.Tensor) -> torch.Tensor:
        """Training: `quantize` with a straight-through gradient (through the tanh bound)."""
        with torch.autocast(z.device.type, enabled=False):
            bounded = self.bound(_at_least_fp32(z))
            rounded = bounded + (bounded.round() - bounded).detach()
            return rounded / (self.levels // 2)

    def codes_to_ids(self, codes: torch.Tensor) -> torch.Tensor:
        """(..., d) codes in [-1, 1] -> (...) int64 ids."""
        half = self.levels // 2
        digits = codes * half + half
        return (digits * self.basis).sum(dim=-1).to(torch.int32).long()

    def ids_to_codes(self, ids: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(...) integer ids -> (..., d) codes in [-1, 1] (float32 unless `dtype` says)."""
        digits = (ids.unsqueeze(-1) // self.basis) % self.levels
        half = self.levels // 2
        return (digits - half).to(dtype) / half

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., d) latents -> ((..., d) float32 codes, (...) int64 ids)."""
        if z.shape[-1] != self.dim:
            raise ValueError(f"FSQ expects {self.dim} channels, got shape {tuple(z.shape)}")
        codes = self.quantize(z)
        # Upstream quantizes clip by clip and draws each clip's quantisation-dropout mask (with
        # probability 0 at inference) from the global RNG of the tensor's device. The values are
        # unused, but we make the same draws so that seeded runs stay in step with upstream.
        for _ in range(z.shape[0] if z.dim() > 1 else 1):
            torch.bernoulli(torch.zeros(1, device=z.device))
        return codes, self.codes_to_ids(codes)
