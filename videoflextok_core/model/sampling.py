"""Rectified-flow sampling with classifier-free and adaptive projected guidance (pure functions).

The decoder predicts the velocity v = noise - data of the straight path x_tau = (1 - tau) data +
tau noise. Sampling integrates it with Euler steps from tau = 1 to 0:
    for i = S..1:  tau = i / S;  x <- x - (1/S) * v(x, tau)
(Port of upstream `VideoMinRFPipeline`; same step order, same float ops.)

Guidance (when g != 1): plain CFG v = v_u + g (v_c - v_u), or APG (Sadat et al., 2024,
arXiv 2410.02416): the guidance direction d = v_c - v_u is optionally accumulated with momentum,
clipped to norm `norm_threshold`, split into its part parallel to v_c and the orthogonal rest
(float64), and v = v_c + (g - 1) (d_orth + eta d_par). Norms are over (t, h, w), per channel.

Every setting of the sampler travels as one `Sampler`:

    sampler = Sampler(steps=25, guidance=7.5, apg=True, seed=0)
    latents = sample(model_fn, noise, sampler)
    model.detokenize(tokens, sampler, noise=Noise(generator=sampler.generator()))

Legend: B batch, z latent channels, t/h/w latent grid, k conditioning latent frames.
"""

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, fields

import torch

Guidance = float | Callable[[float], float]
# model_fn(x (B, z, t, h, w), tau: float, with_uncond: bool) -> (v_cond, v_uncond or None)
ModelFn = Callable[[torch.Tensor, float, bool], tuple[torch.Tensor, torch.Tensor | None]]

