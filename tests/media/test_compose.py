"""Error heatmaps, captioned side-by-side panels, budget and seed grids, spread maps."""

import numpy as np
import pytest
import torch

from videoflextok_core.media.compose import (
    BACKGROUND,
    COLOURMAP,
    SPREAD_SCALE,
    budget_grid,
    caption_strip,
    colourize,
    comparison,
    error_heatmap,
    labelled_grid,
    seed_grid,
    side_by_side,
    spread_heatmap,
    spread_image,
)


def clip(seed, T=3, H=32, W=32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(3, T, H, W, generator=g) * 2 - 1


def test_colourmap_is_dark_to_bright():
    assert COLOURMAP.shape == (256, 3) and COLOURMAP.dtype == np.uint8
    luma = COLOURMAP.astype(float) @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(luma) > 0)  # monotonic, so errors read as brightness
    assert colourize(np.array([-1.0, 0.0, 1.0, 2.0])).tolist() == [
        COLOURMAP[0].tolist(),
        COLOURMAP[0].tolist(),
        COLOURMAP[255].tolist(),
        COLOURMAP[255].tolist(),
    ]


def test_error_heatmap_scale():
    x = torch.zeros(3, 2, 8, 8)
    y = x.clone()
    y[:, :, :, 4:] += 0.5  # error 0.25 in [0, 1] units: the middle of the default 0..0.5 scale
    y[:, 1] = 1.0  # error 0.5: the top
    hm = error_heatmap(x, y)
    assert hm.shape == (2, 8, 8, 3) and hm.dtype == np.uint8
    assert hm[0, 0, 0].tolist() == COLOURMAP[0].tolist()
    assert hm[0, 0, 7].tolist() == COLOURMAP[128].tolist()
    assert hm[1, 3, 3].tolist() == COLOURMAP[255].tolist()


def test_error_heatmap_mixed_inputs():
    x = clip(0)
    u8 = ((x + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()  # (T, H, W, 3)
    hm = error_heatmap(x[None], u8)  # float [1, 3, T, H, W] against uint8 [T, H, W, 3]
    assert hm.shape == (3, 32, 32, 3)
    assert int(hm.max()) <= int(COLOURMAP[2].max())  # rounding error only: about 1/510
    with pytest.raises(ValueError, match="differ in shape"):
        error_heatmap(x, clip(1, W=16))


def test_caption_strip_draws_text():
    blank = caption_strip("", 128, 16)
    text = caption_strip("reconstruction · k=16 · 144 tokens", 128, 16)
    assert text.shape == blank.shape and text.shape[1] == 128
    assert (blank == BACKGROUND).all()
    assert (text != blank).any(axis=-1).mean() > 0.02  # the text fits (shrunk) and is drawn


def test_side_by_side_layout():
    x, y = clip(0), clip(1)
    out = side_by_side([x, y, error_heatmap(x, y)], ["original", "reconstruction", "|error|"])
    assert out.dtype == np.uint8 and out.shape[0] == 3
    T, H, W, _ = out.shape
    assert W == 3 * 256 + 2 * 4  # 32 px panels enlarged 8x, two gaps of 4
    strip = H - 256
    assert 12 <= strip <= 48
    # the panel is the nearest-neighbour enlargement of the original, below its caption
    u8 = ((x + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
    assert np.array_equal(out[:, strip::8, :256:8], u8)
    assert (out[:, :, 256:260] == BACKGROUND).all()


def test_captions_change_pixels():
    x = clip(2)
    plain = side_by_side([x, x], None)
    a = side_by_side([x, x], ["original", "k=1"])
    b = side_by_side([x, x], ["original", "k=256"])
    assert plain.shape[1] < a.shape[1] and a.shape == b.shape
    assert (a != b).any()
    assert np.array_equal(a[:, a.shape[1] - 256 :], plain)  # panels unchanged under the strip


def test_comparison_is_original_reconstruction_error():
    x, y = clip(0), clip(1)
    expected = side_by_side([x, y, error_heatmap(x, y)], ["original", "k=4 · 20 tokens", "|error|"])
    np.testing.assert_array_equal(comparison(x, y, "k=4 · 20 tokens"), expected)


def test_side_by_side_large_panels_not_enlarged():
    x = clip(3, T=2, H=260, W=100)
    out = side_by_side([x], ["x"], min_height=256)
    assert out.shape[2] == 100 and out.shape[1] > 260


def test_side_by_side_rejects_mismatch():
    with pytest.raises(ValueError, match="equal frame count and height"):
        side_by_side([clip(0), clip(1, T=4)])
    with pytest.raises(ValueError, match="captions"):
        side_by_side([clip(0), clip(1)], ["only one"])


def test_budget_grid():
    x = clip(4)
    recs = {k: clip(10 + k) for k in (256, 1, 4, 16, 64)}
    out = budget_grid(recs, original=x, ncols=4)
    assert out.dtype == np.uint8 and out.shape[0] == 3
    assert out.shape[2] == 4 * 256 + 3 * 4
    row = (out.shape[1] - 4) // 2
    assert out.shape[1] == 2 * row + 4  # two rows of 6 panels at 4 per row
    assert (out[:, row + 4 :, 2 * 260 :] == BACKGROUND).all()  # empty cells of the last row
    one_row = budget_grid(recs, ncols=5)
    assert one_row.shape[1] == row and one_row.shape[2] == 5 * 256 + 4 * 4


def test_spread_heatmap_and_image():
    spread = torch.zeros(3, 32, 32)
    spread[:, :, 16:] = SPREAD_SCALE  # right half: at the top of the scale
    heat = spread_heatmap(spread)
    assert heat.shape == (3, 32, 32, 3) and heat.dtype == np.uint8
    assert (heat[:, :, :16] == COLOURMAP[0]).all() and (heat[:, :, 16:] == COLOURMAP[-1]).all()
    still = spread_image(spread)  # the mean over frames, enlarged to the display height
    assert still.shape == (256, 256, 3)
    assert (still[:, :128] == COLOURMAP[0]).all() and (still[:, 128:] == COLOURMAP[-1]).all()


def test_seed_grid():
    videos = [clip(s) for s in (7, 8, 9, 10)]
    out = seed_grid(clip(0), videos, (7, 8, 9, 10), torch.zeros(3, 32, 32), ncols=3)
    row = (out.shape[1] - 4) // 2  # original + 4 seeds + spread = 6 panels: two rows of 3
    assert out.shape == (3, 2 * row + 4, 3 * 256 + 2 * 4, 3)
    spread_panel = out[:, row + 4 + row - 256 :, 2 * 260 :]  # last cell: black spread
    assert (spread_panel == COLOURMAP[0]).all()
    with pytest.raises(ValueError, match="4 videos but 3 seeds"):
        seed_grid(clip(0), videos, (7, 8, 9), torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="at least one video"):
        labelled_grid([])
