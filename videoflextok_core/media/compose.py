"""Videos for people to look at: error heatmaps, captioned side-by-side panels, budget grids.

Legend: T frames, H/W pixels. Inputs are videos either as model tensors, float [3, T, H, W] or
[1, 3, T, H, W] in [-1, 1], or as uint8 [T, H, W, 3]; every output is uint8 [T, H', W', 3],
ready for `write_video`. Captions are drawn with Pillow's default font.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from .write import to_uint8_frames

BACKGROUND = (24, 24, 24)  # gaps, caption strips and empty grid cells
TEXT_COLOUR = (236, 236, 236)
MIN_DISPLAY_HEIGHT = 256  # smaller panels are enlarged (nearest neighbour) to at least this
ERROR_SCALE = 0.5  # |error| in [0, 1] units mapped to the top of the colour map
SPREAD_SCALE = 0.25  # std across seeds in [0, 1] units at the top (measured maxima 0.07-0.28)

# Inferno-like colour map: nine anchors read off the perceptual ramp black -> purple -> orange ->
# pale yellow, linearly interpolated to 256 entries.
_ANCHORS = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [245, 240, 120],
        [252, 255, 164],
    ],
    dtype=np.float64,
)
_POS = np.linspace(0, 1, len(_ANCHORS))
_LUT = np.stack(
    [np.interp(np.linspace(0, 1, 256), _POS, _ANCHORS[:, c]) for c in range(3)], axis=-1
)
COLOURMAP = np.round(_LUT).astype(np.uint8)  # (256, 3)

VideoLike = np.ndarray | Tensor


def colourize(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (clipped) to uint8 RGB with `COLOURMAP`: [...] -> [..., 3]."""
    idx = np.round(np.clip(values, 0, 1) * 255).astype(np.intp)
    return COLOURMAP[idx]


def _unit_frames(video: VideoLike) -> np.ndarray:
    """float32 [T, H, W, 3] in [0, 1] from either video layout, without rounding floats."""
    if isinstance(video, np.ndarray) and video.dtype == np.uint8:
        return to_uint8_frames(video).astype(np.float32) / 255
    x = torch.as_tensor(video).detach()
    if x.ndim == 5 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 4 or x.shape[0] != 3 or not x.is_floating_point():
        return to_uint8_frames(video).astype(np.float32) / 255  # raises a clear ValueError
    x = (x.float().clamp(-1, 1) + 1) / 2
    return x.permute(1, 2, 3, 0).cpu().numpy()  # (T, H, W, 3)


def error_heatmap(
    original: VideoLike, reconstruction: VideoLike, scale: float = ERROR_SCALE
) -> np.ndarray:
    """Colour map of the per-pixel absolute error, averaged over RGB, on a fixed scale.

    The error is measured in [0, 1] units; 0 is black and `scale` (0.5 by default) or more is
    pale yellow, so heatmaps of different budgets are comparable.

    Returns:
        uint8 [T, H, W, 3].
    """
    a, b = _unit_frames(original), _unit_frames(reconstruction)
    if a.shape != b.shape:
        raise ValueError(f"videos differ in shape: {a.shape} vs {b.shape} ([T, H, W, 3])")
    err = np.abs(a - b).mean(axis=-1)  # (T, H, W)
    return colourize(err / scale)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable font, Pillow >= 10.1 with FreeType
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def caption_strip(text: str, width: int, font_size: int) -> np.ndarray:
    """A strip of `BACKGROUND` with `text` centred, shrunk to fit: uint8 [h, width, 3]."""
    height = font_size + font_size // 2 + 4
    img = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    size = font_size
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > width - 6:
        size -= 1
        font = _font(size)
    draw.text((width / 2, height / 2), text, font=font, fill=TEXT_COLOUR, anchor="mm")
    return np.asarray(img)


