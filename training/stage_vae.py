"""Demo model v2, stage 1: the VidTok VAE on whole 64x64 frames, resumable across sessions.

Recipe (VaeRecipe): 9-frame clips of the training mixture (training/data.py) at batch 8 for the
first 1,200 steps, then whole 17-frame chunks at batch 4, under a warmup-stable-decay schedule;
loss L1 + L2 + 0.2 (1 - SSIM) + a light KL; AdamW; an EMA of the
weights, which is what is evaluated and exported. bf16 autocast where the CPU has bf16 units and
the precision check allowed it (training/precision_check.py), float32 elsewhere.

State (under RUN/vae/): state.safetensors (everything a resumed run needs, saved every few
minutes and when the session ends), stable.safetensors (the state where the decay began, to
extend the stage from), final.safetensors (the EMA weights when the stage is done).
Legend: B clips, T frames; videos (B, 3, T, 64, 64) in [-1, 1]; latents (B, 16, t, 8, 8).
"""

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from videoflextok_core.model.vidtok import ResBlock1d, VidTok, VidTokSpec

from .data import TrainingClips
from .losses import ReconLoss
from .schedule import WSD
from .state import SessionClock, TrainState, recipe_json
from .vae_eval import VaeEval


@dataclass(frozen=True)
class VaeRecipe:
    spec: VidTokSpec = field(
        default_factory=lambda: VidTokSpec(ch=16, ch_mult=(1, 2, 4, 8), num_res_blocks=1)
    )  # 5.9 M parameters: widths 16/32/64/128, cheap where the grid is small
    size: int = 64  # whole frames, as the model sees them
    batch: int = 8
    frames: int = 9  # 1 + 4k frames -> 1 + k latent frames
    short_steps: int = 1_200  # steps on `frames`-frame clips, then whole chunks
    long_batch: int = 4  # whole 17-frame chunks, the same pixels per batch
    long_frames: int = 17
    lr: float = 1e-4  # the schedule's peak (run 1 at 6e-4 lost saturated colours: see lr_at)
    warmup: int = 300
    # Extendable before the decay starts (see schedule.py). Run 2 planned 10,000; at step 4,771
    # (22.2 dB held-out procedural, short of the 24 dB gate) it was extended to 12,000: time
    # moved from the resampler stage to the VAE, as the gate asks.
    steps: int = 12_000
    decay: int = 2_000
    kl_weight: float = 1e-6  # per pixel value (see kl_factor)
    loss: ReconLoss = ReconLoss(l2=1.0, ssim=0.2)
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    data_stream: int = 1  # TrainingClips base of this stage
    seed: int = 0

    def schedule(self) -> WSD:
        return WSD(self.lr, self.warmup, self.steps, self.decay)

    def lr_at(self, step: int) -> float:
        """The learning rate of `step`: the WSD schedule of peak `lr`.

        Run 1 (abandoned at step 4,625, 2.65 h) peaked at 6e-4, as v1's 5e-4. That is too high
        for VidTok at 4-8 clips per batch: a fresh VidTok fitting flat colours (batch 8) reached
        MSE 0.046 in 150 steps at 1e-4 and stalled at 0.20-0.43 at 2e-4, 3e-4 and 4e-4, and run
        1's decoder lost saturated green for good (flat green decoded as grey (0.26, 0.28, 0.25)
        even after 770 steps at 1e-4); its held-out procedural PSNR stalled at 19.6-19.8 dB."""
        return self.schedule().lr(step)

    def kl_factor(self, values: int) -> float:
        """The KL's weight in the loss for clips of `values` pixel values: kl_weight / values,
        the latent-diffusion convention (KL summed over a clip's latents against a
        reconstruction loss summed over its pixel values; ours is their mean). Run 1 began with
        v1's kl_weight alone, 200,000 times that: it held the posterior std at ~0.3, which
        blurred reconstructions and pulled saturated colours to the mean."""
        return self.kl_weight / values

    def shape_at(self, step: int) -> tuple[int, int]:
        """(batch, frames) of the step: short clips for the first `short_steps`, whole chunks
        after. Every latent frame of a 9-frame clip lies within the reach of the causal
        padding at its start; those of a 17-frame chunk do not, and a VAE trained only on 9
        frames greyed out frames 9-16 (measured at step 1,100), so most steps see whole chunks."""
        if step < self.short_steps:
            return self.batch, self.frames
        return self.long_batch, self.long_frames


def new_vae(spec: VidTokSpec, seed: int) -> VidTok:
    """A freshly initialised VAE; VidTok zero-inits the temporal blocks' last conv (identity)."""
    torch.manual_seed(seed)
    vae = VidTok(spec)
    for m in vae.modules():
        if isinstance(m, ResBlock1d):
            torch.nn.init.zeros_(m.conv2.conv.weight)
            torch.nn.init.zeros_(m.conv2.conv.bias)
    return vae


def autocast(bf16: bool):
    if bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def vae_step_loss(vae: VidTok, video: torch.Tensor, r: VaeRecipe, gen, bf16: bool):
    """One batch through the VAE: (loss, ReconTerms, kl). Posterior sample, decode,
    loss in float32 (the VAE itself under bf16 autocast if asked)."""
    with autocast(bf16):
        mean, logvar = vae.moments(video).float().chunk(2, dim=1)
        logvar = logvar.clamp(-30.0, 20.0)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
        recon = vae.decode(z)
    terms = r.loss(recon.float(), video)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3, 4)).mean()
    return terms.loss + r.kl_factor(video[0].numel()) * kl, terms, kl


