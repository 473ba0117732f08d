"""Clips with natural-image statistics: textured, occluding layers seen by a moving camera.

The procedural scenes of `synthetic.render` are flat shapes on flat or periodic backgrounds;
real footage is not. This generator draws what real footage has and they lack:

* content with a 1/f amplitude spectrum: dead-leaves backgrounds (occluding discs, ellipses and
  boxes with power-law sizes, density ~ r^-3), 1/f^b coloured noise, soft gradients, or a crop
  of a real photograph (`photos`, e.g. the stills that ship in pip wheels, training/photos.py);
* occlusion and depth: 0-4 foreground objects (blobs, ellipses, rounded boxes) with their own
  motion, rotation and scaling, textured with noise, flat shaded colour or a photo patch, each
  casting a soft shadow, moving with parallax against the background;
* a camera: pan, zoom, roll and hand-held shake;
* optics and sensor: defocus (blurred textures), motion blur (three sub-frame samples averaged),
  lighting that changes over time, vignetting, shot and read noise, 8-bit output.

A clip is a pure function of its seed (numpy's `default_rng(seed)` draws every parameter) and of
the photos given. Frames are drawn at twice the output size with torch's `grid_sample` and then
averaged 2x2, so edges are anti-aliased the way a camera's downscaled footage is.

Legend: T frames, S texture side, R = 2 * size the drawing size. Textures are (3, S, S) float32 in
[0, 1] covering the world square [-WORLD, WORLD]^2; the first frame's view is [-1, 1]^2 at zoom 1.
Output (T, size, size, 3) uint8, as `synthetic.make_clip`.
"""

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .render import check_render_args

WORLD = 2.5  # half side of the world square a background texture covers
TEXELS_PER_UNIT = 64  # at size 64: one texel per drawn pixel at zoom 1 (scaled with size)


# ----------------------------------------------------------------------------------------------
# Textures: (3, S, S) float32 in [0, 1]