# Sampler field -> upstream's `detokenize` keyword: the one place where the two spellings meet.
OFFICIAL_NAMES = {
    "steps": "timesteps",
    "guidance": "guidance_scale",
    "apg": "perform_norm_guidance",
    "eta": "eta",
    "momentum": "momentum",
    "norm_threshold": "norm_threshold",
    "cfg_rescaler": "cfg_rescaler",
    "cond_type": "cond_type",
}
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a signed 64-bit int
COND_TYPES = ("clean", "sdedit")  # how conditioning latents enter the sampler (`sample`)


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _checked(field: str, value, label: str):
    """The check of one sampler setting: -> the value as stored (ints, floats, a bool), else a
    ValueError naming `label` (the field, or upstream's keyword) and the value."""
    if field in ("steps", "seed"):
        lo, hi = (1, math.inf) if field == "steps" else (0, MAX_SEED)
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not whole or not lo <= value <= hi:
            upper = "" if hi == math.inf else f" and <= {hi}"
            raise ValueError(f"{label} must be an int >= {lo}{upper}, got {value!r}")
        return int(value)
    if field == "guidance":
        if callable(value):
            return value
        if not _real(value) or not math.isfinite(value):
            raise ValueError(f"{label} must be a finite number or a function of tau, got {value!r}")
        return float(value)
    if field == "apg":
        if not isinstance(value, (bool, numbers.Integral)):
            raise ValueError(f"{label} must be True or False, got {value!r}")
        return bool(value)
    if field == "cond_type":
        if value not in COND_TYPES:
            raise ValueError(f"{label} must be 'clean' or 'sdedit', got {value!r}")
        return value
    if field == "cfg_rescaler":
        if value is not None and not callable(value):
            raise ValueError(
                f"{label} must be None or callable(v, v_cond, v_uncond), got {value!r}"
            )
        return value
    if not _real(value) or not math.isfinite(value):  # eta, momentum, norm_threshold
        raise ValueError(f"{label} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Sampler:
    """Every setting of the flow sampler, checked once (ValueError naming the field and value).
    The defaults are upstream's `detokenize` defaults."""

    steps: int = 50  # Euler steps S (upstream's `timesteps`)
    guidance: Guidance = 1.0  # guidance scale g, 1 = off; or a function of the flow time tau
    apg: bool = False  # adaptive projected guidance instead of plain CFG (`perform_norm_guidance`)
    eta: float = 0.0  # APG: weight of the guidance part parallel to v_cond
    momentum: float = 0.0  # APG: running average of the guidance direction (0 = none)
    norm_threshold: float = 0.6  # APG: clip the guidance direction to this norm (0 = no clip)
    cfg_rescaler: Callable | None = None  # callable(v_guided, v_cond, v_uncond) -> v
    # How conditioning latents (given frames, and every later chunk's re-encoded overlap frames)
    # enter each step: "clean" pins them (upstream's default), "sdedit" blends them with the
    # initial noise at the current noise level.
    cond_type: str = "clean"
    seed: int = 0  # the initial noise where our code makes the generator (`generator()`)

    def __post_init__(self):
        for f in fields(self):  # frozen: store the checked value (ints, floats, a bool)
            object.__setattr__(self, f.name, _checked(f.name, getattr(self, f.name), f.name))

    @classmethod
    def from_official(cls, seed: int = 0, **official) -> "Sampler":
        """A Sampler from upstream's `detokenize` keywords (timesteps, guidance_scale,
        perform_norm_guidance, eta, momentum, norm_threshold, cfg_rescaler, cond_type); errors
        name them."""
        to_field = {name: field for field, name in OFFICIAL_NAMES.items()}
        unknown = sorted(set(official) - set(to_field))
        if unknown:
            raise ValueError(f"unknown sampler settings {unknown}; known: {sorted(to_field)}")
        values = {to_field[k]: _checked(to_field[k], v, k) for k, v in official.items()}
        return cls(**values, seed=seed)

    def official(self, *names: str) -> dict:
        """The settings `names` (default all but the seed) under upstream's keywords."""
        return {OFFICIAL_NAMES[n]: getattr(self, n) for n in names or OFFICIAL_NAMES}

    @property
    def guided(self) -> bool:
        """Whether a step runs the unconditional branch too (guidance on)."""
        return callable(self.guidance) or self.guidance != 1.0

    def scale(self, tau: float) -> float:
        """The guidance scale at flow time tau."""
        return self.guidance(tau) if callable(self.guidance) else self.guidance

    def generator(self, device: str | torch.device | None = None) -> torch.Generator:
        """A torch.Generator on `device` (default CPU) seeded with `seed`."""
        return torch.Generator(device or "cpu").manual_seed(self.seed)


class MomentumBuffer:
    """Running average a <- d + momentum * a (APG's momentum on the guidance direction)."""

    def __init__(self, momentum: float):
        self.momentum = momentum
        self.running_average: torch.Tensor | float = 0.0

    def update(self, value: torch.Tensor) -> torch.Tensor:
        self.running_average = value + self.momentum * self.running_average
        return self.running_average


def project(v0: torch.Tensor, v1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split v0 into parts parallel and orthogonal to v1 (norms over the last 3 axes), float64."""
    dtype = v0.dtype
    v0, v1 = v0.double(), v1.double()
    v1 = torch.nn.functional.normalize(v1, dim=[-1, -2, -3])
    parallel = (v0 * v1).sum(dim=[-1, -2, -3], keepdim=True) * v1
    return parallel.to(dtype), (v0 - parallel).to(dtype)


def apg(
    v_cond: torch.Tensor,
    v_uncond: torch.Tensor,
    scale: float,
    buffer: MomentumBuffer | None,
    eta: float,
    norm_threshold: float,
) -> torch.Tensor:
    """Adaptive projected guidance for one sample: (1, z, t, h, w) x2 -> (1, z, t, h, w)."""
    diff = v_cond - v_uncond
    if buffer is not None:
        diff = buffer.update(diff)
    if norm_threshold > 0:
        norm = diff.norm(p=2, dim=[-1, -2, -3], keepdim=True)
        diff = diff * torch.minimum(torch.ones_like(diff), norm_threshold / norm)
    parallel, orthogonal = project(diff, v_cond)
    return v_cond + (scale - 1) * (orthogonal + eta * parallel)


def cfg(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    return v_uncond + scale * (v_cond - v_uncond)


def sample(
    model_fn: ModelFn,
    noise: torch.Tensor,
    sampler: Sampler,
    cond_latents: torch.Tensor | None = None,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integrate the flow from noise (B, z, t, h, w) to latents (B, z, t, h, w) with `sampler`
    (its seed is not used: the noise is given).

    cond_latents (B, z, k, h, w): clean latents pinned into the first k latent frames before every
    model call and in the output (`sampler.cond_type` "clean"), or blended with the initial noise
    at the current noise level before every call ("sdedit"). progress(i) is called after each
    step i = 1..S.

    Quirk kept on purpose (upstream shares ONE momentum buffer across the batch, updated sample by
    sample): with momentum != 0, a sample's guidance depends on the sample before it. With the
    default momentum 0 every sample is independent, so batching never changes a result.
    """
    cond_type = sampler.cond_type
    timesteps, do_guidance = sampler.steps, sampler.guided
    x = noise
    initial_noise = noise.clone() if cond_type == "sdedit" else None
    k = 0 if cond_latents is None else cond_latents.shape[2]
    buffer = MomentumBuffer(sampler.momentum) if sampler.apg else None
    dt = 1.0 / timesteps
    for step, i in enumerate(range(timesteps, 0, -1), start=1):
        tau = i / timesteps
        if k:
            x = x.clone()
            if cond_type == "clean":
                x[:, :, :k] = cond_latents
            else:
                x[:, :, :k] = (1 - tau) * cond_latents + tau * initial_noise[:, :, :k]
        v_cond, v_uncond = model_fn(x, tau, do_guidance)
        v = v_cond
        if do_guidance:
            scale = sampler.scale(tau)
            guided = []
            for j in range(x.shape[0]):  # per sample, in batch order (shared buffer, see above)
                vc, vu = v_cond[j : j + 1], v_uncond[j : j + 1]
                if sampler.apg:
                    out = apg(vc, vu, scale, buffer, sampler.eta, sampler.norm_threshold)
                else:
                    out = cfg(vc, vu, scale)
                if sampler.cfg_rescaler is not None:
                    out = sampler.cfg_rescaler(out, vc, vu)
                guided.append(out)
            v = torch.cat(guided)
        with torch.autocast(x.device.type, enabled=False):  # fp32 update like upstream
            x = x - dt * v
        if progress is not None:
            progress(step)
    if k and cond_type == "clean":
        x = x.clone()
        x[:, :, :k] = cond_latents
    return x
