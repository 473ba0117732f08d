"""Stage 2: train the resampler (register encoder, FSQ, rectified-flow decoder) end to end on
latents of the frozen stage-1 VAE, as in the paper:

* encoder: VAE latents (sampled from the posterior each step) -> 64 registers per latent frame
  -> FSQ (straight-through rounding);
* decoder: rectified flow on the VAE latents, x_tau = tau * noise + (1 - tau) * latents with
  tau = sigmoid(N(0, 1)), target velocity noise - latents, MSE;
* nested dropout: each clip keeps the first k registers per latent frame, k uniform over
  1, 2, 4, ..., 64 ("pow2"), which orders the tokens coarse to fine;
* null-condition dropout (10%) for classifier-free guidance;
* prefix conditioning for the chunk overlap: half of the clips get their first latent frame clean
  (with a little noise half of the time), its registers masked, and no loss on it.
Every module is our inference module; only the sampling of the training randomness lives here.
"""

import contextlib
import math
import multiprocessing
import time
from functools import partial

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from synthetic import make_clip
from videoflextok_core.model import VideoFlexTok

from .config import RS_SEED_BASE, DemoConfig


def _render(seeds: range, c: DemoConfig) -> np.ndarray:
    """Worker: clips of `seeds` as (B, T, H, W, 3) uint8 (a quarter of float32's bytes)."""
    return np.stack([make_clip(s, c.chunk, c.size, difficulty=c.difficulty) for s in seeds])


@torch.inference_mode()
def encode_dataset(model: VideoFlexTok, c: DemoConfig, log, batch: int = 32, workers: int = 0):
    """VAE posterior (mean, std) of `c.rs_clips` training clips: 2 x (M, 16, t, h, w), on the
    VAE's device. `workers` > 1 renders the clips in that many processes (the same clips)."""
    device = next(model.vae.parameters()).device
    starts = range(0, c.rs_clips, batch)
    seed_chunks = [
        range(RS_SEED_BASE + s, RS_SEED_BASE + min(s + batch, c.rs_clips)) for s in starts
    ]
    pool = None
    if workers > 1:
        pool = multiprocessing.get_context("spawn").Pool(workers)
        clips = pool.imap(partial(_render, c=c), seed_chunks)
    else:
        clips = (_render(seeds, c) for seeds in seed_chunks)
    means, stds = [], []
    t0 = time.time()
    try:
        for i, (seeds, u8) in enumerate(zip(seed_chunks, clips)):
            video = torch.from_numpy(u8).to(device).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
            mean, std = model.vae.posterior(video)
            means.append(mean)
            stds.append(std)
            if i % 40 == 0:
                log(stage="encode", clips=seeds.stop - RS_SEED_BASE, seconds=time.time() - t0)
    finally:
        if pool is not None:
            pool.terminate()
    return torch.cat(means), torch.cat(stds)


