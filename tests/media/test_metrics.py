"""PSNR / SSIM against a float64 numpy reference written here, and known cases."""

import math

import numpy as np
import pytest
import torch

from videoflextok_core.media import metrics as metrics_mod
from videoflextok_core.media.metrics import (
    PSNR_MAX,
    Metrics,
    compute_metrics,
    psnr,
    psnr_pooled,
    ssim,
)

# ---------------------------------------------------------------------------------------------
# Reference (Wang et al. 2004): 2-D Gaussian window 11x11, sigma 1.5, 'valid' filtering by
# explicit shifts, C1 = 0.01^2, C2 = 0.03^2 for data range 1.
# ---------------------------------------------------------------------------------------------


def ref_unit(video):
    """[3, T, H, W] in [-1, 1] -> float64 numpy [T, 3, H, W] in [0, 1]."""
    x = video.double().numpy()
    return np.clip((x + 1) / 2, 0, 1).transpose(1, 0, 2, 3)


def ref_filter(img, win):
    """Weighted sum over every 11x11 window that fits inside img [H, W]."""
    k = win.shape[0]
    H, W = img.shape
    out = np.zeros((H - k + 1, W - k + 1))
    for dy in range(k):
        for dx in range(k):
            out += win[dy, dx] * img[dy : dy + H - k + 1, dx : dx + W - k + 1]
    return out


def ref_ssim_frame(a, b):
    """SSIM of one [H, W] channel pair."""
    r = np.arange(11) - 5.0
    yy, xx = np.meshgrid(r, r, indexing="ij")
    win = np.exp(-(yy**2 + xx**2) / (2 * 1.5**2))
    win /= win.sum()
    mu_a, mu_b = ref_filter(a, win), ref_filter(b, win)
    s_aa = ref_filter(a * a, win) - mu_a**2
    s_bb = ref_filter(b * b, win) - mu_b**2
    s_ab = ref_filter(a * b, win) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (s_aa + s_bb + c2))
    return m.mean()


def ref_ssim(x, y):
    a, b = ref_unit(x), ref_unit(y)
    return np.array(
        [np.mean([ref_ssim_frame(a[t, c], b[t, c]) for c in range(3)]) for t in range(len(a))]
    )


def ref_psnr(x, y):
    a, b = ref_unit(x), ref_unit(y)
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    return -10 * np.log10(mse)


