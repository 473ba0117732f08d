"""Demo model v2, stage 3: the VAE decoder fine-tuned on the resampler's outputs, resumable.

The app never decodes a VAE posterior: it decodes the latents that the flow decoder samples from
a token prefix. Those latents are off the posterior's manifold (smoother, slightly biased), and a
decoder trained only on posterior samples renders them as they are. This stage trains the VAE
decoder alone (the VAE encoder and the resampler frozen, so tokens and latent space stay as
they are) to map the sampler's latents back to the clip they came from:

    clip -> tokens (posterior mean, frozen encoder + FSQ) -> `flow_steps` Euler steps of the
    frozen flow decoder from seeded noise, k registers kept -> latents -> VAE decoder -> loss
    against the clip (L1 + L2 + SSIM, as the VAE stage).

k is drawn from `keeps`, the budgets where a reconstruction is meant to follow its input (a
k=1 sample is a plausible clip, not this clip: asking the decoder to map it to the input would
only teach it to blur). The schedule is warmup-stable-decay at a fine-tuning LR, with an EMA.

State under RUN/decoder/: state.safetensors (resumable), final.safetensors (the EMA decoder's
weights, `decoder.*` of the VAE, when done).
Legend: B clips; videos (B, 3, 17, 64, 64) in [-1, 1]; latents (B, 16, 5, 8, 8); ids (B, 5, N).
"""

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from videoflextok_core.model import Sampler, VideoFlexTok

from .data import TrainingClips
from .losses import ReconLoss
from .schedule import WSD
from .stage_vae import autocast
from .state import SessionClock, TrainState, recipe_json


@dataclass(frozen=True)
class DecoderRecipe:
    batch: int = 4
    frames: int = 17  # one whole chunk
    size: int = 64
    lr: float = 3e-5  # a fine-tune of a decoder trained at 1e-4
    warmup: int = 100
    steps: int = 1_000  # 2.2 s/step under bf16 on the 2-core AMD EPYC: 37 min; extendable
    decay: int = 300
    flow_steps: int = 8  # Euler steps of the frozen flow decoder, no guidance
    keeps: tuple[int, ...] = (16, 32, 64)  # budgets drawn per clip (see the module docstring)
    loss: ReconLoss = ReconLoss(l2=1.0, ssim=0.2)
    ema_decay: float = 0.998
    grad_clip: float = 1.0
    data_stream: int = 3  # TrainingClips base: clips neither earlier stage trained on
    seed: int = 0

    def schedule(self) -> WSD:
        return WSD(self.lr, self.warmup, self.steps, self.decay)


@torch.no_grad()
def sampled_latents(
    model: VideoFlexTok, video: torch.Tensor, keep: torch.Tensor, flow_steps: int, gen
) -> torch.Tensor:
    """Video (B, 3, 17, H, W) -> the latents (B, z, t, h, w) the frozen model samples from the
    clip's first `keep` (B,) tokens per latent frame: posterior-mean tokens, noise from `gen`."""
    ids = model.encode_chunks(video, sample_posterior=False)[3]  # (B, t, N)
    noise = model.initial_noise(len(video), gen)  # (B, z, t, h, w), as detokenize draws it
    return model.sample_latents(ids, noise, keep, None, Sampler(steps=flow_steps))


class DecoderTrainer:
    """The stage's model (everything frozen but the VAE decoder), optimiser and state. The
    state's parameters and EMA carry the VAE's names (`decoder.*`)."""

    def __init__(self, model: VideoFlexTok, r: DecoderRecipe, photos, bf16: bool):
        self.model, self.r, self.bf16 = model.eval(), r, bf16
        for p in model.parameters():
            p.requires_grad_(False)
        params = {f"decoder.{k}": p for k, p in model.vae.decoder.named_parameters()}
        for p in params.values():
            p.requires_grad_(True)
        self.opt = torch.optim.AdamW(params.values(), lr=r.lr, betas=(0.9, 0.99), weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(r.seed + 20)
        self.state = TrainState(params, self.opt, {"noise": self.gen}, r.ema_decay)
        self.data = TrainingClips(r.data_stream, photos)

    def meta(self) -> dict:
        return {"stage": "decoder", "recipe": recipe_json(asdict(self.r))}

    def resume(self, path: Path) -> None:
        saved = self.state.load(path)["recipe"]
        asked = recipe_json(asdict(self.r))
        for key in ("lr", "warmup", "decay", "batch", "flow_steps", "keeps", "data_stream"):
            if saved[key] != asked[key]:
                raise ValueError(f"the saved decoder stage has {key}={saved[key]}")
        old = WSD(saved["lr"], saved["warmup"], saved["steps"], saved["decay"])
        if self.state.step > old.decay_start and self.r.steps != saved["steps"]:
            raise ValueError(f"step {self.state.step} is past the decay start {old.decay_start}")

    def train_step(self) -> tuple[torch.Tensor, object]:
        """One update -> (loss, ReconTerms)."""
        r, st = self.r, self.state
        video = self.data.batch(st.samples, r.batch, r.frames, r.size)
        keeps = torch.tensor(r.keeps)
        keep = keeps[torch.randint(len(keeps), (r.batch,), generator=self.gen)]
        latents = sampled_latents(self.model, video, keep, r.flow_steps, self.gen)
        st.set_lr(r.schedule().lr(st.step))
        self.model.vae.decoder.train()
        with autocast(self.bf16):
            recon = self.model.vae.decode(latents)
        terms = r.loss(recon.float(), video)
        st.update(terms.loss, r.grad_clip, r.batch)
        self.model.vae.decoder.eval()
        return terms.loss.detach(), terms

    def run_session(self, run: Path, clock: SessionClock, log, evaluate, eval_every: int) -> bool:
        """Train until the stage ends or the clock says stop; `evaluate(step)` every
        `eval_every` steps and at the end. Returns whether the stage ended."""
        r, st = self.r, self.state
        home = run / "decoder"
        sched = r.schedule()
        sums, count, t_log = {}, 0, time.time()
        while st.step < r.steps:
            t0 = time.time()
            loss, terms = self.train_step()
            st.seconds += time.time() - t0
            for k in ("l1", "mse", "ssim"):
                sums[k] = sums.get(k, 0.0) + float(getattr(terms, k))
            sums["loss"] = sums.get("loss", 0.0) + float(loss)
            count += 1
            if st.step % 25 == 0 or st.step == r.steps:
                mean = {k: v / count for k, v in sums.items()}
                log(
                    stage="decoder",
                    step=st.step,
                    lr=sched.lr(st.step - 1),
                    psnr=-10 * math.log10(mean["mse"] / 4),
                    s_per_step=(time.time() - t_log) / count,
                    hours=st.seconds / 3600,
                    **mean,
                )
                sums, count, t_log = {}, 0, time.time()
            if st.step % eval_every == 0 or st.step == r.steps:
                evaluate(st.step)
            if st.after_step(home, self.meta(), clock, sched.decay_start):
                break
        st.save(home / "state.safetensors", self.meta())
        clock.saved()
        if st.step >= r.steps:
            ema = {k: v.contiguous() for k, v in st.ema_state().items()}
            save_file(ema, str(home / "final.safetensors"))
        return st.step >= r.steps
