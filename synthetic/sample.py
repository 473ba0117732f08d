"""Sampling a scene from a seed: `sample_scene(seed, difficulty)` -> `SceneSpec`.

One `numpy.random.default_rng(seed)` is split into one stream per part (background, objects,
details, camera, lighting), so a seed always gives the same scene.
"""

import bisect
import colorsys
import itertools
import math

import numpy as np

from .scene import (
    BACKGROUNDS,
    FILLS,
    GLYPHS,
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
