"""Drawing a `synthetic.scene.SceneSpec`: `render(scene, num_frames, size, fps)` -> uint8 frames.

Rendering is numpy, vectorized over frames (in chunks that fit in cache), and anti-aliased
analytically: each shape is a signed distance d and a pixel's coverage is
clip(0.5 - d / pixel_width, 0, 1). Pixels only see elementwise IEEE operations (+, -, *, /, sqrt,
floor, min, max) and table look-ups, with no reductions and no threads, so a seed gives the same
bytes in every run and process. sin/cos/exp are only taken of per-frame scalars.

World coordinates as in `synthetic`: the first frame spans [-1, 1] on both axes, y points down,
time is in seconds. Legend: T frames, H = W = size pixels, h/w a crop of them. Colour arrays are
(3, T, H, W) float32 in [0, 1] while drawing and (T, H, W, 3) uint8 on output.
"""

import math
from dataclasses import dataclass

import numpy as np

from .scene import (
    BACKGROUNDS,
    FILLS,
    MOTIONS,
    RGB,
    SHAPES,
    Background,
    Camera,
    Dots,
    Lighting,
    ObjectSpec,
    SceneSpec,
    Text,
)

CHUNK_PIXELS = 1 << 17  # frames are drawn in groups of about this many pixels, to stay in cache
TABLE = 16  # side of the periodic random tables behind value noise and dots (a power of two)


# ----------------------------------------------------------------------------------------------
# Rendering primitives


@dataclass(frozen=True)
class _View:
    """Per-frame camera: world = [[zc, -zs], [zs, zc]] @ (u, v) + pan, with (u, v) in [-1, 1]."""

    t: np.ndarray  # (T,) seconds
    zc: np.ndarray  # (T,) zoom * cos(roll)
    zs: np.ndarray  # (T,) zoom * sin(roll)
    pan: np.ndarray  # (T, 2) world position of the view centre
    fw: np.ndarray  # (T,) width of a pixel in world units
    grid: np.ndarray  # (size,) float32 pixel centres in [-1, 1]


def _make_view(cam: Camera, t: np.ndarray, size: int) -> _View:
    zoom = cam.zoom * np.exp(cam.zoom_rate * t)
    roll = cam.roll_rate * t
    pan = t[:, None] * np.array(cam.pan)
    pan[:, 0] += cam.sway * np.sin(2 * math.pi * cam.sway_freq * t)
    grid = ((np.arange(size) * 2 + 1) / size - 1).astype(np.float32)
    return _View(t, zoom * np.cos(roll), zoom * np.sin(roll), pan, 2 * zoom / size, grid)


def _frame(view: _View, center: np.ndarray, angle: np.ndarray | float, unit: np.ndarray | float):
    """Pixel -> local affine maps, local = R(-angle) (world - center) / unit.

    Args:
        center: (T, 2) world position of the local origin. angle, unit: (T,) or scalars.
    Returns:
        Coefficients (ax, ay, c) of local x and of local y, each (T,): x = ax * u + ay * v + c.
    """
    c, s = np.cos(angle) / unit, np.sin(angle) / unit  # R(-angle) / unit = [[c, s], [-s, c]]
    dx, dy = view.pan[:, 0] - center[:, 0], view.pan[:, 1] - center[:, 1]
    local_x = (c * view.zc + s * view.zs, s * view.zc - c * view.zs, c * dx + s * dy)
    local_y = (c * view.zs - s * view.zc, c * view.zc + s * view.zs, c * dy - s * dx)
    return local_x, local_y


def _plane(view: _View, coef, rows: slice, cols: slice) -> np.ndarray:
    """Evaluate a per-frame affine map of the pixel grid: (T, h, w) float32."""
    ax, ay, c = (np.asarray(a, dtype=np.float32)[:, None, None] for a in coef)
    return (ax * view.grid[cols] + c) + ay * view.grid[rows][:, None]


def _coords(view: _View, center, angle, unit, rows=slice(None), cols=slice(None)):
    """Local coordinates (x, y), each (T, h, w) float32, of the pixels in rows x cols."""
    local_x, local_y = _frame(view, center, angle, unit)
    return _plane(view, local_x, rows, cols), _plane(view, local_y, rows, cols)