def _enlarge(frames: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor: [T, H, W, 3] -> [T, fH, fW, 3]."""
    if factor == 1:
        return frames
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def _row(
    panels: Sequence[np.ndarray], captions: Sequence[str] | None, gap: int, min_height: int
) -> np.ndarray:
    """Panels of equal T and H side by side, each under its caption: uint8 [T, H', W', 3]."""
    T, H = panels[0].shape[:2]
    for i, p in enumerate(panels):
        if p.shape[:2] != (T, H):
            raise ValueError(
                f"panels need equal frame count and height: panel 0 is {T}x{H} (T x H), "
                f"panel {i} is {p.shape[0]}x{p.shape[1]}"
            )
    factor = max(1, -(-min_height // H))  # ceil
    panels = [_enlarge(p, factor) for p in panels]
    h = H * factor
    if captions is not None:
        if len(captions) != len(panels):
            raise ValueError(f"got {len(panels)} panels but {len(captions)} captions")
        font_size = int(np.clip(h // 16, 12, 24))
        strips = [
            caption_strip(c, p.shape[2], font_size) for p, c in zip(panels, captions, strict=True)
        ]
        panels = [
            np.concatenate([np.broadcast_to(s, (T, *s.shape)), p], axis=1)  # (T, h_s + h, w, 3)
            for s, p in zip(strips, panels, strict=True)
        ]
    return _hstack(panels, gap)


def _hstack(panels: Sequence[np.ndarray], gap: int) -> np.ndarray:
    """Concatenate [T, h, w_i, 3] along width with `gap` background columns between."""
    T, h = panels[0].shape[:2]
    width = sum(p.shape[2] for p in panels) + gap * (len(panels) - 1)
    out = np.empty((T, h, width, 3), dtype=np.uint8)
    out[:] = BACKGROUND
    x = 0
    for p in panels:
        out[:, :, x : x + p.shape[2]] = p
        x += p.shape[2] + gap
    return out


def side_by_side(
    panels: Sequence[VideoLike],
    captions: Sequence[str] | None = None,
    gap: int = 4,
    min_height: int = MIN_DISPLAY_HEIGHT,
) -> np.ndarray:
    """Videos side by side, each under a caption, e.g. original | reconstruction | error.

    Args:
        panels: videos of equal T and H (widths may differ).
        captions: one per panel, e.g. "reconstruction · k=16 · 144 tokens"; None for no strip.
        gap: pixels of background between panels.
        min_height: panels lower than this are enlarged by an integer factor (nearest).

    Returns:
        uint8 [T, H', W', 3].
    """
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    return _row([to_uint8_frames(p) for p in panels], captions, gap, min_height)


def comparison(original: VideoLike, recon: VideoLike, caption: str) -> np.ndarray:
    """original | reconstruction (under `caption`) | error heatmap, as uint8 [T, H', W', 3]."""
    panels = [original, recon, error_heatmap(original, recon)]
    return side_by_side(panels, ["original", caption, "|error|"])


def budget_grid(
    videos_by_k: Mapping[int, VideoLike],
    original: VideoLike | None = None,
    ncols: int = 4,
    gap: int = 4,
    min_height: int = MIN_DISPLAY_HEIGHT,
) -> np.ndarray:
    """Reconstructions at several token budgets in a grid labelled "k=1", "k=4", ...

    Args:
        videos_by_k: budget k -> reconstruction; shown in increasing k.
        original: shown first, labelled "original", if given.
        ncols: panels per row; the last row is filled with background.

    Returns:
        uint8 [T, H', W', 3].
    """
    items = [] if original is None else [("original", original)]
    items += [(f"k={k}", videos_by_k[k]) for k in sorted(videos_by_k)]
    return labelled_grid(items, ncols, gap, min_height)


def labelled_grid(
    items: Sequence[tuple[str, VideoLike]],
    ncols: int = 4,
    gap: int = 4,
    min_height: int = MIN_DISPLAY_HEIGHT,
) -> np.ndarray:
    """Videos of equal T and H in a grid, row by row, each under its caption.

    Args:
        items: (caption, video) in reading order.
        ncols: panels per row; the last row is filled with background.

    Returns:
        uint8 [T, H', W', 3].
    """
    if not items:
        raise ValueError("a grid needs at least one video")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    frames = [to_uint8_frames(v) for _, v in items]
    rows = []
    for i in range(0, len(items), ncols):
        row = _row(frames[i : i + ncols], [c for c, _ in items[i : i + ncols]], gap, min_height)
        rows.append(row)
    width = rows[0].shape[2]
    T = rows[0].shape[0]
    out = np.empty((T, sum(r.shape[1] for r in rows) + gap * (len(rows) - 1), width, 3), np.uint8)
    out[:] = BACKGROUND
    y = 0
    for r in rows:
        out[:, y : y + r.shape[1], : r.shape[2]] = r
        y += r.shape[1] + gap
    return out


def spread_heatmap(spread: np.ndarray | Tensor, scale: float = SPREAD_SCALE) -> np.ndarray:
    """Colour map of a per-pixel spread across seeds, [..., H, W] in [0, 1] pixel units (e.g.
    `seeds.pixel_spread`, (T, H, W)), on a fixed scale: 0 is black, `scale` or more pale yellow,
    so maps of different budgets are comparable. Returns uint8 [..., H, W, 3]."""
    values = torch.as_tensor(spread).detach().float().cpu().numpy()
    return colourize(values / scale)


def spread_image(spread: np.ndarray | Tensor, min_height: int = MIN_DISPLAY_HEIGHT) -> np.ndarray:
    """A still of the spread (T, H, W): its mean over the frames, colour-mapped like
    `spread_heatmap` and enlarged (nearest) to at least `min_height`: uint8 [H', W', 3]."""
    still = torch.as_tensor(spread).detach().float().mean(dim=0)  # (H, W)
    return _row([spread_heatmap(still)[None]], None, 0, min_height)[0]  # enlarged like panels


def seed_grid(
    original: VideoLike,
    videos: Sequence[VideoLike],
    seeds: Sequence[int],
    spread: np.ndarray | Tensor,
    ncols: int = 3,
) -> np.ndarray:
    """original, one panel per seed ("seed 3") and the spread heatmap ("spread across seeds"),
    `ncols` per row: uint8 [T, H', W', 3]. `spread` is (T, H, W) in [0, 1] pixel units."""
    if len(videos) != len(seeds):
        raise ValueError(f"got {len(videos)} videos but {len(seeds)} seeds")
    items = [("original", original)]
    items += [(f"seed {s}", v) for s, v in zip(seeds, videos, strict=True)]
    items.append(("spread across seeds", spread_heatmap(spread)))
    return labelled_grid(items, ncols)
