"""What a procedural scene is: frozen dataclasses in world coordinates, and the names the renderer
knows. Sampled by `synthetic.sample`, drawn by `synthetic.render`.

World coordinates: the first frame spans [-1, 1] on both axes, y points down, time is in seconds.
"""

from dataclasses import dataclass

# The names render knows; `synthetic.sample_scene` picks among them.
SHAPES = ("ellipse", "box", "polygon", "ring", "star", "cross")
FILLS = ("flat", "gradient", "stripes", "shaded")
MOTIONS = ("bounce", "wrap", "orbit")
BACKGROUNDS = ("solid", "linear", "radial", "stripes", "checker", "noise", "grid", "horizon")

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