def _crop(view: _View, center: np.ndarray, reach: np.ndarray, size: int):
    """Pixel (rows, cols) slices holding a disc of world radius reach (T,) around center (T, 2)
    in every frame, or None when it never shows."""
    dx, dy = center[:, 0] - view.pan[:, 0], center[:, 1] - view.pan[:, 1]
    zoom2 = view.zc**2 + view.zs**2
    u = (view.zc * dx + view.zs * dy) / zoom2  # (T,) view coordinates of the centre
    v = (view.zc * dy - view.zs * dx) / zoom2
    r = reach / np.sqrt(zoom2) * size / 2 + 2  # pixels, with a margin for the soft edge
    spans = []
    for p in (v, u):
        p = (p + 1) * size / 2 - 0.5
        lo, hi = max(math.floor(np.min(p - r)), 0), min(math.ceil(np.max(p + r)) + 1, size)
        if lo >= hi:
            return None
        spans.append(slice(lo, hi))
    return tuple(spans)


def _cover(d: np.ndarray, px) -> np.ndarray:
    """Coverage in [0, 1] of {d < 0} with a one-pixel soft edge; px: pixels per unit of d."""
    a = d * -px
    a += 0.5
    return np.clip(a, 0.0, 1.0, out=a)


def _blend(dst: np.ndarray, alpha: np.ndarray, color) -> None:
    """dst (3, T, h, w) <- color over dst with coverage alpha (T, h, w), in place."""
    delta = color - dst  # not (dst - color) * (1 - alpha) + color: that moves dst where alpha = 0
    delta *= alpha
    dst += delta


def _lerp(c1: np.ndarray, c2: np.ndarray, t: np.ndarray, out: np.ndarray | None = None):
    """Colours (3, T, 1, 1) mixed by t (T, h, w) -> (3, T, h, w), written to out if given."""
    out = np.multiply(c2 - c1, t, out=out)
    out += c1
    return out


def _rgb(color: RGB, num_frames: int = 1) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.float32)[:, None, None, None], (3, num_frames, 1, 1))


def _stripes(x: np.ndarray, period: float, duty: float, fw) -> np.ndarray:
    """Soft square wave in [0, 1]: 1 on a `duty` fraction of each period of x.

    fw is the pixel width in units of x ((T, 1, 1) or like x). Where a period spans fewer than
    about 4 pixels the wave fades to its mean instead of aliasing into moire.
    """
    f = x * (1.0 / period)
    f -= np.floor(f)
    f -= 0.5
    d = np.abs(f, out=f)
    d -= duty / 2
    s = _cover(d, period / fw)
    fade = np.clip(period / (2 * fw) - 1.0, 0.0, 1.0)
    if np.all(fade == 1.0):
        return s
    return s * fade + duty * (1.0 - fade)  # equals s where fade == 1: chunking cannot show


def _positive(x: np.ndarray) -> np.ndarray:
    """max(x, 0); abs + add beats np.maximum with a scalar on numpy 2."""
    return (x + np.abs(x)) * 0.5