class Trainer:
    """One optimisation step at a time, on the model's device (bf16 autocast on CUDA, like
    inference there). `total_steps` sets the LR schedule (default `c.rs_steps`)."""

    def __init__(self, model: VideoFlexTok, c: DemoConfig, total_steps: int | None = None):
        self.model, self.c = model, c
        self.total_steps = total_steps or c.rs_steps
        self.device = next(model.decoder.parameters()).device
        cuda = self.device.type == "cuda"
        self.params = dict(
            [(f"encoder.{k}", p) for k, p in model.encoder.named_parameters()]
            + [(f"decoder.{k}", p) for k, p in model.decoder.named_parameters()]
        )
        trainable = [p for p in self.params.values() if p.requires_grad]
        self.opt = torch.optim.AdamW(
            trainable,
            lr=c.rs_lr,
            betas=(0.9, 0.99),
            weight_decay=c.rs_weight_decay,
            fused=cuda or None,
        )
        self.ema = {k: p.detach().clone() for k, p in self.params.items()}
        self.step = 0
        self.gen = torch.Generator(self.device).manual_seed(c.seed + 10)
        n = c.registers
        self.keep_choices = torch.tensor(
            [1 << i for i in range(n.bit_length()) if 1 << i <= n], device=self.device
        )
        self.prefix_lengths = torch.tensor(c.prefix_lengths, device=self.device)
        self.prefix_probs = torch.tensor(c.prefix_probs, device=self.device)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
        )

    def lr(self) -> float:
        c = self.c
        if self.step < c.rs_warmup:
            return c.rs_lr * (self.step + 1) / c.rs_warmup
        frac = (self.step - c.rs_warmup) / max(1, self.total_steps - c.rs_warmup)
        return c.rs_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    def batch_loss(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        c, g, m, dev = self.c, self.gen, self.model, self.device
        B, _, t = mean.shape[:3]
        z = mean + std * torch.randn(mean.shape, generator=g, device=dev)  # VAE posterior sample
        with self.autocast:
            codes = m.fsq.quantize_ste(m.encoder(z).float())  # (B, t, N, d)

        tau = torch.sigmoid(torch.randn(B, generator=g, device=dev))  # logit-normal flow time
        noise = torch.randn(z.shape, generator=g, device=dev)
        x = tau.view(B, 1, 1, 1, 1) * noise + (1 - tau.view(B, 1, 1, 1, 1)) * z
        prefix = self.prefix_lengths[torch.multinomial(self.prefix_probs, B, True, generator=g)]
        lo, hi = c.cond_sigma_range
        cond_sigma = lo + torch.rand(B, generator=g, device=dev) * (hi - lo)
        cond_sigma = torch.where(
            torch.rand(B, generator=g, device=dev) < c.cond_noise_prob, cond_sigma, 0.0
        )
        frames = torch.arange(t, device=dev)[None]  # (1, t)
        is_prefix = (frames < prefix[:, None]).view(B, 1, t, 1, 1)
        cs = cond_sigma.view(B, 1, 1, 1, 1)
        x = torch.where(is_prefix, cs * noise + (1 - cs) * z, x)

        idx = torch.randint(len(self.keep_choices), (B,), generator=g, device=dev)
        keep_k = self.keep_choices[idx]
        uncond = torch.rand(B, generator=g, device=dev) < c.null_cond_prob
        with self.autocast:
            v = m.decoder(codes, x, tau, keep_k, prefix, uncond).float()
        per_frame = (v - (noise - z)).pow(2).mean(dim=(1, 3, 4))  # (B, t)
        weight = (~is_prefix.view(B, t)).float()
        return (per_frame * weight).sum() / weight.sum()

    def train_step(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """One update; returns the loss as a 0-d tensor (no device sync)."""
        for group in self.opt.param_groups:
            group["lr"] = self.lr()
        loss = self.batch_loss(mean, std)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.c.grad_clip)
        self.opt.step()
        decay = min(self.c.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            torch._foreach_lerp_(
                list(self.ema.values()), [p.detach() for p in self.params.values()], 1 - decay
            )
        self.step += 1
        return loss.detach()

    def use_ema(self) -> None:
        with torch.no_grad():
            for k, p in self.params.items():
                p.copy_(self.ema[k])

    # Resumable state, in safetensors (never pickle).
    def save(self, path) -> None:
        tensors = {f"param.{k}": p.detach().contiguous() for k, p in self.params.items()}
        tensors |= {f"ema.{k}": v.contiguous() for k, v in self.ema.items()}
        names = {id(p): k for k, p in self.params.items()}
        for p, state in self.opt.state.items():
            for key in ("exp_avg", "exp_avg_sq"):
                tensors[f"opt.{names[id(p)]}.{key}"] = state[key].contiguous()
        tensors = {k: v.cpu() for k, v in tensors.items()}
        tensors["gen_state"] = self.gen.get_state()
        meta = {"step": str(self.step), "total_steps": str(self.total_steps)}
        save_file(tensors, str(path), metadata=meta)

    def load(self, path) -> None:
        tensors = load_file(str(path), device=str(self.device))
        with torch.no_grad():
            for k, p in self.params.items():
                p.copy_(tensors[f"param.{k}"])
                self.ema[k] = tensors[f"ema.{k}"].clone()
        step = int(read_metadata(path)["step"])
        for k, p in self.params.items():
            if f"opt.{k}.exp_avg" in tensors:
                self.opt.state[p] = {
                    "step": torch.tensor(
                        float(step), device=self.device if self.opt.defaults.get("fused") else "cpu"
                    ),
                    "exp_avg": tensors[f"opt.{k}.exp_avg"].clone(),
                    "exp_avg_sq": tensors[f"opt.{k}.exp_avg_sq"].clone(),
                }
        self.gen.set_state(tensors["gen_state"].cpu())
        self.step = step
        self.total_steps = int(read_metadata(path).get("total_steps", self.total_steps))


def read_metadata(path) -> dict:
    """The string metadata of a safetensors file (e.g. the step of a training state)."""
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_resampler(
    model, c: DemoConfig, mean, std, work, log, save_every: int = 400, minutes: float | None = None
):
    """Train in place; resumes from work/resampler_state.safetensors if present.

    minutes: fit the run to this wall-clock budget: after 50 timed steps the step count (and
    with it the LR schedule) is fixed at min(c.rs_steps, what fits), and logged, so that
    `--rs-steps <that>` reproduces the run without the budget.
    """
    trainer = Trainer(model, c)
    state = work / "resampler_state.safetensors"
    if state.is_file():
        trainer.load(state)
        log(stage="resampler", resumed_at=trainer.step, total_steps=trainer.total_steps)
    pick = torch.Generator().manual_seed(c.seed + 11)
    for _ in range(trainer.step):  # keep the batch order of an uninterrupted run
        torch.randint(len(mean), (c.rs_batch,), generator=pick)
    model.train()
    t0, losses = time.time(), []
    probe = (10, 60) if minutes and trainer.step == 0 else None
    while trainer.step < trainer.total_steps:
        if probe and trainer.step == probe[0]:
            _sync(trainer.device)
            t_probe = time.time()
        idx = torch.randint(len(mean), (c.rs_batch,), generator=pick).to(mean.device)
        losses.append(trainer.train_step(mean[idx], std[idx]))
        if probe and trainer.step == probe[1]:
            _sync(trainer.device)
            per_step = (time.time() - t_probe) / (probe[1] - probe[0])
            budget = minutes * 60 - (time.time() - t0)
            fits = probe[1] + int(budget / per_step)
            trainer.total_steps = max(trainer.step, min(c.rs_steps, fits))
            log(stage="resampler", seconds_per_step=per_step, total_steps=trainer.total_steps)
            probe = None
        if trainer.step % 50 == 0 or trainer.step == trainer.total_steps:
            loss = float(torch.stack(losses).mean())
            log(
                stage="resampler",
                step=trainer.step,
                loss=loss,
                lr=trainer.lr(),
                seconds=time.time() - t0,
            )
            losses = []
        if trainer.step % save_every == 0 and trainer.step < trainer.total_steps:
            trainer.save(state)
    trainer.use_ema()
    return model.eval(), trainer.step


def save_resampler(model: VideoFlexTok, path, steps: int) -> None:
    """The trained encoder + decoder weights ("encoder.*", "decoder.*"): stage 3's result."""
    tensors = {f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}
    tensors |= {f"decoder.{k}": v for k, v in model.decoder.state_dict().items()}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(tensors, str(path), metadata={"steps": str(steps)})


def load_resampler(model: VideoFlexTok, path) -> None:
    """Strictly load what `save_resampler` wrote, onto the model's device."""
    device = next(model.decoder.parameters()).device
    tensors = load_file(str(path), device=str(device))
    for name, module in (("encoder", model.encoder), ("decoder", model.decoder)):
        prefix = name + "."
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
