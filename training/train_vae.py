"""Stage 1: train the small VidTok VAE on procedural clips.

The VAE is fully convolutional (plus per-frame attention in its bottleneck), so most steps use
cheap 9-frame 32x32 crops; a short fine-tune on whole 17-frame 64x64 clips follows. Loss: L1 + L2
reconstruction + a light KL to the unit Gaussian (VidTok's KL variant, weight 1e-6).
"""

import math
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from synthetic import make_batch
from videoflextok_core.model.vidtok import ResBlock1d, VidTok, VidTokSpec

from .config import DEC_SEED_BASE, VAE_SEED_BASE, DemoConfig


def vae_spec(c: DemoConfig) -> VidTokSpec:
    return VidTokSpec(ch=c.vae_ch, ch_mult=tuple(c.vae_ch_mult), num_res_blocks=c.vae_res_blocks)


def vae_loss(vae: VidTok, video: torch.Tensor, c: DemoConfig, generator: torch.Generator):
    """video (B, 3, T, H, W) in [-1, 1] -> (loss, l1, kl)."""
    mean, logvar = vae.moments(video).chunk(2, dim=1)
    logvar = logvar.clamp(-30.0, 20.0)
    noise = torch.randn(mean.shape, generator=generator)
    z = mean + torch.exp(0.5 * logvar) * noise
    reconstruction, l1 = recon_loss(vae.decode(z), video, c)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3, 4)).mean()
    return reconstruction + c.vae_kl_weight * kl, l1, kl


def recon_loss(recon: torch.Tensor, video: torch.Tensor, c: DemoConfig):
    """L1 + w * L2 between a decoded clip and its input -> (loss, l1)."""
    l1 = (recon - video).abs().mean()
    return l1 + c.vae_l2_weight * (recon - video).pow(2).mean(), l1


def _lr(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _save_state(path, vae, opt, step: int, gens) -> None:
    tensors = {f"param.{k}": v.contiguous() for k, v in vae.state_dict().items()}
    names = {id(p): k for k, p in vae.named_parameters()}
    for p, st in opt.state.items():
        for key in ("exp_avg", "exp_avg_sq"):
            tensors[f"opt.{names[id(p)]}.{key}"] = st[key].contiguous()
    for i, g in enumerate(gens):
        tensors[f"gen.{i}"] = g.get_state()
    save_file(tensors, str(path), metadata={"step": str(step)})


def _load_state(path, vae, opt, gens) -> int:
    with safe_open(str(path), framework="pt") as f:
        step = int(f.metadata()["step"])
    tensors = load_file(str(path))
    vae.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("param.")})
    for k, p in vae.named_parameters():
        if f"opt.{k}.exp_avg" in tensors:
            opt.state[p] = {
                "step": torch.tensor(float(step)),
                "exp_avg": tensors[f"opt.{k}.exp_avg"],
                "exp_avg_sq": tensors[f"opt.{k}.exp_avg_sq"],
            }
    for i, g in enumerate(gens):
        g.set_state(tensors[f"gen.{i}"])
    return step