def _box(x: np.ndarray, y: np.ndarray, bx: float, by: float, r: float = 0.0) -> np.ndarray:
    """Distance to a box of half-sizes (bx, by) with corner radius r (Quilez's rounded box)."""
    qx, qy = np.abs(x) - (bx - r), np.abs(y) - (by - r)
    outside = np.sqrt(_positive(qx) ** 2 + _positive(qy) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - r


def _ellipse(x: np.ndarray, y: np.ndarray, aspect: float) -> np.ndarray:
    """Distance to the ellipse with radii (1, aspect); exact for circles, else Quilez's
    first-order approximation k0 (k0 - 1) / k1, good near the edge where coverage is decided."""
    if aspect == 1.0:
        return np.sqrt(x * x + y * y) - 1.0
    k0 = np.sqrt(x * x + (y * (1 / aspect)) ** 2)
    k1 = np.sqrt(x * x + (y * (1 / aspect**2)) ** 2) + 1e-6
    return k0 * (k0 - 1.0) / k1


def _half_planes(x: np.ndarray, y: np.ndarray, angles, offset: float, rank: int) -> np.ndarray:
    """rank-th largest of x cos(a) + y sin(a) - offset over angles (rank 1 or 2).

    rank 1 is a convex polygon. rank 2 is a {n/2} star polygon: the n lines joining every other
    tip bound it, and a point is inside iff it is outside at most one of them.
    """
    first = second = None
    for a in angles:
        d = x * math.cos(a) + y * math.sin(a)
        if first is None:
            first, second = d, np.full_like(d, -np.inf)
        elif rank == 1:
            first = np.maximum(first, d)
        else:
            second = np.maximum(second, np.minimum(first, d))
            first = np.maximum(first, d)
    return (first if rank == 1 else second) - offset


def _shape(obj: ObjectSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance (T, h, w) to the object's outline, in local units, < 0 inside."""
    if obj.shape in ("ellipse", "ring"):
        d = _ellipse(x, y, obj.aspect)
        if obj.shape == "ring":
            d = np.abs(d + obj.thickness / 2) - obj.thickness / 2
        return d
    if obj.shape == "box":
        corner = math.atan(obj.aspect)  # corners on the unit circle
        return _box(x, y, math.cos(corner), math.sin(corner), obj.corner * math.sin(corner))
    if obj.shape == "cross":
        half = obj.thickness
        arm = math.sqrt(1.0 - half * half)  # arm corners on the unit circle
        return np.minimum(_box(x, y, arm, half), _box(x, y, half, arm))
    n = obj.sides
    if obj.shape == "polygon":  # edge normals half a step from the tips, tip at the top
        angles = [-math.pi / 2 + math.pi / n * (2 * i + 1) for i in range(n)]
        return _half_planes(x, y, angles, math.cos(math.pi / n), rank=1)
    angles = [-math.pi / 2 + 2 * math.pi * i / n for i in range(n)]  # star: normals at the tips
    return _half_planes(x, y, angles, math.cos(2 * math.pi / n), rank=2)


def _hue_rotate(color: RGB, speed: float, t: np.ndarray) -> np.ndarray:
    """(3, T, 1, 1) float32: color rotated by speed * t around the grey axis (Rodrigues)."""
    if speed == 0.0:
        return _rgb(color, len(t))
    c = np.array(color)[:, None]  # (3, 1)
    angle = speed * t  # (T,)
    cross = np.array([c[2] - c[1], c[0] - c[2], c[1] - c[0]]) / math.sqrt(3)
    grey = c.mean(axis=0)  # (1,): projection on the grey axis
    out = c * np.cos(angle) + cross * np.sin(angle) + grey * (1 - np.cos(angle))
    return np.clip(out, 0.0, 1.0).astype(np.float32)[:, :, None, None]


def _value_noise(x: np.ndarray, y: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Smooth noise in [0, 1]: a periodic random grid, bilinearly upsampled with smoothstep."""
    ix, iy = np.floor(x), np.floor(y)
    fx, fy = x - ix, y - iy
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    i0, j0 = ix.astype(np.int32) & (TABLE - 1), iy.astype(np.int32) & (TABLE - 1)
    i1, j1 = (i0 + 1) & (TABLE - 1), (j0 + 1) * TABLE & (TABLE * TABLE - 1)
    j0 = j0 * TABLE
    top = np.take(table, j0 + i0)
    top += (np.take(table, j0 + i1) - top) * fx
    bottom = np.take(table, j1 + i0)
    bottom += (np.take(table, j1 + i1) - bottom) * fx
    return top + (bottom - top) * fy


# ----------------------------------------------------------------------------------------------
# Layers


def _draw_background(canvas: np.ndarray, view: _View, bg: Background) -> None:
    """Fill canvas (3, T, H, W) with the backdrop."""
    num_frames = len(view.t)
    c1, c2 = _rgb(bg.color, num_frames), _rgb(bg.color2, num_frames)
    shift = view.t[:, None] * np.array(bg.drift)  # (T, 2) texture drift
    if bg.kind == "solid":
        canvas[:] = c1
        return
    if bg.kind == "horizon":
        _draw_horizon(canvas, view, bg)
        return
    if bg.kind == "radial":
        x, y = _coords(view, np.broadcast_to(bg.center, (num_frames, 2)), 0.0, bg.period)
        _lerp(c1, c2, np.clip(np.sqrt(x * x + y * y), 0.0, 1.0), out=canvas)
        return
    x, y = _coords(view, shift, bg.angle, 1.0)  # x runs along bg.angle
    fw = view.fw.astype(np.float32)[:, None, None]
    if bg.kind == "linear":
        mix = np.clip(0.5 + 0.4 * x, 0.0, 1.0)
    elif bg.kind == "stripes":
        mix = _stripes(x, bg.period, bg.width, fw)
    elif bg.kind == "checker":  # soft XOR of two square waves
        a, b = _stripes(x, bg.period, 0.5, fw), _stripes(y, bg.period, 0.5, fw)
        mix = a + b - 2 * a * b
    elif bg.kind == "grid":  # thin lines, 1 px or so at 64 px
        duty = bg.width / bg.period
        a, b = _stripes(x, bg.period, duty, fw), _stripes(y, bg.period, duty, fw)
        mix = a + b - a * b
    else:  # noise: two octaves
        table = np.random.default_rng(bg.seed).random(TABLE * TABLE, dtype=np.float32)
        x, y = x * (1 / bg.period), y * (1 / bg.period)
        mix = 0.65 * _value_noise(x, y, table) + 0.35 * _value_noise(2 * y + 5.5, 2 * x, table)
        mix = np.clip(mix * 2.2 - 0.6, 0.0, 1.0)
    _lerp(c1, c2, mix, out=canvas)


def _draw_horizon(canvas: np.ndarray, view: _View, bg: Background) -> None:
    """Sky gradient over a ground plane seen from height 1: a floor point at depth z shows at
    y = horizon + 1 / z, so the tiles shrink towards the horizon; drift[1] walks forward."""
    num_frames = len(view.t)
    x, y = _coords(view, np.zeros((num_frames, 2)), 0.0, 1.0)
    fw = view.fw.astype(np.float32)[:, None, None]
    below = y - bg.horizon  # (T, H, W) > 0 on the ground
    sky = _rgb(bg.color, num_frames), _rgb(bg.color2, num_frames)
    _lerp(*sky, np.clip(below + 1.3, 0.0, 1.0), out=canvas)
    g1, g2 = _rgb(bg.ground, num_frames), _rgb(bg.ground2, num_frames)
    if bg.ground_tiles:
        depth = 1.0 / np.maximum(below, 1e-3)
        fw_floor = fw * depth * (1.0 + depth)  # pixel footprint on the floor, roughly
        walked = (bg.drift[1] * view.t).astype(np.float32)[:, None, None]
        a = _stripes(x * depth, bg.period, 0.5, fw_floor)
        b = _stripes(depth + walked, bg.period, 0.5, fw_floor)
        ground = _lerp(g1, g2, a + b - 2 * a * b)
    else:
        ground = _lerp(g2, g1, np.clip(below * 1.5, 0.0, 1.0))
    _blend(ground, np.clip(1.0 - 4.0 * below, 0.0, 1.0) * 0.6, sky[1])  # haze far away
    _blend(canvas, _cover(-below, 1 / fw), ground)


def _track(obj: ObjectSpec, t: np.ndarray):
    """Per-frame centre (T, 2), angle (T,) and scale (T,) of an object."""
    scale = 1.0 + obj.pulse * np.sin(2 * math.pi * obj.pulse_freq * t + obj.pulse_phase)
    angle = obj.angle + obj.spin * t
    if obj.motion == "orbit":
        phase = obj.orbit_phase + obj.orbit_speed * t
        ring = np.stack([np.cos(phase), np.sin(phase)], axis=1) * np.array(obj.orbit)
        return np.array(obj.position) + ring, angle, scale
    reach = obj.radius * (1.0 + obj.pulse)
    p = np.array(obj.position) + t[:, None] * np.array(obj.velocity)  # (T, 2) free flight
    if obj.motion == "wrap":  # leave on one side, come back on the other
        lo = -1.0 - reach
        return lo + np.mod(p - lo, 2 - 2 * lo), angle, scale
    lo = -1.0 + reach  # bounce: reflect the free flight into [lo, -lo]
    span = max(-2 * lo, 1e-6)
    return lo + span - np.abs(np.mod(p - lo, 2 * span) - span), angle, scale


def _draw_object(canvas: np.ndarray, view: _View, obj: ObjectSpec) -> None:
    center, angle, scale = _track(obj, view.t)
    unit = obj.radius * scale  # (T,) world size of one local unit
    crop = _crop(view, center, unit + obj.outline, canvas.shape[-1])
    if crop is None:
        return
    rows, cols = crop
    x, y = _coords(view, center, angle, unit, rows, cols)  # (T, h, w) local units
    d = _shape(obj, x, y)
    px = (unit / view.fw).astype(np.float32)[:, None, None]  # pixels per local unit
    dst = canvas[:, :, rows, cols]
    color = _hue_rotate(obj.color, obj.hue_speed, view.t)
    if not obj.hollow:
        _blend(dst, _cover(d, px), _fill(obj, x, y, angle, color, view.t, px))
    if obj.outline > 0:
        half = (obj.outline / 2 / unit).astype(np.float32)[:, None, None]
        _blend(dst, _cover(np.abs(d + half) - half, px), _rgb(obj.outline_color))


def _fill(obj: ObjectSpec, x, y, angle, color, t, px):
    """Fill colour (3, T, 1, 1) or (3, T, h, w); patterns live in the object frame."""
    if obj.fill == "flat":
        return color
    color2 = _hue_rotate(obj.color2, obj.hue_speed, t)
    along = x * math.cos(obj.stripe_angle) + y * math.sin(obj.stripe_angle)
    if obj.fill == "gradient":
        return _lerp(color, color2, np.clip(0.5 + 0.5 * along, 0.0, 1.0))
    if obj.fill == "stripes":
        return _lerp(color, color2, _stripes(along, obj.stripe_period, 0.5, 1 / px))
    # shaded: a ball lit from the upper left of the screen, whatever the spin
    hx = (-0.45 * np.cos(angle) - 0.45 * np.sin(angle)).astype(np.float32)[:, None, None]
    hy = (0.45 * np.sin(angle) - 0.45 * np.cos(angle)).astype(np.float32)[:, None, None]
    light = np.clip(np.sqrt((x - hx) ** 2 + (y - hy) ** 2) * (1 / 1.5), 0.0, 1.0)
    return _lerp(0.55 * color + 0.45, 0.45 * color, light)


def _draw_dots(canvas: np.ndarray, view: _View, dots: Dots) -> None:
    rng = np.random.default_rng(dots.seed)
    r = dots.radius / dots.period  # cell units
    jitter = r + rng.random((2, TABLE * TABLE), dtype=np.float32) * (1 - 2 * r)
    radius = np.where(rng.random(TABLE * TABLE) < dots.density, r, -1.0).astype(np.float32)
    drift = view.t[:, None] * np.array(dots.velocity)
    x, y = _coords(view, drift, 0.0, dots.period)  # (T, H, W) lattice units
    ix, iy = np.floor(x), np.floor(y)
    x -= ix
    y -= iy
    cell = (iy.astype(np.int32) & (TABLE - 1)) * TABLE + (ix.astype(np.int32) & (TABLE - 1))
    x -= np.take(jitter[0], cell)
    y -= np.take(jitter[1], cell)
    d = np.sqrt(x * x + y * y) - np.take(radius, cell)
    px = (dots.period / view.fw).astype(np.float32)[:, None, None]
    _blend(canvas, _cover(d, px), _rgb(dots.color))


def _draw_text(canvas: np.ndarray, view: _View, text: Text) -> None:
    rows, cols = len(text.glyphs), len(text.glyphs[0])
    (cw, ch), margin = text.cell, text.cell[0] / 2
    half_w, half_h = cols * cw / 2 + margin, rows * ch / 2 + margin
    center = np.array(text.position) + view.t[:, None] * np.array(text.velocity)
    crop = _crop(view, center, np.full(len(view.t), math.hypot(half_w, half_h)), canvas.shape[-1])
    if crop is None:
        return
    x, y = _coords(view, center, text.angle, 1.0, *crop)  # (T, h, w) world units
    px = (1 / view.fw).astype(np.float32)[:, None, None]
    dst = canvas[:, :, crop[0], crop[1]]
    if text.panel is not None:
        _blend(dst, _cover(_box(x, y, half_w, half_h, margin / 2), px), _rgb(text.panel))

    # Glyph cell of each pixel; a zero border in the table blanks the pixels outside the block.
    gx, gy = x * (1 / cw) + cols / 2, y * (1 / ch) + rows / 2
    ix, iy = np.floor(gx), np.floor(gy)
    lx, ly = (gx - ix - 0.5) * cw, (gy - iy - 0.5) * ch  # world units from the cell centre
    table = np.pad(np.array(text.glyphs, dtype=np.int32), 1)
    col = np.clip(ix, -1, cols).astype(np.int32) + 1
    mask = np.take(table, (np.clip(iy, -1, rows).astype(np.int32) + 1) * (cols + 2) + col)

    gw, gh, s = 0.3 * cw, 0.36 * ch, text.stroke / 2  # glyph half-width, half-height, stroke
    across, left, right = np.abs(lx) - gw, np.abs(lx + gw) - s, np.abs(lx - gw) - s
    upper, lower = np.abs(ly + gh / 2) - gh / 2, np.abs(ly - gh / 2) - gh / 2
    segments = (  # a (top), b, c, d (bottom), e, f, g (middle)
        np.maximum(across, np.abs(ly + gh) - s),
        np.maximum(right, upper),
        np.maximum(right, lower),
        np.maximum(across, np.abs(ly - gh) - s),
        np.maximum(left, lower),
        np.maximum(left, upper),
        np.maximum(across, np.abs(ly) - s),
    )
    d = None
    for k, seg in enumerate(segments):
        seg += (1 - ((mask >> k) & 1)).astype(np.float32) * 1e3  # unlit segments move far away
        d = seg if d is None else np.minimum(d, seg)
    _blend(dst, _cover(d, px), _rgb(text.ink))


def _apply_lighting(canvas: np.ndarray, view: _View, light: Lighting) -> None:
    t = view.t
    gain = 1.0 + light.ramp * t + light.flicker * np.sin(2 * math.pi * light.flicker_freq * t)
    gain = np.clip(gain * (1.0 + np.array(light.tint)[:, None] * t), 0.3, 2.0)  # (3, T)
    canvas *= gain.astype(np.float32)[:, :, None, None]
    if light.spot > 0:
        center = np.array(light.spot_start) + t[:, None] * np.array(light.spot_velocity)
        x, y = _coords(view, center, 0.0, light.spot_radius)
        canvas *= 1.0 + light.spot / (1.0 + x * x + y * y)


# ----------------------------------------------------------------------------------------------
# Frames


def check_render_args(num_frames: int, size: int, fps: float) -> None:
    """ValueError for a clip `render` cannot draw ."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if size < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")


def _check_names(scene: SceneSpec) -> None:
    """Refuse hand-built scenes with names that render does not know."""
    names = [(scene.background.kind, BACKGROUNDS)]
    for obj in scene.objects:
        names += [(obj.shape, SHAPES), (obj.fill, FILLS), (obj.motion, MOTIONS)]
    for name, known in names:
        if name not in known:
            raise ValueError(f"unknown {name!r}, expected one of {known}")


def _render_frames(scene: SceneSpec, t: np.ndarray, size: int) -> np.ndarray:
    """Frames at times t (T,) seconds -> (T, size, size, 3) uint8."""
    view = _make_view(scene.camera, t, size)
    canvas = np.empty((3, len(t), size, size), np.float32)
    _draw_background(canvas, view, scene.background)
    last = len(scene.objects)
    for depth in range(last + 1):
        if scene.dots is not None and min(scene.dots.depth, last) == depth:
            _draw_dots(canvas, view, scene.dots)
        if scene.text is not None and min(scene.text.depth, last) == depth:
            _draw_text(canvas, view, scene.text)
        if depth < last:
            _draw_object(canvas, view, scene.objects[depth])
    _apply_lighting(canvas, view, scene.lighting)
    canvas *= 255.0
    canvas += 0.5
    np.clip(canvas, 0.0, 255.0, out=canvas)
    return canvas.astype(np.uint8).transpose(1, 2, 3, 0)


def render(scene: SceneSpec, num_frames: int = 17, size: int = 64, fps: float = 8.0) -> np.ndarray:
    """Draw a scene. Returns (T, size, size, 3) uint8; frame k shows time k / fps seconds."""
    check_render_args(num_frames, size, fps)
    _check_names(scene)
    out = np.empty((num_frames, size, size, 3), np.uint8)
    step = max(1, CHUNK_PIXELS // (size * size))
    for start in range(0, num_frames, step):
        times = np.arange(start, min(start + step, num_frames)) / fps
        out[start : start + step] = _render_frames(scene, times, size)
    return out


__all__ = ["check_render_args", "render"]
