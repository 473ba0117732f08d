"""Demo model v2, stage 2: the resampler (register encoder, FSQ, rectified-flow decoder) on
cached latents of the frozen v2 VAE, resumable across sessions.

The objective is the paper's (as training/train_resampler.py, which trained v1): posterior
samples z of a clip's latents are encoded into registers, quantised with FSQ (straight-through),
and the flow decoder predicts the velocity noise - z at x_tau = tau * noise + (1 - tau) * z from
the first k registers of each latent frame (nested dropout, k uniform over 1, 2, 4, ..., 64),
with 10 % null-condition dropout and prefix conditioning on the first latent frame for half
of the clips. What v2 changes:

* flow times: a mixture, logit-normal (mass around 0.5) with probability 1 - late_share and
  uniform on [late_min, 1] otherwise, so the first steps of a 1- to 4-step decode (tau near 1)
  are trained, not only the middle of the path;
* a warmup-stable-decay schedule, an EMA, bf16 autocast on CPUs with bf16 units;
* the flow loss logged per k, and a mini-ladder (PSNR at k = 1, 4, 16, 64 on held-out clips)
  every `eval_every` steps;
* a warm start from the shipped v1 resampler (same shapes; its VAE latent space differs, so
  it is a start, not a solution).

Legend: B clips, t = 5 latent frames, N = 64 registers, z = 16 channels, 8 x 8 latent grid.
Latents (B, 16, 5, 8, 8); codes (B, t, N, 6).
"""

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from videoflextok_core.model import Noise, Sampler, VideoFlexTok

from .latent_cache import LatentCache
from .schedule import WSD
from .stage_vae import autocast
from .state import SessionClock, TrainState
from .vae_eval import clip_psnr


@dataclass(frozen=True)
class ResamplerRecipe:
    batch: int = 16
    lr: float = 4e-4
    warmup: int = 300
    # 1.27 s/step at batch 16 under bf16 on the 2-core AMD EPYC (0.69 s at batch 8): 8,000 steps
    # are 2.8 h. Extendable before the decay starts (see schedule.py).
    steps: int = 8_000
    decay: int = 1_500
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    late_share: float = 0.3  # flow times drawn near 1 (the first steps of few-step decoding)
    late_min: float = 0.75
    null_cond_prob: float = 0.1  # classifier-free guidance dropout
    prefix_probs: tuple[float, float] = (0.5, 0.5)  # 0 or 1 clean conditioning latent frame
    cond_sigma_max: float = 0.02  # noise on the conditioning frame, half of the time
    seed: int = 0

    def schedule(self) -> WSD:
        return WSD(self.lr, self.warmup, self.steps, self.decay)


def flow_times(B: int, r: ResamplerRecipe, g: torch.Generator) -> torch.Tensor:
    """(B,) flow times in (0, 1): logit-normal, or uniform on [late_min, 1] (late_share)."""
    logit_normal = torch.sigmoid(torch.randn(B, generator=g))
    late = r.late_min + (1 - r.late_min) * torch.rand(B, generator=g)
    return torch.where(torch.rand(B, generator=g) < r.late_share, late, logit_normal)


def keep_choices(registers: int) -> torch.Tensor:
    """1, 2, 4, ..., registers: the budgets nested dropout draws from."""
    return torch.tensor([1 << i for i in range(registers.bit_length()) if 1 << i <= registers])


def flow_loss(model: VideoFlexTok, mean, std, r: ResamplerRecipe, g, bf16: bool):
    """One batch of cached posteriors -> (loss, per-sample loss (B,), keep_k (B,)).

    mean, std: (B, z, t, h, w) float32. The loss is the velocity MSE over the latent frames
    that are not conditioning."""
    B, _, t = mean.shape[:3]
    z = mean + std * torch.randn(mean.shape, generator=g)  # a posterior sample
    with autocast(bf16):
        codes = model.fsq.quantize_ste(model.encoder(z).float())  # (B, t, N, d)
    tau = flow_times(B, r, g)
    noise = torch.randn(z.shape, generator=g)
    x = tau.view(B, 1, 1, 1, 1) * noise + (1 - tau.view(B, 1, 1, 1, 1)) * z
    prefix = torch.multinomial(torch.tensor(r.prefix_probs), B, True, generator=g)  # 0 or 1
    cond_sigma = r.cond_sigma_max * torch.rand(B, generator=g)
    cond_sigma = torch.where(torch.rand(B, generator=g) < 0.5, cond_sigma, 0.0)
    is_prefix = (torch.arange(t)[None] < prefix[:, None]).view(B, 1, t, 1, 1)
    cs = cond_sigma.view(B, 1, 1, 1, 1)
    x = torch.where(is_prefix, cs * noise + (1 - cs) * z, x)
    choices = keep_choices(model.n_registers)
    keep_k = choices[torch.randint(len(choices), (B,), generator=g)]
    uncond = torch.rand(B, generator=g) < r.null_cond_prob
    with autocast(bf16):
        v = model.decoder(codes, x, tau, keep_k, prefix, uncond).float()
    per_frame = (v - (noise - z)).pow(2).mean(dim=(1, 3, 4))  # (B, t)
    weight = (~is_prefix.view(B, t)).float()
    per_sample = (per_frame * weight).sum(1) / weight.sum(1)
    return per_sample.mean(), per_sample.detach(), keep_k


