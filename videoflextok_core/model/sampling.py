"""Rectified-flow sampling with classifier-free and adaptive projected guidance (pure functions).

The decoder predicts the velocity v = noise - data of the straight path x_tau = (1 - tau) data +
tau noise. Sampling integrates it with Euler steps from tau = 1 to 0:
    for i = S..1:  tau = i / S;  x <- x - (1/S) * v(x, tau)
(Port of upstream `VideoMinRFPipeline`; same step order, same float ops.)

Guidance (when g != 1): plain CFG v = v_u + g (v_c - v_u), or APG (Sadat et al., 2024,
arXiv 2410.02416): the guidance direction d = v_c - v_u is optionally accumulated with momentum,
clipped to norm `norm_threshold`, split into its part parallel to v_c and the orthogonal rest
(float64), and v = v_c + (g - 1) (d_orth + eta d_par). Norms are over (t, h, w), per channel.

Legend: B batch, z latent channels, t/h/w latent grid, k conditioning latent frames.
"""

from collections.abc import Callable

import torch

Guidance = float | Callable[[float], float]
# model_fn(x (B, z, t, h, w), tau: float, with_uncond: bool) -> (v_cond, v_uncond or None)
ModelFn = Callable[[torch.Tensor, float, bool], tuple[torch.Tensor, torch.Tensor | None]]


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


def guidance_enabled(guidance_scale: Guidance) -> bool:
    return callable(guidance_scale) or guidance_scale != 1.0


def sample(
    model_fn: ModelFn,
    noise: torch.Tensor,
    timesteps: int,
    guidance_scale: Guidance = 1.0,
    perform_norm_guidance: bool = False,
    momentum: float = 0.0,
    eta: float = 0.0,
    norm_threshold: float = 0.6,
    cfg_rescaler: Callable | None = None,
    cond_latents: torch.Tensor | None = None,
    cond_type: str = "clean",
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integrate the flow from noise (B, z, t, h, w) to latents (B, z, t, h, w).

    cond_latents (B, z, k, h, w): clean latents pinned into the first k latent frames before every
    model call and in the output ("clean"), or blended with the initial noise at the current noise
    level before every call ("sdedit"). progress(i) is called after each step i = 1..S.

    Quirk kept on purpose (upstream shares ONE momentum buffer across the batch, updated sample by
    sample): with momentum != 0, a sample's guidance depends on the sample before it. With the
    default momentum 0 every sample is independent, so batching never changes a result.
    """
    if cond_type not in ("clean", "sdedit"):
        raise ValueError(f"cond_type must be 'clean' or 'sdedit', got {cond_type!r}")
    do_guidance = guidance_enabled(guidance_scale)
    x = noise
    initial_noise = noise.clone() if cond_type == "sdedit" else None
    k = 0 if cond_latents is None else cond_latents.shape[2]
    buffer = MomentumBuffer(momentum) if perform_norm_guidance else None
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
            scale = guidance_scale(tau) if callable(guidance_scale) else guidance_scale
            guided = []
            for j in range(x.shape[0]):  # per sample, in batch order (shared buffer, see above)
                vc, vu = v_cond[j : j + 1], v_uncond[j : j + 1]
                if perform_norm_guidance:
                    out = apg(vc, vu, scale, buffer, eta, norm_threshold)
                else:
                    out = cfg(vc, vu, scale)
                if cfg_rescaler is not None:
                    out = cfg_rescaler(out, vc, vu)
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
