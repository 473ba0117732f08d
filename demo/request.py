"""What the page sends, read once: the raw values of the page's controls (Gradio sends sliders
and numbers as floats, an empty upload as None) become one checked, frozen `Request`, its
sampler settings one `Sampler`.

    from demo.request import page_request, page_sampler
    sampler = page_sampler(defaults, guidance=20.0, steps=25.0, seed=0.0, apg=True)
    request = page_request(defaults, 16, video="clip.mp4", k=4.0, sampler=sampler)
    request.k, request.sampler.steps                 # 4, 25
    page_request(defaults, 16, k=17)                 # ValueError: k (tokens per timestep) ...
    page_request(defaults, 16, seeds=9)              # ValueError: number of seeds must be in 2..8

Every `DemoService` method and the ZeroGPU estimate take a `Request` whole; each handler of
`app.py` builds it from its own parameters, by name.

Legend: T frames, N tokens per latent frame, k budget.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from videoflextok_core.model.sampling import MAX_SEED, Sampler
from videoflextok_core.seeds import MAX_SEEDS, MIN_SEEDS, check_seeds

from .defaults import Defaults

MAX_STEPS = 100  # the steps slider's range
MAX_GUIDANCE = 100.0  # the guidance slider goes to 30; the API takes up to this


@dataclass(frozen=True)
class Request:
    """One page event's settings, checked (part of the cache keys)."""

    video: Path | None  # an existing file, or None (nothing uploaded; decoding a tokens file)
    start: float  # seconds into the video
    frames: int  # clip length T, one of the page's lengths (1 + 16K)
    k: int  # tokens per latent frame, 1..N
    sampler: Sampler  # steps, guidance, APG, seed
    seeds: int = 4  # the seed view: decode seeds sampler.seed .. + seeds - 1 (2..8)

    def metadata(self) -> dict:
        """The decode settings a tokens file records, to decode it as the page did."""
        meta = {"decode_k": self.k}
        official = self.sampler.official("steps", "guidance", "apg")  # upstream's names
        meta.update({f"decode_{name}": value for name, value in official.items()})
        meta["decode_seed"] = self.sampler.seed
        return meta


def page_sampler(defaults: Defaults, guidance=None, steps=None, seed=None, apg=None) -> Sampler:
    """The page's sampler controls -> a `Sampler`; None takes the page's default, bad values
    raise ValueError with a message for a person."""
    s = defaults.sampler
    return Sampler(
        steps=as_int(s.steps if steps is None else steps, "denoising steps", 1, MAX_STEPS),
        guidance=as_float(
            s.guidance if guidance is None else guidance, "guidance scale", 0, MAX_GUIDANCE
        ),
        apg=bool(s.apg if apg is None else apg),
        seed=as_int(s.seed if seed is None else seed, "seed", 0, MAX_SEED),
    )


def page_request(
    defaults: Defaults,
    n_registers: int,
    video=None,
    start=None,
    length=None,
    k=None,
    sampler: Sampler | None = None,
    seeds=None,
) -> Request:
    """The page's raw values -> a `Request`; None takes the page's default (`defaults`), bad
    values raise ValueError with a message for a person. The names are the page's controls
    (and the API's parameters); `length` is the clip length in frames, `sampler` the checked
    `page_sampler` of the sampler controls."""
    d = defaults
    path = None
    if video:
        path = Path(video)
        if not path.is_file():
            raise ValueError(f"{path.name}: no such file")
    start = as_float(0.0 if start is None else start, "start time (s)", 0.0)
    frames = as_int(d.frames if length is None else length, "clip length", 1)
    if frames not in d.frame_choices:
        raise ValueError(f"clip length must be one of {list(d.frame_choices)} frames, got {frames}")
    k = as_int(d.k if k is None else k, "k (tokens per timestep)", 1, n_registers)
    sampler = d.sampler if sampler is None else sampler
    n = as_int(d.seeds if seeds is None else seeds, "number of seeds", MIN_SEEDS, MAX_SEEDS)
    return Request(path, start, frames, k, sampler, check_seeds(n, sampler.seed))


def as_int(value, name: str, lo: int, hi: int | None = None) -> int:
    """A whole number from the page (Gradio sends floats) in lo..hi, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value:g}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        upper = "" if hi is None else f"..{hi}"
        raise ValueError(f"{name} must be in {lo}{upper}, got {value}")
    return value


def as_float(value, name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value:g}")
    return float(value)


__all__ = ["MAX_STEPS", "Request", "as_float", "as_int", "page_request", "page_sampler"]