def pink_noise(rng: np.random.Generator, side: int, beta: float) -> np.ndarray:
    """A (side, side) field with amplitude spectrum 1 / f^beta, zero mean, unit std."""
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = rng.standard_normal((side, side // 2 + 1)) + 1j * rng.standard_normal(
        (side, side // 2 + 1)
    )
    spectrum /= f**beta
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(side, side))
    return (field / (field.std() + 1e-8)).astype(np.float32)


def natural_color(rng: np.random.Generator, palette: np.ndarray | None = None) -> np.ndarray:
    """One RGB colour in [0, 1]: a pixel of `palette` ((N, 3) colours of photos) if given,
    else a muted HSV draw (low saturation and mid values are most common in real scenes)."""
    if palette is not None and len(palette):
        c = palette[rng.integers(len(palette))]
        return np.clip(c * rng.uniform(0.8, 1.2) + rng.normal(0, 0.04, 3), 0, 1).astype(np.float32)
    h = rng.uniform()
    s = rng.beta(1.3, 2.2)
    v = rng.beta(2.2, 1.6)
    return np.array(_hsv_to_rgb(h, s, v), dtype=np.float32)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def noise_texture(rng: np.random.Generator, side: int, palette=None) -> np.ndarray:
    """Coloured 1/f^b noise around a natural colour: (3, side, side)."""
    base = natural_color(rng, palette)
    lum = pink_noise(rng, side, rng.uniform(0.9, 1.5)) * rng.uniform(0.05, 0.25)
    chroma = pink_noise(rng, side, rng.uniform(1.2, 1.8)) * rng.uniform(0.0, 0.08)
    tint = rng.normal(0, 1, 3).astype(np.float32)
    tint /= np.linalg.norm(tint) + 1e-8
    tex = base[:, None, None] * (1 + lum[None]) + tint[:, None, None] * chroma[None]
    return np.clip(tex, 0, 1).astype(np.float32)


def gradient_texture(rng: np.random.Generator, side: int, palette=None) -> np.ndarray:
    """A soft two-colour gradient (sky, wall, floor) with a faint 1/f texture: (3, side, side)."""
    a, b = natural_color(rng, palette), natural_color(rng, palette)
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side - 0.5
    ramp = np.clip(0.5 + (x * math.cos(angle) + y * math.sin(angle)) * rng.uniform(0.6, 2.0), 0, 1)
    ramp = ramp ** rng.uniform(0.5, 2.0)
    tex = a[:, None, None] * (1 - ramp[None]) + b[:, None, None] * ramp[None]
    tex *= 1 + pink_noise(rng, side, 1.6)[None] * rng.uniform(0.0, 0.06)
    return np.clip(tex, 0, 1).astype(np.float32)


def dead_leaves(rng: np.random.Generator, side: int, palette=None, leaves: int = 350) -> np.ndarray:
    """Occluding leaves (ellipses, boxes) with radii of density ~ r^-3, painted back to front
    over a noise texture, anti-aliased, each lit from one side: (3, S, S)."""
    canvas = noise_texture(rng, side, palette)
    r_min, r_max = 1.5 * side / 320, side * rng.uniform(0.1, 0.25)
    k = 1 - (r_min / r_max) ** 2
    radii = r_min / np.sqrt(1 - rng.uniform(size=leaves) * k)
    centres = rng.uniform(0, side, (leaves, 2))
    angles = rng.uniform(0, math.pi, leaves)
    aspects = rng.uniform(0.4, 1.0, leaves)
    boxes = rng.uniform(size=leaves) < 0.3
    shades = rng.uniform(-0.15, 0.15, leaves)
    colors = [natural_color(rng, palette) for _ in range(leaves)]
    for r, (cx, cy), a, aspect, box, shade, color in zip(
        radii, centres, angles, aspects, boxes, shades, colors
    ):
        x0, x1 = max(0, int(cx - r - 1)), min(side, int(cx + r + 2))
        y0, y1 = max(0, int(cy - r - 1)), min(side, int(cy + r + 2))
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
        ca, sa = math.cos(a), math.sin(a)
        u, v = dx * ca + dy * sa, dy * ca - dx * sa
        if box:
            d = np.maximum(np.abs(u) - r, np.abs(v) - r * aspect)
        else:  # ellipse: approximate signed distance in pixels
            d = (np.sqrt(u * u + (v / aspect) ** 2) - r) * math.sqrt(aspect)
        alpha = np.clip(0.5 - d, 0, 1)
        lit = color[:, None, None] * (1 + u * (shade / r))
        patch = canvas[:, y0:y1, x0:x1]
        patch += alpha * (lit - patch)
    return np.clip(canvas, 0, 1).astype(np.float32)


def photo_crop(rng: np.random.Generator, photo: np.ndarray, side: int) -> np.ndarray:
    """A random crop of a (H, W, 3) float32 photo, flipped half the time, with a small colour
    jitter, resized (antialiased) to (3, side, side)."""
    H, W = photo.shape[:2]
    c = int(min(H, W) * rng.uniform(0.5, 1.0))
    y, x = rng.integers(0, H - c + 1), rng.integers(0, W - c + 1)
    crop = torch.from_numpy(np.ascontiguousarray(photo[y : y + c, x : x + c])).permute(2, 0, 1)
    crop = F.interpolate(crop[None], size=(side, side), mode="bilinear", antialias=True)[0]
    if rng.uniform() < 0.5:
        crop = crop.flip(-1)
    gain = torch.from_numpy(rng.uniform(0.85, 1.15, 3).astype(np.float32))[:, None, None]
    gray = crop.mean(0, keepdim=True)
    sat = float(rng.uniform(0.7, 1.2))
    crop = (gray + (crop - gray) * sat) * gain
    crop = crop.clamp(0, 1) ** float(rng.uniform(0.8, 1.25))
    return crop.numpy()


def blur(tex: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a (3, S, S) texture, reflect-padded (defocus)."""
    if sigma < 0.3:
        return tex
    r = int(math.ceil(3 * sigma))
    g = torch.exp(-((torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2) / 2)
    g = (g / g.sum()).to(torch.float32)
    x = torch.from_numpy(tex)[:, None]  # (3, 1, S, S)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), g.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), g.view(1, 1, -1, 1))
    return x[:, 0].numpy()


# ----------------------------------------------------------------------------------------------
# Motion: every track is (T,) or (T, 2) numpy arrays of the frame times


def _smooth_path(rng: np.random.Generator, t: np.ndarray, speed: float) -> np.ndarray:
    """A smooth 2-D path through the origin: constant velocity + a slow curve + sway: (T, 2)."""
    v = rng.normal(0, speed, 2)
    acc = rng.normal(0, speed * 0.5, 2)
    sway = rng.normal(0, speed * 0.3, 2)
    freq, phase = rng.uniform(0.2, 0.8), rng.uniform(0, 2 * math.pi)
    s = np.sin(2 * math.pi * freq * t[:, None] + phase) - math.sin(phase)
    return v * t[:, None] + 0.5 * acc * t[:, None] ** 2 + sway * s


def _shake(rng: np.random.Generator, t: np.ndarray, amount: float) -> np.ndarray:
    """Hand-held jitter: a random walk smoothed over a few frames, (T, 2) world units."""
    steps = rng.normal(0, amount, (len(t) + 4, 2)).cumsum(0)
    kernel = np.ones(5) / 5
    return np.stack([np.convolve(steps[:, i], kernel, "valid") for i in range(2)], 1)[: len(t)]


# ----------------------------------------------------------------------------------------------
# Drawing with grid_sample


def _col(x: np.ndarray) -> torch.Tensor:
    """(T,) numpy -> (T, 1, 1) float32 tensor, to broadcast over a frame's pixels."""
    return torch.from_numpy(np.asarray(x, dtype=np.float32))[:, None, None]


def _at(ts: np.ndarray, t: np.ndarray, track: np.ndarray) -> np.ndarray:
    """A (T,) or (T, 2) track at sub-frame times ts (linear between frames, held at the ends)."""
    if track.ndim == 1:
        return np.interp(ts, t, track)
    return np.stack([np.interp(ts, t, track[:, i]) for i in range(track.shape[1])], 1)


def _sample(tex: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """tex (3, S, S) at coords (T, R, R, 2) in [-1, 1] (x, y) -> (T, 3, R, R), reflected."""
    T, R = coords.shape[:2]
    out = F.grid_sample(
        tex[None], coords.reshape(1, T * R, R, 2), "bilinear", "reflection", align_corners=False
    )
    return out[0].view(3, T, R, R).transpose(0, 1)


def _blob_distance(x: torch.Tensor, y: torch.Tensor, kind: int, shape: np.ndarray):
    """Signed distance (local units, negative inside) of an object's outline at local (x, y).

    kind 0: ellipse (shape[0] aspect); 1: rounded box (aspect, corner); 2: blob whose radius is
    1 + sum_k a_k cos(k phi + p_k) (shape holds a_2..a_4 then p_2..p_4)."""
    if kind == 0:
        aspect = float(shape[0])
        return (torch.sqrt(x * x + (y / aspect) ** 2) - 1) * math.sqrt(aspect)
    if kind == 1:
        aspect, corner = float(shape[0]), float(shape[1])
        qx, qy = x.abs() - (1 - corner), y.abs() - (aspect - corner)
        outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
        return outside + torch.maximum(qx, qy).clamp_max(0) - corner
    phi = torch.atan2(y, x)
    radius = torch.ones_like(phi)
    for i, k in enumerate((2, 3, 4)):
        radius = radius + float(shape[i]) * torch.cos(k * phi + float(shape[3 + i]))
    return (torch.sqrt(x * x + y * y) - radius) * 0.8


def natural_clip(
    seed: int,
    num_frames: int = 17,
    size: int = 64,
    fps: float = 8.0,
    *,
    photos: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """The natural-statistics clip of `seed`: (num_frames, size, size, 3) uint8.

    photos: (H, W, 3) float32 images in [0, 1]. With photos, the background is a crop of one
    of them and some objects carry photo patches; without, the background is dead leaves, 1/f
    noise or a gradient.
    """
    check_render_args(num_frames, size, fps)
    rng = np.random.default_rng(seed)
    R = 2 * size
    S = int(2 * WORLD * TEXELS_PER_UNIT * size / 64)
    t = np.arange(num_frames) / fps  # frame times (s)
    # Tracks are drawn on a grid that does not depend on the clip's length (from one frame
    # before the first to past frame 256), so a clip is the first frames of any longer one.
    tg = np.arange(-1, max(num_frames, 256) + 2) / fps
    palette = None
    if photos:
        src = photos[rng.integers(len(photos))]
        palette = src[:: max(1, src.shape[0] // 24), :: max(1, src.shape[1] // 24)].reshape(-1, 3)

    # background texture, defocused or not
    if photos:
        bg = photo_crop(rng, photos[rng.integers(len(photos))], S)
    else:
        kind = rng.choice(3, p=[0.55, 0.3, 0.15])
        bg = (dead_leaves, noise_texture, gradient_texture)[kind](rng, S, palette)
    if rng.uniform() < 0.35:
        bg = blur(bg, rng.uniform(0.5, 3.0) * S / (WORLD * 2 * TEXELS_PER_UNIT) * 2)

    # camera: pan, zoom, roll, shake
    zoom = rng.uniform(0.55, 1.1) * np.exp(rng.normal(0, 0.12) * tg)
    roll = rng.normal(0, 0.05) + rng.normal(0, 0.08) * tg
    pan = _smooth_path(rng, tg, rng.uniform(0.0, 0.25)) + rng.uniform(-0.5, 0.5, 2)
    if rng.uniform() < 0.4:
        pan = pan + _shake(rng, tg, rng.uniform(0.002, 0.012))
    motion_blur = rng.uniform() < 0.3
    sub = np.array([-1 / 3, 0.0, 1 / 3]) * rng.uniform(0.3, 1.0) if motion_blur else np.zeros(1)

    objects = []
    for _ in range(rng.choice(5, p=[0.15, 0.3, 0.25, 0.18, 0.12])):
        radius = 0.1 * 7.0 ** rng.uniform()  # log-uniform in [0.1, 0.7] world units
        tex_kind = rng.choice(3, p=[0.4, 0.3, 0.3] if photos else [0.6, 0.4, 0.0])
        if tex_kind == 0:
            tex = noise_texture(rng, 96, palette)
        elif tex_kind == 1:
            tex = np.broadcast_to(natural_color(rng, palette)[:, None, None], (3, 8, 8)).copy()
        else:
            tex = photo_crop(rng, photos[rng.integers(len(photos))], 96)
        objects.append(
            dict(
                kind=int(rng.choice(3, p=[0.35, 0.25, 0.4])),
                shape=np.concatenate(
                    [rng.uniform(0.5, 1.0, 1), rng.uniform(0.05, 0.15, 2), rng.uniform(0, 6, 3)]
                ),
                radius=radius,
                start=rng.uniform(-0.9, 0.9, 2) + pan[0],
                path=_smooth_path(rng, tg, rng.uniform(0.05, 0.5)),
                spin=rng.normal(0, 0.6),
                angle=rng.uniform(0, 2 * math.pi),
                grow=rng.normal(0, 0.15),
                parallax=rng.uniform(1.0, 1.4),
                tex=torch.from_numpy(tex),
                light=rng.normal(0, 0.25, 2),
                shadow=rng.normal(0, 0.06, 2) if rng.uniform() < 0.7 else None,
                shadow_strength=rng.uniform(0.2, 0.5),
            )
        )
    # lighting over time, vignetting, noise
    gain = 1 + rng.normal(0, 0.04) * t  # drifts per second, so a clip's prefix is a clip
    if rng.uniform() < 0.3:
        gain = gain + rng.uniform(0.02, 0.1) * np.sin(2 * math.pi * rng.uniform(0.2, 1.0) * t)
    warm = rng.normal(0, 0.02, 3) * t[:, None]
    vignette = rng.uniform(0.0, 0.35)
    read_noise, shot_noise = rng.uniform(0, 0.012), rng.uniform(0, 0.02)
    noise_rng = np.random.default_rng(rng.integers(1 << 62))

    bg_t = torch.from_numpy(bg)
    grid = (torch.arange(R, dtype=torch.float32) * 2 + 1) / R - 1
    gv, gu = torch.meshgrid(grid, grid, indexing="ij")  # (R, R): v rows (y), u columns (x)
    frames = torch.zeros(num_frames, 3, R, R)
    for dt in sub:
        ts = t + dt / fps
        z, rl = _at(ts, tg, zoom), _at(ts, tg, roll)
        p = _at(ts, tg, pan)

        def camera(parallax: float, z=z, rl=rl, p=p):
            """World coordinates of every drawn pixel: (T, R, R) x and y."""
            zc, zs = _col(z * np.cos(rl)), _col(z * np.sin(rl))
            px, py = _col(p[:, 0] * parallax), _col(p[:, 1] * parallax)
            return zc * gu - zs * gv + px, zs * gu + zc * gv + py

        wx, wy = camera(1.0)
        canvas = _sample(bg_t, torch.stack([wx / WORLD, wy / WORLD], -1))
        pixel = 2 * _col(z) / R  # world width of a drawn pixel
        for o in objects:
            wx, wy = camera(o["parallax"])
            c = o["start"] + _at(ts, tg, o["path"])
            ang = o["angle"] + o["spin"] * ts
            scale = o["radius"] * np.exp(o["grow"] * ts)
            cos, sin, sc = _col(np.cos(ang)), _col(np.sin(ang)), _col(scale)
            cx, cy = _col(c[:, 0]), _col(c[:, 1])
            dx, dy = wx - cx, wy - cy
            lx, ly = (cos * dx + sin * dy) / sc, (-sin * dx + cos * dy) / sc
            px_local = pixel / sc
            if o["shadow"] is not None:
                sx, sy = o["shadow"]
                slx = (cos * (dx - sx) + sin * (dy - sy)) / sc
                sly = (-sin * (dx - sx) + cos * (dy - sy)) / sc
                d = _blob_distance(slx, sly, o["kind"], o["shape"])
                soft = (0.5 - d / (px_local + 0.25)).clamp(0, 1)
                canvas = canvas * (1 - o["shadow_strength"] * soft[:, None])
            d = _blob_distance(lx, ly, o["kind"], o["shape"])
            alpha = (0.5 - d / px_local).clamp(0, 1)[:, None]  # (T, 1, R, R)
            color = _sample(o["tex"], torch.stack([lx, ly], -1) / 1.1)
            lgx, lgy = o["light"]
            color = color * (1 + (lgx * lx + lgy * ly).clamp(-1.5, 1.5)[:, None] * 0.5)
            canvas = canvas * (1 - alpha) + color * alpha
        frames += canvas / len(sub)

    r2 = (gu**2 + gv**2) / 2
    frames = frames * (1 - vignette * r2)
    frames = frames * torch.from_numpy(gain).float()[:, None, None, None]
    frames = frames + torch.from_numpy(warm).float()[:, :, None, None]
    frames = F.avg_pool2d(frames.clamp(0, 1), 2)  # (T, 3, size, size)
    noise = torch.from_numpy(noise_rng.standard_normal(frames.shape).astype(np.float32))
    frames = frames + noise * (read_noise + shot_noise * frames.sqrt())
    out = (frames.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    return out.permute(0, 2, 3, 1).contiguous().numpy()