class VaeTrainer:
    """The stage's model, optimiser and state; `run_session` trains until done or told to stop."""

    def __init__(self, r: VaeRecipe, photos, bf16: bool):
        self.r, self.bf16 = r, bf16
        self.vae = new_vae(r.spec, r.seed).train()
        params = dict(self.vae.named_parameters())
        self.opt = torch.optim.AdamW(params.values(), lr=r.lr, betas=(0.9, 0.99), weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(r.seed + 1)
        self.state = TrainState(params, self.opt, {"posterior": self.gen}, r.ema_decay)
        self.data = TrainingClips(r.data_stream, photos)

    def meta(self) -> dict:
        return {"stage": "vae", "recipe": recipe_json(asdict(self.r))}

    def resume(self, path: Path) -> dict:
        meta = self.state.load(path)
        saved, asked = meta["recipe"], recipe_json(asdict(self.r))
        keys = ("spec", "size", "lr", "warmup", "decay", "batch", "frames", "short_steps")
        keys += ("kl_weight",)
        for key in keys + ("long_batch", "long_frames", "data_stream"):
            if key in saved and saved[key] != asked[key]:
                raise ValueError(f"the saved VAE stage has {key}={saved[key]}, not {asked[key]}")
        old = WSD(saved["lr"], saved["warmup"], saved["steps"], saved["decay"])
        if self.state.step > old.decay_start and self.r.steps != saved["steps"]:
            raise ValueError(
                f"step {self.state.step} is past the decay start {old.decay_start} of the saved "
                f"schedule; extend from stable.safetensors instead"
            )
        return meta

    def ema_vae(self) -> VidTok:
        vae = VidTok(self.r.spec)
        vae.load_state_dict(self.state.ema_state())
        return vae.eval()

    def run_session(self, run: Path, clock: SessionClock, log, evaluator: VaeEval, eval_every):
        r, st = self.r, self.state
        sched = r.schedule()
        home = run / "vae"
        sums, count, t_log = {}, 0, time.time()
        while st.step < r.steps:
            t0 = time.time()
            B, T = r.shape_at(st.step)
            video = self.data.batch(st.samples, B, T, r.size)
            lr = r.lr_at(st.step)
            st.set_lr(lr)
            loss, terms, kl = vae_step_loss(self.vae, video, r, self.gen, self.bf16)
            gnorm = st.update(loss, r.grad_clip, B)
            st.seconds += time.time() - t0
            for k, v in (("loss", loss), ("l1", terms.l1), ("mse", terms.mse),
                         ("ssim", terms.ssim), ("kl", kl), ("gnorm", gnorm)):  # fmt: skip
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            count += 1
            if st.step % 25 == 0 or st.step == r.steps:
                mean = {k: v / count for k, v in sums.items()}
                log(
                    stage="vae",
                    step=st.step,
                    lr=lr,
                    frames=T,
                    psnr=-10 * math.log10(mean["mse"] / 4),
                    s_per_step=(time.time() - t_log) / count,
                    hours=st.seconds / 3600,
                    **mean,
                )
                sums, count, t_log = {}, 0, time.time()
            if st.step % eval_every == 0 or st.step == r.steps:
                log(stage="vae_eval", step=st.step, **evaluator(self.ema_vae()).as_log())
            if st.after_step(home, self.meta(), clock, sched.decay_start):
                break
        st.save(home / "state.safetensors", self.meta())
        clock.saved()
        if st.step >= r.steps:
            ema = self.ema_vae().state_dict()
            save_file({k: v.contiguous() for k, v in ema.items()}, str(home / "final.safetensors"))
        return st.step >= r.steps


@torch.inference_mode()
def latent_scale(vae: VidTok, clips: TrainingClips, count: int, frames: int, size: int):
    """Per-channel std of the posterior means over clips 0 .. count - 1 of a stream: (z,)."""
    means = [
        vae.encode(clips.batch(s, min(32, count - s), frames, size), sample=False)
        for s in range(0, count, 32)
    ]
    return torch.cat(means).transpose(0, 1).flatten(1).std(dim=1)


@torch.no_grad()
def fold_latent_scale(vae: VidTok, scale: torch.Tensor) -> None:
    """Rescale the latent space in place, exactly: latents become latents / scale (per channel).

    The encoder's output conv gives mean / scale and log-variance - 2 log(scale); the decoder's
    input conv multiplies its input channels by scale (its zero padding stays zero), so decode(
    encode(x)) is unchanged while the flow decoder sees latents of std ~1 per channel."""
    z = vae.spec.z_channels
    out = vae.encoder.conv_out.conv  # (2z, C, 3, 3, 3): mean channels, then log-variance
    out.weight[:z] /= scale.view(-1, 1, 1, 1, 1)
    out.bias[:z] /= scale
    out.bias[z:] -= 2 * torch.log(scale)
    vae.decoder.conv_in.conv.weight *= scale.view(1, -1, 1, 1, 1)  # (C, z, 3, 3, 3)


def load_milestone_weights(trainer: VaeTrainer, path: Path, step: int) -> None:
    """Restart the stage from a committed milestone (EMA weights, fp16): the parameters and
    the EMA take them, the optimiser starts empty, the counters continue at `step`."""
    samples = sum(trainer.r.shape_at(s)[0] for s in range(step))
    trainer.state.restart(load_file(str(path)), step, samples)
