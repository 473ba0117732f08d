"""Procedural video clips, deterministic from a seed, for training, tests and demos.

Real footage cannot be used to train the demo model, so this module draws structured synthetic
scenes whose content spans coarse to fine: layout, colours and motion (what the first tokens of a
VideoFlexTok sequence should capture), then thin stripes, dots, outlines and text-like marks (what
the last tokens add).

A scene is sampled once from `numpy.random.default_rng(seed)` (split into one stream per part:
background, objects, details, camera, lighting) into a frozen `SceneSpec` written in world
coordinates: the first frame spans [-1, 1] on both axes, y points down, time is in seconds.
It is then rendered at any size, frame count and frame rate, so the same seed gives the same scene
at 64 px and 128 px, and a 17-frame clip is the first 17 frames of the 33-frame one.

Drawing is `synthetic_render.render`: numpy, analytically anti-aliased, the same bytes for a seed
in every run and process.

Legend: T frames, H = W = size pixels. Clips are (T, H, W, 3) uint8; the tensors the tokenizer
takes are (3, T, H, W) float32 in [-1, 1].

Example:
    >>> clip = make_clip(7)                       # (17, 64, 64, 3) uint8
    >>> batch = make_batch(range(4), 17, 128)     # (4, 3, 17, 128, 128) float32 in [-1, 1]
    >>> print(sample_scene(7).describe())
"""

import bisect
import colorsys
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .synthetic_render import BACKGROUNDS, FILLS, MOTIONS, SHAPES, check_render_args, render

RGB = tuple[float, float, float]
Vec = tuple[float, float]

# Seven-segment masks of digits and letters (bit k lights segment "abcdefg"[k]: top, top right,
# bottom right, bottom, bottom left, top left, middle): glyph-like marks without a font.
GLYPHS = tuple(
    bytes.fromhex("3f 06 5b 4f 66 6d 7d 07 7f 6f 77 7c 39 5e 79 71 76 38 73 3e 5c 54 50 78 6e")
)


# ----------------------------------------------------------------------------------------------
# Scene description


@dataclass(frozen=True)
class Camera:
    """A view of the world: centre pan + sway, half-width zoom, roll, all functions of time."""

    pan: Vec = (0.0, 0.0)  # view-centre velocity, world units / s
    sway: float = 0.0  # amplitude of a slow horizontal oscillation, world units
    sway_freq: float = 0.0  # Hz
    zoom: float = 1.0  # half-width of the view at t = 0, world units (1 = the world frame)
    zoom_rate: float = 0.0  # d log(zoom) / dt in 1/s; > 0 zooms out
    roll_rate: float = 0.0  # rad / s


@dataclass(frozen=True)
class Lighting:
    """Global colour changes: brightness ramp and flicker, tint drift, a moving spotlight."""

    ramp: float = 0.0  # brightness change per second (0.05 = +5 %/s)
    flicker: float = 0.0  # amplitude of a brightness oscillation
    flicker_freq: float = 0.0  # Hz; slow enough to read at 8 fps
    tint: RGB = (0.0, 0.0, 0.0)  # per-channel gain change per second (colour temperature drift)
    spot: float = 0.0  # peak extra brightness of a moving spotlight, 0 = none
    spot_start: Vec = (0.0, 0.0)  # world position at t = 0
    spot_velocity: Vec = (0.0, 0.0)  # world units / s
    spot_radius: float = 0.6  # world units where the spotlight falls to half


@dataclass(frozen=True)
class Background:
    """The backdrop, drawn in world coordinates (it pans and zooms with the camera)."""

    kind: str  # one of BACKGROUNDS
    color: RGB  # base colour (top of the sky for "horizon")
    color2: RGB  # second colour of gradients and textures (sky at the horizon)
    angle: float = 0.0  # direction of gradients and stripes, rad
    period: float = 0.5  # stripes / checker / grid spacing or noise cell size, world units
    width: float = 0.5  # stripe duty cycle, or grid line width in world units
    center: Vec = (0.0, 0.0)  # radial gradient centre
    drift: Vec = (0.0, 0.0)  # texture velocity, world units / s
    horizon: float = 0.0  # horizon height ("horizon" only)
    ground: RGB = (0.0, 0.0, 0.0)  # ground colours ("horizon" only)
    ground2: RGB = (0.0, 0.0, 0.0)
    ground_tiles: bool = False  # perspective checkerboard floor instead of a plain one
    seed: int = 0  # random table of the value noise


