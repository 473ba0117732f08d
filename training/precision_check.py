"""Is bf16 autocast safe for training the VAE here? Two short runs from the same initial
weights on the same clips and noise, one in float32 and one under bf16 autocast, compared.

bf16 is taken as safe when its run's loss over the last quarter of the steps is at most 3 %
above float32's (lower is fine: the two runs round differently and drift apart, and only a
worse bf16 run is a reason against it), nothing went non-finite, and its steps are faster.
The verdict, both loss curves and the step times are written to RUN/precision_check.json;
`--precision auto` follows it on CPUs with bf16 units.
"""

import copy
import math
import time

import torch

from .data import TrainingClips
from .stage_vae import VaeRecipe, new_vae, vae_step_loss

TOLERANCE = 0.03  # how much higher bf16's late mean loss may be, relative to float32's


def _arm(vae, r: VaeRecipe, data: TrainingClips, steps: int, bf16: bool, log):
    opt = torch.optim.AdamW(vae.parameters(), lr=r.lr_at(0), betas=(0.9, 0.99), weight_decay=0.0)
    gen = torch.Generator().manual_seed(r.seed + 1)
    losses, times, samples = [], [], 0
    for step in range(steps):
        video = data.batch(samples, r.batch, r.frames, r.size)
        samples += r.batch
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = r.lr_at(step)
        loss, terms, _ = vae_step_loss(vae, video, r, gen, bf16)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), r.grad_clip)
        opt.step()
        times.append(time.time() - t0)
        losses.append(loss.item())
        if step % 25 == 0:
            log(stage="precision_check", bf16=bf16, step=step, loss=losses[-1])
    return losses, times


def precision_check(r: VaeRecipe, photos, steps: int, log) -> dict:
    data = TrainingClips(r.data_stream, photos)
    init = new_vae(r.spec, r.seed).train()
    fp32_loss, fp32_t = _arm(copy.deepcopy(init), r, data, steps, False, log)
    bf16_loss, bf16_t = _arm(copy.deepcopy(init), r, data, steps, True, log)
    return verdict_of(fp32_loss, bf16_loss, fp32_t, bf16_t, log)


def verdict_of(fp32_loss, bf16_loss, fp32_t, bf16_t, log) -> dict:
    """Compare the two arms' loss curves and step times (see the module docstring)."""
    steps = len(fp32_loss)
    late = max(1, steps // 4)
    a, b = sum(fp32_loss[-late:]) / late, sum(bf16_loss[-late:]) / late
    rel = (b - a) / a  # > 0: bf16 worse
    finite = all(math.isfinite(x) for x in bf16_loss)
    t32, t16 = sorted(fp32_t)[len(fp32_t) // 2], sorted(bf16_t)[len(bf16_t) // 2]
    safe = finite and rel <= TOLERANCE and t16 < t32
    reason = (
        f"late loss fp32 {a:.4f} vs bf16 {b:.4f} ({100 * rel:+.2f} %, at most "
        f"+{100 * TOLERANCE:.0f} %), median step {t32:.2f} s vs {t16:.2f} s"
    )
    log(stage="precision_check_done", bf16_safe=safe, reason=reason)
    return {
        "bf16_safe": safe,
        "reason": reason,
        "steps": steps,
        "fp32_loss": fp32_loss,
        "bf16_loss": bf16_loss,
        "fp32_seconds": fp32_t,
        "bf16_seconds": bf16_t,
    }
