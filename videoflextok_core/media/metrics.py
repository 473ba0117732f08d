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
from torch import Tensor

PSNR_MAX = 100.0  # dB; stands for "identical" (MSE <= 1e-10)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2  # (K1 * data range)^2, data range 1
SSIM_C2 = 0.03**2


FRAMES_PER_STEP = 8  # frames converted to float64 at once: bounds memory on long clips


def _check(x: Tensor, y: Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"videos differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.ndim not in (4, 5) or x.shape[-4] != 3:
        raise ValueError(f"expected a video [3, T, H, W] or [B, 3, T, H, W], got {tuple(x.shape)}")


def _unit(x: Tensor) -> Tensor:
    """[B, 3, t, H, W] in [-1, 1] -> float64 [B, t, 3, H, W] in [0, 1]."""
    x = (x.detach().to(torch.float64) + 1) / 2
    return x.clamp(0, 1).transpose(1, 2)


def _per_frame(fn, x: Tensor, y: Tensor) -> Tensor:
    """Apply fn(a, b) -> [B, t] to float64 frames, a few frames at a time: [T] or [B, T]."""
    _check(x, y)
    device = "cpu" if x.device.type == "mps" else x.device  # MPS has no float64
    xb, yb = (x, y) if x.ndim == 5 else (x[None], y[None])
    xb, yb = xb.to(device), yb.to(device)
    T = xb.shape[2]
    out = torch.cat(
        [
            fn(_unit(xb[:, :, i : i + FRAMES_PER_STEP]), _unit(yb[:, :, i : i + FRAMES_PER_STEP]))
            for i in range(0, T, FRAMES_PER_STEP)
        ],
        dim=1,
    )  # (B, T)
    return out[0] if x.ndim == 4 else out


def _mse(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).square().mean(dim=(2, 3, 4))  # (B, t)


def _psnr_from_mse(mse: Tensor) -> Tensor:
    return (-10 * torch.log10(mse.clamp_min(10 ** (-PSNR_MAX / 10)))).clamp_max(PSNR_MAX)


def psnr(x: Tensor, y: Tensor) -> Tensor:
    """Per-frame PSNR in dB, capped at `PSNR_MAX`: [T] for [3, T, H, W] inputs, else [B, T]."""
    return _psnr_from_mse(_per_frame(_mse, x, y))


def psnr_pooled(x: Tensor, y: Tensor) -> Tensor:
    """PSNR of the MSE over the whole clip (frames, channels, pixels): [] or [B]."""
    return _psnr_from_mse(_per_frame(_mse, x, y).mean(dim=-1))  # frames have equal size


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: Tensor, g: list[float]) -> Tensor:
    """Separable Gaussian filter, 'valid': [..., H, W] -> [..., H-10, W-10].

    Written as 11 shifted multiply-adds per axis: float64 conv2d has no fast CPU kernel and this
    is about 4x quicker, with the same result.
    """
    k = len(g)
    H, W = x.shape[-2:]
    h = x[..., : W - k + 1] * g[0]
    for i in range(1, k):
        h.add_(x[..., i : i + W - k + 1], alpha=g[i])
    v = h[..., : H - k + 1, :] * g[0]
    for i in range(1, k):
        v.add_(h[..., i : i + H - k + 1, :], alpha=g[i])
    return v


def ssim_frames(a: Tensor, b: Tensor) -> Tensor:
    """[B, t, 3, H, W] in [0, 1] -> per-frame SSIM [B, t], in the inputs' dtype.

    The formula behind `ssim` (which calls it in float64 on clamped frames); differentiable,
    so the VAE training loss (training/losses.py) uses it in float32."""
    B, t = a.shape[:2]
    g = _gaussian_window().tolist()
    maps = torch.stack([a, b, a * a, b * b, a * b])  # (5, B, t, 3, H, W)
    mu_a, mu_b, aa, bb, ab = _blur(maps, g)  # local weighted means, (B, t, 3, H', W') each
    var_a = aa - mu_a**2  # biased (weighted) moments, as in Wang et al.
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a**2 + mu_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return (num / den).mean(dim=(3, 4)).mean(dim=2)  # (B, t)


def ssim(x: Tensor, y: Tensor) -> Tensor:
    """Per-frame SSIM (mean over the valid map and the 3 channels): [T] or [B, T]."""
    H, W = x.shape[-2:]
    if min(H, W) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {H}x{W}")
    return _per_frame(ssim_frames, x, y)


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
    _check(original, reconstruction)
    if original.ndim == 5:
        if original.shape[0] != 1:
            raise ValueError(f"compute_metrics takes one clip, got a batch of {original.shape[0]}")
        original, reconstruction = original[0], reconstruction[0]
    mse = _per_frame(_mse, original, reconstruction)  # (T,)
    p, s = _psnr_from_mse(mse), ssim(original, reconstruction)
    return Metrics(
        psnr_mean=float(p.mean()),
        psnr_pooled=float(_psnr_from_mse(mse.mean())),
        ssim_mean=float(s.mean()),
        psnr_per_frame=p.tolist(),
        ssim_per_frame=s.tolist(),
    )