@dataclass(frozen=True)
class ObjectSpec:
    """One moving shape. Geometry is in local units: the shape fits in the unit circle."""

    shape: str  # one of SHAPES
    radius: float  # world radius of the unit circle at scale 1
    aspect: float = 1.0  # ellipse / box / ring height over width
    sides: int = 5  # polygon sides or star points
    thickness: float = 0.3  # ring width or cross arm half-width, local units
    corner: float = 0.0  # box corner radius, local units
    fill: str = "flat"  # one of FILLS
    color: RGB = (1.0, 1.0, 1.0)
    color2: RGB = (0.0, 0.0, 0.0)  # second colour of gradient / stripes fills
    stripe_period: float = 0.4  # local units
    stripe_angle: float = 0.0  # rad, in the object frame (stripes turn with the object)
    outline: float = 0.0  # outline width in world units, 0 = none
    outline_color: RGB = (0.0, 0.0, 0.0)
    hollow: bool = False  # draw the outline only
    motion: str = "bounce"  # one of MOTIONS
    position: Vec = (0.0, 0.0)  # world position at t = 0 (orbit: its centre)
    velocity: Vec = (0.0, 0.0)  # world units / s
    orbit: Vec = (0.0, 0.0)  # orbit radii, world units
    orbit_speed: float = 0.0  # rad / s
    orbit_phase: float = 0.0  # rad
    angle: float = 0.0  # rad at t = 0
    spin: float = 0.0  # rad / s
    pulse: float = 0.0  # relative amplitude of the scale oscillation
    pulse_freq: float = 0.0  # Hz
    pulse_phase: float = 0.0  # rad
    hue_speed: float = 0.0  # rad / s of hue rotation (around the grey axis)


@dataclass(frozen=True)
class Dots:
    """Small dots on a jittered lattice, optionally drifting (snow, confetti, stars)."""

    period: float  # lattice spacing, world units
    radius: float  # dot radius, world units
    density: float  # fraction of lattice cells holding a dot
    color: RGB
    velocity: Vec = (0.0, 0.0)  # world units / s
    depth: int = 0  # drawn before objects[depth:]
    seed: int = 0  # random table of dot positions


@dataclass(frozen=True)
class Text:
    """Rows of seven-segment glyphs, optionally on a panel: text-like marks without a font."""

    glyphs: tuple[tuple[int, ...], ...]  # rows of segment masks, 0 = space
    cell: Vec  # glyph cell width and height, world units
    stroke: float  # stroke width, world units
    ink: RGB
    panel: RGB | None = None  # panel colour, None = ink straight on the scene
    position: Vec = (0.0, 0.0)  # block centre at t = 0
    velocity: Vec = (0.0, 0.0)  # world units / s
    angle: float = 0.0  # rad
    depth: int = 0  # drawn before objects[depth:]


@dataclass(frozen=True)
class SceneSpec:
    """Everything `render` needs; `sample_scene(seed)` draws one."""

    seed: int
    difficulty: float
    background: Background
    objects: tuple[ObjectSpec, ...]  # back to front
    dots: Dots | None
    text: Text | None
    camera: Camera
    lighting: Lighting

    def describe(self) -> str:
        """One line for captions and logs, e.g. 'noise background; 3 objects (star, ...)'."""
        parts = [f"{self.background.kind} background"]
        names = ", ".join(f"{o.fill} {o.shape} ({o.motion})" for o in self.objects)
        parts.append(f"{len(self.objects)} object{'s' * (len(self.objects) > 1)}: {names}")
        parts += ["dots"] * (self.dots is not None) + ["text"] * (self.text is not None)
        cam, light = self.camera, self.lighting
        moves = [("pan", cam.pan != (0.0, 0.0) or cam.sway > 0), ("zoom", cam.zoom_rate != 0)]
        moves += [("roll", cam.roll_rate != 0)]
        if any(on for _, on in moves):
            parts.append("camera " + "+".join(name for name, on in moves if on))
        lights = [("ramp", light.ramp), ("flicker", light.flicker), ("spotlight", light.spot)]
        lights += [("tint", any(light.tint))]
        parts += [name for name, on in lights if on]
        return "; ".join(parts)


# ----------------------------------------------------------------------------------------------
# Sampling