@torch.inference_mode()
def ladder_psnr(
    model: VideoFlexTok, videos: torch.Tensor, budgets, sampler: Sampler
) -> dict[int, float]:
    """Mean PSNR (dB) per budget k of one seeded decode of each clip: videos (N, 3, 17, H, W),
    posterior-mean tokens, the initial noise from seed 0 (the sampler's own seed is not used)."""
    tokens = model.tokenize(videos, sample_posterior=False)
    out = {}
    for k in budgets:
        recon = model.detokenize(
            tokens,
            sampler,
            keep=[k] * len(tokens),
            noise=Noise(generator=torch.Generator().manual_seed(0)),
        )
        out[k] = float(clip_psnr(torch.cat(recon), videos).mean())
    return out


class ResamplerTrainer:
    """The stage's model (VAE frozen), optimiser and state."""

    def __init__(self, model: VideoFlexTok, r: ResamplerRecipe, cache: LatentCache, bf16: bool):
        self.model, self.r, self.cache, self.bf16 = model, r, cache, bf16
        for p in model.vae.parameters():
            p.requires_grad_(False)
        params = {f"encoder.{k}": p for k, p in model.encoder.named_parameters()}
        params |= {f"decoder.{k}": p for k, p in model.decoder.named_parameters()}
        self.opt = torch.optim.AdamW(
            params.values(), lr=r.lr, betas=(0.9, 0.99), weight_decay=r.weight_decay
        )
        self.gen = torch.Generator().manual_seed(r.seed + 10)
        self.pick = torch.Generator().manual_seed(r.seed + 11)
        gens = {"flow": self.gen, "pick": self.pick}
        self.state = TrainState(params, self.opt, gens, r.ema_decay)

    def meta(self) -> dict:
        return {"stage": "resampler", "recipe": asdict(self.r), "clips": len(self.cache)}

    def resume(self, path: Path) -> None:
        saved = self.state.load(path)["recipe"]
        for key in ("lr", "warmup", "decay", "batch", "late_share", "late_min"):
            if saved[key] != asdict(self.r)[key]:
                raise ValueError(f"the saved resampler stage has {key}={saved[key]}")
        old = WSD(saved["lr"], saved["warmup"], saved["steps"], saved["decay"])
        if self.state.step > old.decay_start and self.r.steps != saved["steps"]:
            raise ValueError(f"step {self.state.step} is past the decay start; use stable")

    def train_step(self) -> tuple[float, torch.Tensor, torch.Tensor]:
        """One update -> (loss, per-sample loss (B,), keep_k (B,))."""
        r, st = self.r, self.state
        idx = torch.randint(len(self.cache), (r.batch,), generator=self.pick)
        mean, std = self.cache.get(idx)
        st.set_lr(r.schedule().lr(st.step))
        self.model.train()
        loss, per_sample, keep_k = flow_loss(self.model, mean, std, r, self.gen, self.bf16)
        st.update(loss, r.grad_clip, r.batch)
        return float(loss.detach()), per_sample, keep_k

    def ema_model(self, like: VideoFlexTok) -> VideoFlexTok:
        """`like` (a model of the same config) with this stage's EMA weights in its trunks."""
        ema = self.state.ema_state()
        for name, trunk in (("encoder", like.encoder), ("decoder", like.decoder)):
            prefix = name + "."
            trunk.load_state_dict(
                {k[len(prefix) :]: v for k, v in ema.items() if k.startswith(prefix)}
            )
        return like.eval()

    def run_session(self, run: Path, clock: SessionClock, log, evaluate, eval_every: int) -> bool:
        """Train until the stage ends or the clock says stop; `evaluate(step)` is called every
        `eval_every` steps (a mini-ladder of the EMA weights). Returns whether it ended."""
        r, st = self.r, self.state
        home = run / "resampler"
        sched = r.schedule()
        ks = keep_choices(self.model.n_registers).tolist()
        by_k = {k: [0.0, 0] for k in ks}
        total, count, t_log = 0.0, 0, time.time()
        while st.step < r.steps:
            t0 = time.time()
            loss, per_sample, keep_k = self.train_step()
            st.seconds += time.time() - t0
            total, count = total + loss, count + 1
            for k, l in zip(keep_k.tolist(), per_sample.tolist()):
                by_k[k][0] += l
                by_k[k][1] += 1
            if st.step % 50 == 0 or st.step == r.steps:
                log(
                    stage="resampler",
                    step=st.step,
                    lr=sched.lr(st.step - 1),
                    loss=total / count,
                    loss_by_k={k: round(s / n, 4) for k, (s, n) in by_k.items() if n},
                    s_per_step=(time.time() - t_log) / count,
                    hours=st.seconds / 3600,
                )
                by_k = {k: [0.0, 0] for k in ks}
                total, count, t_log = 0.0, 0, time.time()
            if st.step % eval_every == 0 or st.step == r.steps:
                evaluate(st.step)
            if st.after_step(home, self.meta(), clock, sched.decay_start):
                break
        st.save(home / "state.safetensors", self.meta())
        clock.saved()
        return st.step >= r.steps
