"""`media/preprocess.py`: the official preprocessing of picked frames, on its own."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from videoflextok_core.media.preprocess import preprocess


def test_preprocess_matches_official_layout():
    """Steps 4-7 of the official read_mp4, written out on its [3, T, H, W] layout."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 30, 50, 3), dtype=np.uint8)  # H=30, W=50
    x = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255  # (3, T, H, W)
    new_w = int(16 * 50 / 30)
    x = F.interpolate(x, size=(16, new_w), mode="bicubic", align_corners=False, antialias=True)
    left = int(round((new_w - 16) / 2))
    ref = (x.clamp(0, 1)[..., :, left : left + 16] - 0.5) / 0.5
    out = preprocess(frames, 16)
    assert out.shape == (3, 3, 16, 16) and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)


def test_preprocess_same_size_is_exact():
    frames = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
    out = preprocess(frames, 8)
    ref = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255 * 2 - 1
    torch.testing.assert_close(out, ref)


def test_preprocess_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8 frames"):
        preprocess(np.zeros((2, 8, 8, 3), np.float32), 8)
