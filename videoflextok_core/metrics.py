"""Frame-quality metrics of a reconstruction: PSNR and SSIM on [0, 1] frames.

Legend: B batch, T frames, H/W pixels. Inputs are model tensors in [-1, 1], either [3, T, H, W]
or [B, 3, T, H, W]; they are mapped to [0, 1] with (x + 1) / 2 and clamped, so a data range of
1 is used throughout. Everything is computed in float64 so results do not depend on the dtype or
device of the inputs.

PSNR of identical frames is infinite; it is capped at `PSNR_MAX` = 100 dB (an MSE of 1e-10, far
below one 8-bit step), so curves and tables stay finite and plottable.

SSIM follows Wang et al. 2004 as skimage (`gaussian_weights=True`, `use_sample_covariance=False`)
and pytorch-msssim compute it: an 11-tap Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03,
only positions where the window fits ('valid'), the map averaged per channel, then over the three
channels, then over frames.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

PSNR_MAX = 100.0  # dB; stands for "identical" (MSE <= 1e-10)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2  # (K1 * data range)^2, data range 1
SSIM_C2 = 0.03**2


def _to_unit(x: Tensor) -> Tensor:
    """[3, T, H, W] or [B, 3, T, H, W] in [-1, 1] -> float64 [B, T, 3, H, W] in [0, 1]."""
    if x.ndim == 4:
        x = x[None]
    if x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"expected a video [3, T, H, W] or [B, 3, T, H, W], got {tuple(x.shape)}")
    x = (x.detach().to(torch.float64) + 1) / 2
    return x.clamp(0, 1).transpose(1, 2)  # (B, T, 3, H, W)


def _pair(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    if x.shape != y.shape:
        raise ValueError(f"videos differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    return _to_unit(x), _to_unit(y.to(x.device))


def _psnr_from_mse(mse: Tensor) -> Tensor:
    return (-10 * torch.log10(mse.clamp_min(10 ** (-PSNR_MAX / 10)))).clamp_max(PSNR_MAX)


def psnr(x: Tensor, y: Tensor) -> Tensor:
    """Per-frame PSNR in dB, capped at `PSNR_MAX`: [T] for [3, T, H, W] inputs, else [B, T]."""
    a, b = _pair(x, y)
    mse = (a - b).square().mean(dim=(2, 3, 4))  # (B, T)
    out = _psnr_from_mse(mse)
    return out[0] if x.ndim == 4 else out


def psnr_pooled(x: Tensor, y: Tensor) -> Tensor:
    """PSNR of the MSE over the whole clip (frames, channels, pixels): [] or [B]."""
    a, b = _pair(x, y)
    out = _psnr_from_mse((a - b).square().mean(dim=(1, 2, 3, 4)))  # (B,)
    return out[0] if x.ndim == 4 else out


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: Tensor, g: Tensor) -> Tensor:
    """Separable Gaussian filter, 'valid': [N, 1, H, W] -> [N, 1, H-10, W-10]."""
    x = F.conv2d(x, g.view(1, 1, 1, -1))
    return F.conv2d(x, g.view(1, 1, -1, 1))


def ssim(x: Tensor, y: Tensor) -> Tensor:
    """Per-frame SSIM (mean over the valid map and the 3 channels): [T] or [B, T]."""
    a, b = _pair(x, y)
    B, T, C, H, W = a.shape
    if min(H, W) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {H}x{W}")
    g = _gaussian_window().to(a.device)
    a = a.reshape(B * T * C, 1, H, W)
    b = b.reshape(B * T * C, 1, H, W)
    mu_a, mu_b = _blur(a, g), _blur(b, g)
    var_a = _blur(a * a, g) - mu_a**2  # biased (weighted) moments, as in Wang et al.
    var_b = _blur(b * b, g) - mu_b**2
    cov = _blur(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a**2 + mu_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    out = (num / den).mean(dim=(1, 2, 3)).view(B, T, C).mean(dim=2)  # (B, T)
    return out[0] if x.ndim == 4 else out


@dataclass(frozen=True)
class Metrics:
    """Quality of one reconstructed clip; per-frame lists have one value per frame."""

    psnr_mean: float  # mean of per-frame PSNR (dB, each capped at PSNR_MAX)
    psnr_pooled: float  # PSNR of the clip-wide MSE (dB)
    ssim_mean: float  # mean of per-frame SSIM
    psnr_per_frame: list[float]
    ssim_per_frame: list[float]

    def __str__(self) -> str:
        p, q, s = self.psnr_mean, self.psnr_pooled, self.ssim_mean
        return f"PSNR {p:.2f} dB (pooled {q:.2f} dB), SSIM {s:.4f}"


def compute_metrics(original: Tensor, reconstruction: Tensor) -> Metrics:
    """PSNR and SSIM of one clip, [3, T, H, W] or [1, 3, T, H, W] in [-1, 1]."""
    if original.shape != reconstruction.shape:
        raise ValueError(
            f"videos differ in shape: {tuple(original.shape)} vs {tuple(reconstruction.shape)}"
        )
    if original.ndim == 5:
        if original.shape[0] != 1:
            raise ValueError(f"compute_metrics takes one clip, got a batch of {original.shape[0]}")
        original, reconstruction = original[0], reconstruction[0]
    p, s = psnr(original, reconstruction), ssim(original, reconstruction)
    return Metrics(
        psnr_mean=float(p.mean()),
        psnr_pooled=float(psnr_pooled(original, reconstruction)),
        ssim_mean=float(s.mean()),
        psnr_per_frame=p.tolist(),
        ssim_per_frame=s.tolist(),
    )