def smooth_video(seed, T=3, H=24, W=28):
    """Random but spatially correlated frames in [-1, 1] (SSIM is dull on white noise)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, T, H // 4, W // 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=(H, W), mode="bilinear", align_corners=False)
    return x * 1.6 - 0.8 + 0.1 * torch.rand(3, T, H, W, generator=g)


# ---------------------------------------------------------------------------------------------
# PSNR
# ---------------------------------------------------------------------------------------------


def test_psnr_matches_reference():
    x, y = smooth_video(0), smooth_video(1)
    np.testing.assert_allclose(psnr(x, y).numpy(), ref_psnr(x, y), rtol=0, atol=1e-9)
    a, b = ref_unit(x), ref_unit(y)
    pooled = -10 * math.log10(((a - b) ** 2).mean())
    assert float(psnr_pooled(x, y)) == pytest.approx(pooled, abs=1e-9)


def test_psnr_identical_is_capped():
    x = smooth_video(0)
    assert psnr(x, x).tolist() == [PSNR_MAX] * 3
    assert float(psnr_pooled(x, x)) == PSNR_MAX


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_psnr_constant_offset(dtype, tol):
    x = smooth_video(2).to(dtype)  # in [-0.8, 0.9]: the offset does not clamp
    offset = 0.05  # in [0, 1] units, i.e. 0.1 in [-1, 1]
    y = x + 2 * offset
    expected = -10 * math.log10(offset**2)
    assert psnr(x, y).numpy() == pytest.approx([expected] * 3, abs=tol)
    assert float(psnr_pooled(x, y)) == pytest.approx(expected, abs=tol)


def test_psnr_additive_noise():
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(3, 4, 64, 64)  # mid grey, far from the clamp
    sigma = 0.05  # in [0, 1] units
    y = x + 2 * sigma * torch.randn(x.shape, generator=g)
    expected = -10 * math.log10(sigma**2)
    assert float(psnr_pooled(x, y)) == pytest.approx(expected, abs=0.1)
    assert psnr(x, y).numpy() == pytest.approx([expected] * 4, abs=0.2)


def test_pooled_differs_from_mean():
    x = torch.zeros(3, 2, 16, 16)
    y = x.clone()
    y[:, 0] += 0.02
    y[:, 1] += 0.2
    per = psnr(x, y)
    assert float(per.mean()) > float(psnr_pooled(x, y))  # mean of logs >= log of mean


def test_inputs_clamped():
    x = torch.zeros(3, 1, 16, 16)
    assert float(psnr(x.clone().fill_(1.0), x.clone().fill_(3.0))[0]) == PSNR_MAX


# ---------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------


def test_ssim_matches_reference():
    x = smooth_video(4)
    y = (x + 0.15 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))).clamp(-1, 1)
    np.testing.assert_allclose(ssim(x, y).numpy(), ref_ssim(x, y), rtol=0, atol=1e-10)


def test_ssim_identical_is_one():
    x = smooth_video(6)
    np.testing.assert_allclose(ssim(x, x).numpy(), 1.0, atol=1e-12)


def test_ssim_decreases_with_noise():
    x = smooth_video(7)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(8))
    values = [float(ssim(x, (x + s * noise).clamp(-1, 1)).mean()) for s in (0.01, 0.05, 0.2, 0.5)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert values[0] > 0.95 and values[-1] < 0.5


def test_ssim_symmetric():
    x, y = smooth_video(9), smooth_video(10)
    torch.testing.assert_close(ssim(x, y), ssim(y, x), atol=1e-14, rtol=0)


def test_ssim_too_small():
    x = torch.zeros(3, 1, 10, 32)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(x, x)


# ---------------------------------------------------------------------------------------------
# Shapes and the Metrics summary
# ---------------------------------------------------------------------------------------------


def test_batched_shapes():
    x = torch.stack([smooth_video(11), smooth_video(12)])  # (2, 3, 3, 24, 28)
    y = torch.stack([smooth_video(13), smooth_video(14)])
    assert psnr(x, y).shape == (2, 3) and ssim(x, y).shape == (2, 3)
    assert psnr_pooled(x, y).shape == (2,)
    torch.testing.assert_close(ssim(x, y)[1], ssim(x[1], y[1]))
    torch.testing.assert_close(psnr(x, y)[0], psnr(x[0], y[0]))


def test_frame_steps_do_not_change_results(monkeypatch):
    x, y = smooth_video(16, T=19), smooth_video(17, T=19)  # 8 + 8 + 3 frames
    chunked = psnr(x, y), psnr_pooled(x, y), ssim(x, y)
    monkeypatch.setattr(metrics_mod, "FRAMES_PER_STEP", 1000)
    whole = psnr(x, y), psnr_pooled(x, y), ssim(x, y)
    for a, b in zip(chunked, whole, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_compute_metrics():
    x = smooth_video(15)
    y = (x + 0.1).clamp(-1, 1)
    m = compute_metrics(x[None], y[None])
    assert isinstance(m, Metrics)
    assert len(m.psnr_per_frame) == len(m.ssim_per_frame) == 3
    assert m.psnr_mean == pytest.approx(float(psnr(x, y).mean()))
    assert m.ssim_mean == pytest.approx(float(ssim(x, y).mean()))
    assert "PSNR" in str(m) and "SSIM" in str(m)


def test_bad_shapes():
    x = torch.zeros(3, 2, 16, 16)
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(x, torch.zeros(3, 2, 16, 18))
    with pytest.raises(ValueError, match=r"\[3, T, H, W\]"):
        ssim(torch.zeros(4, 2, 16, 16), torch.zeros(4, 2, 16, 16))
    with pytest.raises(ValueError, match="one clip"):
        compute_metrics(torch.zeros(2, 3, 1, 16, 16), torch.zeros(2, 3, 1, 16, 16))