def train_vae(c: DemoConfig, log, work=None, save_every: int = 200) -> VidTok:
    """Train from scratch, or resume from work/vae_state.safetensors."""
    torch.manual_seed(c.seed)
    gen = torch.Generator().manual_seed(c.seed + 1)
    crop_gen = torch.Generator().manual_seed(c.seed + 2)
    vae = VidTok(vae_spec(c))
    for m in vae.modules():  # VidTok zero-inits the temporal blocks' last conv: identity at start
        if isinstance(m, ResBlock1d):
            torch.nn.init.zeros_(m.conv2.conv.weight)
            torch.nn.init.zeros_(m.conv2.conv.bias)
    opt = torch.optim.AdamW(vae.parameters(), lr=c.vae_lr, betas=(0.9, 0.99), weight_decay=0.0)
    total = c.vae_steps + c.vae_finetune_steps
    seed = VAE_SEED_BASE + 1_000_000 * c.seed
    state = work / "vae_state.safetensors" if work is not None else None
    start = 0
    if state is not None and state.is_file():
        start = _load_state(state, vae, opt, (gen, crop_gen))
        for s in range(start):  # the clip seeds consumed so far
            seed += c.vae_batch if s < c.vae_steps else max(2, c.vae_batch // 2)
        log(stage="vae", resumed_at=start)
    t0 = time.time()
    for step in range(start, total):
        finetune = step >= c.vae_steps
        frames = c.chunk if finetune else c.vae_frames
        batch = max(2, c.vae_batch // 2) if finetune else c.vae_batch
        video = make_batch(range(seed, seed + batch), frames, c.size, difficulty=c.difficulty)
        seed += batch
        if not finetune and c.vae_crop < c.size:
            y, x = torch.randint(0, c.size - c.vae_crop + 1, (2,), generator=crop_gen).tolist()
            video = video[..., y : y + c.vae_crop, x : x + c.vae_crop]
        for group in opt.param_groups:
            group["lr"] = _lr(step, total, c.vae_lr)
        loss, l1, kl = vae_loss(vae, video, c, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), c.grad_clip)
        opt.step()
        if step % 50 == 0 or step == total - 1:
            psnr = -10 * math.log10(max(1e-10, ((l1.item()) ** 2)))  # rough, from L1
            log(
                stage="vae",
                step=step,
                loss=loss.item(),
                l1=l1.item(),
                kl=kl.item(),
                psnr_from_l1=psnr,
                seconds=time.time() - t0,
            )
        if state is not None and (step + 1) % save_every == 0:
            _save_state(state, vae, opt, step + 1, (gen, crop_gen))
    return vae.eval()


DECODER_FILE = "vae_decoder.safetensors"  # stage 1b's result in the work directory


def load_decoder_finetune(vae: VidTok, work: Path) -> bool:
    """Load stage 1b's decoder from `work` if it is there; returns whether it was."""
    path = work / DECODER_FILE
    if not path.is_file():
        return False
    vae.decoder.load_state_dict(load_file(path))
    return True


def finetune_decoder(vae: VidTok, c: DemoConfig, log) -> VidTok:
    """Stage 1b: train only `vae.decoder` (L1 + L2 on whole clips, posterior samples of the
    frozen encoder), warm-up + cosine LR. Tokens do not change; reconstructions sharpen."""
    gen = torch.Generator().manual_seed(c.seed + 3)
    for p in vae.parameters():
        p.requires_grad_(False)
    params = list(vae.decoder.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=c.dec_finetune_lr, betas=(0.9, 0.99), weight_decay=0.0)
    seed = DEC_SEED_BASE + 1_000_000 * c.seed
    B, total = c.dec_finetune_batch, c.dec_finetune_steps
    vae.train()
    t0 = time.time()
    for step in range(total):
        video = make_batch(range(seed, seed + B), c.chunk, c.size, difficulty=c.difficulty)
        seed += B
        with torch.no_grad():
            mean, std = vae.posterior(video)
            z = mean + std * torch.randn(mean.shape, generator=gen)
        for group in opt.param_groups:
            group["lr"] = _lr(step, total, c.dec_finetune_lr, warmup=min(100, total // 10 + 1))
        loss, l1 = recon_loss(vae.decode(z), video, c)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
        opt.step()
        if step % 50 == 0 or step == total - 1:
            log(
                stage="vae_decoder",
                step=step,
                loss=loss.item(),
                l1=l1.item(),
                seconds=time.time() - t0,
            )
    for p in params:
        p.requires_grad_(False)
    return vae.eval()


@torch.inference_mode()
def vae_psnr(vae: VidTok, c: DemoConfig, seeds) -> float:
    """Mean PSNR (dB, [0,1] range) of encode(mean) -> decode on full clips."""
    video = make_batch(seeds, c.chunk, c.size, difficulty=c.difficulty)
    recon = vae.decode(vae.encode(video, sample=False)).clamp(-1, 1)
    mse = ((recon - video) / 2).pow(2).mean(dim=(1, 2, 3, 4))
    return float((-10 * torch.log10(mse)).mean())
