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

import math
import time

import torch
from safetensors.torch import load_file, save_file

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.synthetic import make_batch

from .config import RS_SEED_BASE, DemoConfig


@torch.inference_mode()
def encode_dataset(model: VideoFlexTok, c: DemoConfig, log, batch: int = 32):
    """VAE posterior (mean, std) of `c.rs_clips` training clips: 2 x (M, 16, t, h, w)."""
    means, stds = [], []
    t0 = time.time()
    for start in range(0, c.rs_clips, batch):
        seeds = range(RS_SEED_BASE + start, RS_SEED_BASE + min(start + batch, c.rs_clips))
        video = make_batch(seeds, c.chunk, c.size, difficulty=c.difficulty)
        mean, logvar = model.vae.moments(video).chunk(2, dim=1)
        means.append(mean)
        stds.append(torch.exp(0.5 * logvar.clamp(-30.0, 20.0)))
        if start % (batch * 40) == 0:
            log(stage="encode", clips=start + len(seeds), seconds=time.time() - t0)
    return torch.cat(means), torch.cat(stds)


class Trainer:
    def __init__(self, model: VideoFlexTok, c: DemoConfig):
        self.model, self.c = model, c
        self.params = dict(
            [(f"encoder.{k}", p) for k, p in model.encoder.named_parameters()]
            + [(f"decoder.{k}", p) for k, p in model.decoder.named_parameters()]
        )
        trainable = [p for p in self.params.values() if p.requires_grad]
        self.opt = torch.optim.AdamW(
            trainable, lr=c.rs_lr, betas=(0.9, 0.99), weight_decay=c.rs_weight_decay
        )
        self.ema = {k: p.detach().clone() for k, p in self.params.items()}
        self.step = 0
        self.gen = torch.Generator().manual_seed(c.seed + 10)
        n = c.registers
        self.keep_choices = torch.tensor([1 << i for i in range(n.bit_length()) if 1 << i <= n])

    def lr(self) -> float:
        c = self.c
        if self.step < c.rs_warmup:
            return c.rs_lr * (self.step + 1) / c.rs_warmup
        frac = (self.step - c.rs_warmup) / max(1, c.rs_steps - c.rs_warmup)
        return c.rs_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    def batch_loss(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        c, g, m = self.c, self.gen, self.model
        B, _, t = mean.shape[:3]
        z = mean + std * torch.randn(mean.shape, generator=g)  # VAE posterior sample
        codes = m.fsq.quantize_ste(m.encoder(z))  # (B, t, N, d)

        tau = torch.sigmoid(torch.randn(B, generator=g))  # logit-normal flow time
        noise = torch.randn(z.shape, generator=g)
        x = tau.view(B, 1, 1, 1, 1) * noise + (1 - tau.view(B, 1, 1, 1, 1)) * z
        probs = torch.tensor(c.prefix_probs)
        prefix = torch.tensor(c.prefix_lengths)[torch.multinomial(probs, B, True, generator=g)]
        cond_sigma = c.cond_sigma_range[0] + torch.rand(B, generator=g) * (
            c.cond_sigma_range[1] - c.cond_sigma_range[0]
        )
        cond_sigma = torch.where(torch.rand(B, generator=g) < c.cond_noise_prob, cond_sigma, 0.0)
        frames = torch.arange(t)[None]  # (1, t)
        is_prefix = (frames < prefix[:, None]).view(B, 1, t, 1, 1)
        cs = cond_sigma.view(B, 1, 1, 1, 1)
        x = torch.where(is_prefix, cs * noise + (1 - cs) * z, x)

        keep_k = self.keep_choices[torch.randint(len(self.keep_choices), (B,), generator=g)]
        uncond = torch.rand(B, generator=g) < c.null_cond_prob
        v = m.decoder(codes, x, tau, keep_k, prefix, uncond)
        per_frame = (v - (noise - z)).pow(2).mean(dim=(1, 3, 4))  # (B, t)
        weight = (~is_prefix.view(B, t)).float()
        return (per_frame * weight).sum() / weight.sum()

    def train_step(self, mean: torch.Tensor, std: torch.Tensor) -> float:
        for group in self.opt.param_groups:
            group["lr"] = self.lr()
        loss = self.batch_loss(mean, std)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.c.grad_clip)
        self.opt.step()
        decay = min(self.c.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for k, p in self.params.items():
                self.ema[k].lerp_(p.detach(), 1 - decay)
        self.step += 1
        return loss.item()

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
        tensors["gen_state"] = self.gen.get_state()
        save_file(tensors, str(path), metadata={"step": str(self.step)})

    def load(self, path) -> None:
        tensors = load_file(str(path))
        with torch.no_grad():
            for k, p in self.params.items():
                p.copy_(tensors[f"param.{k}"])
                self.ema[k] = tensors[f"ema.{k}"].clone()
        for k, p in self.params.items():
            if f"opt.{k}.exp_avg" in tensors:
                self.opt.state[p] = {
                    "step": torch.tensor(float(self._saved_step(path))),
                    "exp_avg": tensors[f"opt.{k}.exp_avg"].clone(),
                    "exp_avg_sq": tensors[f"opt.{k}.exp_avg_sq"].clone(),
                }
        self.gen.set_state(tensors["gen_state"])
        self.step = self._saved_step(path)

    @staticmethod
    def _saved_step(path) -> int:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return int(f.metadata()["step"])


def train_resampler(model, c: DemoConfig, mean, std, work, log, save_every: int = 400):
    """Train in place; resumes from work/resampler_state.safetensors if present."""
    trainer = Trainer(model, c)
    state = work / "resampler_state.safetensors"
    if state.is_file():
        trainer.load(state)
        log(stage="resampler", resumed_at=trainer.step)
    pick = torch.Generator().manual_seed(c.seed + 11)
    for _ in range(trainer.step):  # keep the batch order of an uninterrupted run
        torch.randint(len(mean), (c.rs_batch,), generator=pick)
    model.train()
    t0, losses = time.time(), []
    while trainer.step < c.rs_steps:
        idx = torch.randint(len(mean), (c.rs_batch,), generator=pick)
        losses.append(trainer.train_step(mean[idx], std[idx]))
        if trainer.step % 50 == 0 or trainer.step == c.rs_steps:
            log(stage="resampler", step=trainer.step, loss=sum(losses) / len(losses),
                lr=trainer.lr(), seconds=time.time() - t0)  # fmt: skip
            losses = []
        if trainer.step % save_every == 0 and trainer.step < c.rs_steps:
            trainer.save(state)
    trainer.use_ema()
    return model.eval()