def _hsv(h: float, s: float, v: float) -> RGB:
    return tuple(round(c, 4) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _pick(rng: np.random.Generator, options: tuple, weights: tuple | None = None):
    """One of `options` as a plain Python value (rng.choice is slow and gives numpy scalars)."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    return options[bisect.bisect(list(itertools.accumulate(weights)), rng.random() * sum(weights))]


def _uniform(rng: np.random.Generator, lo: float, hi: float, signed: bool = False) -> float:
    x = float(rng.uniform(lo, hi))
    return x * (1.0 if rng.random() < 0.5 else -1.0) if signed else x


def _object_color(rng: np.random.Generator, hue: float, value: float) -> RGB:
    """A colour that stands out from a background of hue `hue` and brightness `value`."""
    if rng.random() < 0.1:  # white, black or grey objects
        return _hsv(0.0, 0.0, _pick(rng, (0.08, 0.95, 0.5)) if value < 0.7 else 0.1)
    h = hue + _pick(rng, (0.5, 0.33, -0.33, 0.15, -0.15)) + rng.normal(0.0, 0.04)
    bright = value < 0.55 or rng.random() < 0.5
    v = _uniform(rng, 0.8, 1.0) if bright else _uniform(rng, 0.15, 0.45)
    return _hsv(h, _uniform(rng, 0.75, 1.0) if bright else _uniform(rng, 0.4, 0.9), v)


def _sample_background(rng: np.random.Generator, d: float, hue: float, value: float) -> Background:
    weights = (1.0 - 0.5 * d, 1.2, 0.8, 0.3 + d, 0.3 + d, 0.4 + d, 0.1 + 0.7 * d, 0.9)
    kind = _pick(rng, BACKGROUNDS, weights)
    sat = _uniform(rng, 0.15, 0.7)
    color = _hsv(hue, sat, value)
    shade = value + _uniform(rng, 0.15, 0.35) * (-1.0 if value > 0.6 else 1.0)
    color2 = _hsv(hue + _uniform(rng, -0.12, 0.12), sat * _uniform(rng, 0.6, 1.3), shade)
    angle = _uniform(rng, 0.0, math.pi)
    common = dict(kind=kind, color=color, color2=color2, angle=angle, seed=int(rng.integers(2**31)))
    drift = (0.0, 0.0)
    if rng.random() < d:
        drift = (_uniform(rng, -0.15, 0.15), _uniform(rng, -0.15, 0.15))
    if kind in ("stripes", "checker"):
        period = _uniform(rng, 0.12, 0.6) if kind == "stripes" else _uniform(rng, 0.25, 0.7)
        return Background(**common, period=period, width=_uniform(rng, 0.3, 0.7), drift=drift)
    if kind == "noise":
        return Background(**common, period=_uniform(rng, 0.3, 0.9), drift=drift)
    if kind == "grid":
        period, width = _uniform(rng, 0.15, 0.4), _uniform(rng, 0.02, 0.04)  # ~1 px lines
        return Background(**common, period=period, width=width)
    if kind == "radial":
        center = (_uniform(rng, -0.8, 0.8), _uniform(rng, -0.8, 0.8))
        return Background(**common, center=center, period=_uniform(rng, 1.0, 2.5))
    if kind == "horizon":
        sky_hue = _pick(rng, (0.58, 0.6, 0.08, 0.75, hue))
        dusk = rng.random() < 0.3
        sky = _hsv(sky_hue, _uniform(rng, 0.3, 0.8), _uniform(rng, 0.25, 0.5) if dusk else 0.9)
        sky2 = _hsv(sky_hue + _uniform(rng, -0.1, 0.1), _uniform(rng, 0.1, 0.5), 1.0 - 0.3 * dusk)
        ground_hue = _pick(rng, (0.3, 0.25, 0.08, 0.1, hue))
        ground = _hsv(ground_hue, _uniform(rng, 0.3, 0.8), _uniform(rng, 0.3, 0.7))
        ground2 = _hsv(ground_hue + 0.05, _uniform(rng, 0.2, 0.6), _uniform(rng, 0.15, 0.5))
        return Background(
            kind=kind,
            color=sky,
            color2=sky2,
            horizon=_uniform(rng, -0.3, 0.4),
            period=_uniform(rng, 0.5, 1.5),
            ground=ground,
            ground2=ground2,
            ground_tiles=bool(rng.random() < 0.6),
            drift=(0.0, _uniform(rng, 0.2, 0.8) * (rng.random() < 0.5)),  # walking forward
        )
    return Background(**common)


def _sample_object(rng: np.random.Generator, d: float, hue: float, value: float) -> ObjectSpec:
    shape = _pick(rng, SHAPES, (1.3, 1.2, 1.0, 0.7, 0.8, 0.5))
    radius = _uniform(rng, 0.12, 0.4)
    geometry = {
        "ellipse": dict(aspect=1.0 if rng.random() < 0.5 else _uniform(rng, 0.45, 0.9)),
        "box": dict(aspect=_uniform(rng, 0.35, 1.0), corner=_uniform(rng, 0.0, 0.3)),
        "polygon": dict(sides=_pick(rng, (3, 4, 5, 6), (3, 1, 2, 2))),
        "ring": dict(aspect=_pick(rng, (1.0, 0.7)), thickness=_uniform(rng, 0.15, 0.35)),
        "star": dict(sides=_pick(rng, (5, 6, 7, 8), (3, 2, 1, 1))),
        "cross": dict(thickness=_uniform(rng, 0.18, 0.35)),
    }[shape]
    fill = _pick(rng, FILLS, (1.5, 0.4 + d, 0.3 + d, 0.8))
    style = dict(fill=fill, color=_object_color(rng, hue, value))
    style.update(color2=_object_color(rng, hue, value), stripe_period=_uniform(rng, 0.25, 0.6))
    style.update(stripe_angle=_uniform(rng, 0.0, math.pi))
    hollow = shape != "ring" and rng.random() < 0.12
    if hollow or rng.random() < 0.2 + 0.2 * d:  # 1-2 px at 64 px
        dark = rng.random() < 0.6
        ink = _hsv(0.0, 0.0, 0.08) if dark else _object_color(rng, hue, value)
        style.update(outline=_uniform(rng, 0.03, 0.07), outline_color=ink, hollow=hollow)

    # A few pixels per frame at 64 px and 8 fps: 1 world unit / s is 4 px / frame.
    motion = _pick(rng, MOTIONS, (0.55, 0.25, 0.2))
    speed = _uniform(rng, 0.15, 0.45 + 0.55 * d)
    heading = _uniform(rng, 0.0, 2 * math.pi)
    if motion == "wrap":  # crosses the frame, mostly sideways: enters and leaves
        heading = _pick(rng, (0.0, math.pi)) + float(rng.normal(0.0, 0.3))
        speed *= 1.3
    where = (_uniform(rng, -0.7, 0.7), _uniform(rng, -0.7, 0.7))
    if motion == "wrap":
        where = (_uniform(rng, -1.3, 1.3), where[1])
    move = dict(motion=motion, position=where)
    move.update(velocity=(speed * math.cos(heading), speed * math.sin(heading)))
    if motion == "orbit":
        move.update(position=(_uniform(rng, -0.4, 0.4), _uniform(rng, -0.4, 0.4)))
        move.update(orbit=(_uniform(rng, 0.15, 0.6), _uniform(rng, 0.15, 0.6)))
        move.update(orbit_speed=_uniform(rng, 0.5, 1.5, signed=True))
        move.update(orbit_phase=_uniform(rng, 0.0, 2 * math.pi), velocity=(0.0, 0.0))
    move.update(angle=_uniform(rng, 0.0, 2 * math.pi))
    if rng.random() < 0.6:
        move.update(spin=_uniform(rng, 0.2, 1.2 + d, signed=True))
    if rng.random() < 0.2 + 0.3 * d:
        move.update(pulse=_uniform(rng, 0.08, 0.25), pulse_freq=_uniform(rng, 0.2, 0.7))
        move.update(pulse_phase=_uniform(rng, 0.0, 2 * math.pi))
    if rng.random() < 0.1 + 0.3 * d:
        move.update(hue_speed=_uniform(rng, 0.4, 1.2, signed=True))
    return ObjectSpec(shape=shape, radius=radius, **geometry, **style, **move)


def _sample_dots(rng: np.random.Generator, value: float, depth: int) -> Dots:
    period = _uniform(rng, 0.1, 0.3)
    kind = _pick(rng, ("stars", "snow", "confetti"))
    color = _hsv(0.0, 0.0, 0.95 if value < 0.6 else 0.15)
    velocity = (0.0, 0.0)
    if kind == "snow":
        velocity = (_uniform(rng, -0.1, 0.1), _uniform(rng, 0.15, 0.45))
    if kind == "confetti":
        color = _hsv(rng.random(), _uniform(rng, 0.6, 1.0), 1.0 if value < 0.6 else 0.5)
        velocity = (_uniform(rng, -0.3, 0.3), _uniform(rng, -0.3, 0.3))
    radius = min(_uniform(rng, 0.018, 0.04), 0.3 * period)
    return Dots(
        period=period,
        radius=radius,
        density=_uniform(rng, 0.2, 0.7),
        color=color,
        velocity=velocity,
        depth=depth,
        seed=int(rng.integers(2**31)),
    )


def _sample_text(rng: np.random.Generator, value: float, depth: int) -> Text:
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(3, 9))
    width = _uniform(rng, 0.06, 0.12)
    cell = (width, width * _uniform(rng, 1.4, 1.8))
    lines = []
    for r in range(rows):
        length = cols if r < rows - 1 else int(rng.integers(1, cols + 1))
        line = [_pick(rng, GLYPHS) if rng.random() > 0.18 else 0 for _ in range(length)]
        lines.append(tuple(line) + (0,) * (cols - length))
    style = _pick(rng, ("paper", "led", "bare"))
    if style == "paper":
        panel, ink = _hsv(rng.random(), _uniform(rng, 0.0, 0.2), 0.95), _hsv(0.6, 0.3, 0.1)
    elif style == "led":
        panel, ink = _hsv(0.0, 0.0, 0.08), _hsv(_pick(rng, (0.0, 0.08, 0.33, 0.5)), 0.8, 1.0)
    else:
        panel, ink = None, _hsv(rng.random(), 0.3, 0.1 if value > 0.55 else 0.97)
    half = (cols * cell[0] / 2 + cell[0] / 2, rows * cell[1] / 2 + cell[0] / 2)
    where = tuple(_uniform(rng, -max(0.9 - h, 0.0), max(0.9 - h, 0.0)) for h in half)
    velocity = (0.0, 0.0)
    if rng.random() < 0.5:
        velocity = (_uniform(rng, -0.2, 0.2), _uniform(rng, -0.1, 0.1))
    return Text(
        glyphs=tuple(lines),
        cell=cell,
        stroke=cell[0] * _uniform(rng, 0.18, 0.3),
        ink=ink,
        panel=panel,
        position=where,
        velocity=velocity,
        angle=float(np.clip(rng.normal(0.0, 0.12), -0.3, 0.3)),
        depth=depth,
    )


def _sample_camera(rng: np.random.Generator, d: float) -> Camera:
    if rng.random() > 0.15 + 0.6 * d:
        return Camera()
    cam = {}
    if rng.random() < 0.6:
        heading, speed = _uniform(rng, 0.0, 2 * math.pi), _uniform(rng, 0.05, 0.25)
        cam.update(pan=(speed * math.cos(heading), speed * math.sin(heading)))
    if rng.random() < 0.25:
        cam.update(sway=_uniform(rng, 0.05, 0.15), sway_freq=_uniform(rng, 0.1, 0.3))
    if rng.random() < 0.45 or not cam:
        cam.update(zoom=_uniform(rng, 0.8, 1.1), zoom_rate=_uniform(rng, 0.04, 0.12, signed=True))
    if rng.random() < 0.15:
        cam.update(roll_rate=_uniform(rng, 0.03, 0.1, signed=True))
    return Camera(**cam)


def _sample_lighting(rng: np.random.Generator, d: float) -> Lighting:
    if rng.random() > 0.15 + 0.45 * d:
        return Lighting()
    light = {}
    if rng.random() < 0.4:
        light.update(ramp=_uniform(rng, 0.03, 0.1, signed=True))
    if rng.random() < 0.25:
        light.update(flicker=_uniform(rng, 0.03, 0.1), flicker_freq=_uniform(rng, 0.5, 1.5))
    if rng.random() < 0.3:
        light.update(tint=tuple(round(float(rng.normal(0.0, 0.04)), 4) for _ in range(3)))
    if rng.random() < 0.35 or not light:
        heading = _uniform(rng, 0.0, 2 * math.pi)
        light.update(spot=_uniform(rng, 0.2, 0.5), spot_radius=_uniform(rng, 0.4, 0.8))
        light.update(spot_start=(_uniform(rng, -0.8, 0.8), _uniform(rng, -0.8, 0.8)))
        light.update(spot_velocity=(0.3 * math.cos(heading), 0.3 * math.sin(heading)))
    return Lighting(**light)


def sample_scene(seed: int, difficulty: float = 0.5) -> SceneSpec:
    """Draw a scene from `numpy.random.default_rng(seed)`.

    Args:
        seed: `int` >= 0.
        difficulty: `float` in [0, 1], default 0.5. 0 gives 1-2 slow shapes, mostly on plain
            or gradient backgrounds, and rarely camera moves, lighting changes, dots or text;
            1 gives up to 6 faster shapes, more textures, and all of those more often.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    d = float(difficulty)
    # Independent streams per part: the background of a seed does not depend on its object count.
    rng_bg, rng_obj, rng_detail, rng_cam, rng_light = np.random.default_rng(int(seed)).spawn(5)
    hue, value = rng_bg.random(), _uniform(rng_bg, 0.25, 0.95)
    background = _sample_background(rng_bg, d, hue, value)
    count = 1 + int(rng_obj.integers(2 + round(4 * d)))
    objects = [_sample_object(rng_obj, d, hue, value) for _ in range(count)]
    objects.sort(key=lambda o: -o.radius)  # big shapes at the back, so little is hidden for long
    dots = text = None
    if rng_detail.random() < 0.05 + 0.55 * d:
        dots = _sample_dots(rng_detail, value, _pick(rng_detail, (0, count)))
    if rng_detail.random() < 0.05 + 0.5 * d:
        text = _sample_text(rng_detail, value, int(rng_detail.integers(count + 1)))
    return SceneSpec(
        seed=int(seed),
        difficulty=d,
        background=background,
        objects=tuple(objects),
        dots=dots,
        text=text,
        camera=_sample_camera(rng_cam, d),
        lighting=_sample_lighting(rng_light, d),
    )


# ----------------------------------------------------------------------------------------------
# Public API


def make_clip(
    seed: int, num_frames: int = 17, size: int = 64, fps: float = 8.0, *, difficulty: float = 0.5
) -> np.ndarray:
    """The clip of `seed`: (num_frames, size, size, 3) uint8, the same bytes on every call."""
    return render(sample_scene(seed, difficulty), num_frames, size, fps)


def _signed(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float32 in [-1, 1]. numpy, not torch: torch's threaded
    kernels stall for milliseconds when other processes hold the cores."""
    x = clip.transpose(3, 0, 1, 2).astype(np.float32, order="C")
    x /= 127.5
    x -= 1.0
    return x


def make_clip_tensor(
    seed: int, num_frames: int = 17, size: int = 64, fps: float = 8.0, *, difficulty: float = 0.5
) -> torch.Tensor:
    """The clip of `seed` as the tokenizer takes it: (3, T, size, size) float32 in [-1, 1]."""
    return torch.from_numpy(_signed(make_clip(seed, num_frames, size, fps, difficulty=difficulty)))


def make_batch(
    seeds: Iterable[int],
    num_frames: int = 17,
    size: int = 64,
    fps: float = 8.0,
    *,
    difficulty: float = 0.5,
) -> torch.Tensor:
    """Clips of several seeds: (B, 3, T, size, size) float32 in [-1, 1]."""
    clips = [_signed(make_clip(s, num_frames, size, fps, difficulty=difficulty)) for s in seeds]
    if not clips:
        raise ValueError("seeds is empty")
    return torch.from_numpy(np.stack(clips))


class SyntheticClips(torch.utils.data.Dataset):
    """Map-style dataset for training: item i is `make_clip_tensor(first_seed + i, ...)`.

    Deterministic per index, so DataLoader workers need no seeding.
    """

    def __init__(
        self,
        length: int,
        num_frames: int = 17,
        size: int = 64,
        fps: float = 8.0,
        *,
        first_seed: int = 0,
        difficulty: float = 0.5,
    ):
        check_render_args(num_frames, size, fps)
        self.length, self.first_seed = length, first_seed
        self.num_frames, self.size, self.fps, self.difficulty = num_frames, size, fps, difficulty

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} clips")
        seed = self.first_seed + index
        return make_clip_tensor(
            seed, self.num_frames, self.size, self.fps, difficulty=self.difficulty
        )


__all__ = [
    "Background",
    "Camera",
    "Dots",
    "Lighting",
    "ObjectSpec",
    "SceneSpec",
    "SyntheticClips",
    "Text",
    "make_batch",
    "make_clip",
    "make_clip_tensor",
    "render",
    "sample_scene",
]
