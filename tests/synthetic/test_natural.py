"""Natural-statistics clips (synthetic/natural.py): determinism, shape, 1/f spectra, motion,
photographs as content."""

import numpy as np
import pytest

from synthetic.natural import dead_leaves, natural_clip, pink_noise


def _spectral_slope(frame: np.ndarray) -> float:
    """Slope of log radial power against log frequency of a grey (H, W) frame."""
    f = np.fft.fftshift(np.abs(np.fft.fft2(frame - frame.mean())) ** 2)
    H, W = frame.shape
    yy, xx = np.indices(f.shape)
    r = np.hypot(yy - H // 2, xx - W // 2).astype(int)
    power = np.bincount(r.ravel(), f.ravel()) / np.bincount(r.ravel())
    k = np.arange(2, H // 2 - 2)
    return float(np.polyfit(np.log(k), np.log(power[k] + 1e-12), 1)[0])


def test_same_seed_same_bytes_and_seeds_differ():
    a, b = natural_clip(5, 9, 64), natural_clip(5, 9, 64)
    assert a.dtype == np.uint8 and a.shape == (9, 64, 64, 3)
    assert a.tobytes() == b.tobytes()
    assert np.abs(a.astype(int) - natural_clip(6, 9, 64).astype(int)).mean() > 5


def test_a_longer_clip_starts_with_the_shorter_one():
    for seed in range(6):
        short, long = natural_clip(seed, 9, 32), natural_clip(seed, 17, 32)
        assert long.shape[0] == 17
        diff = np.abs(short.astype(int) - long[:9].astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.01  # float rounding may flip a level


def test_pink_noise_has_the_asked_spectrum():
    rng = np.random.default_rng(0)
    for beta in (0.8, 1.2, 1.6):
        slope = _spectral_slope(pink_noise(rng, 128, beta))
        assert abs(slope + 2 * beta) < 0.25, (beta, slope)  # power ~ 1 / f^(2 beta)


def test_frames_have_natural_spectra_and_move():
    slopes, motion = [], []
    for seed in range(12):
        clip = natural_clip(seed, 9, 64).astype(np.float32)
        slopes.append(_spectral_slope(clip[0].mean(-1)))
        motion.append(np.abs(clip[-1] - clip[0]).mean())
    # real photographs measure about -2 (power); flat-shaded scenes fall much steeper
    assert -3.6 < np.median(slopes) < -1.4, slopes
    assert np.median(motion) > 2.0 and min(motion) >= 0.0


def test_dead_leaves_cover_the_canvas_with_many_sizes():
    tex = dead_leaves(np.random.default_rng(3), 160)
    assert tex.shape == (3, 160, 160) and 0 <= tex.min() and tex.max() <= 1
    grey = tex.mean(0)
    edges = np.abs(np.diff(grey, axis=1)) > 0.05
    assert 0.02 < edges.mean() < 0.6


def test_photos_become_the_content():
    rng = np.random.default_rng(0)
    photo = np.zeros((200, 300, 3), np.float32)
    photo[..., 0] = 0.9  # a red "photograph": every background pixel comes from it
    photo += rng.uniform(0, 0.05, photo.shape).astype(np.float32)
    reds = [natural_clip(seed, 5, 32, photos=[photo])[0].mean((0, 1)) for seed in range(6)]
    assert np.median([r[0] - r[1] for r in reds]) > 60


@pytest.mark.parametrize("bad", [dict(num_frames=0), dict(size=0)])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        natural_clip(0, **{"num_frames": 5, "size": 32, **bad})
