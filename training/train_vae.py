"""Stage 1: train the small VidTok VAE on procedural clips.

The VAE is fully convolutional (plus per-frame attention in its bottleneck), so most steps use
cheap 9-frame 32x32 crops; a short fine-tune on whole 17-frame 64x64 clips follows. Loss: L1 + L2
reconstruction + a light KL to the unit Gaussian (VidTok's KL variant, weight 1e-6).
"""

import math
import time

import torch

from videoflextok_core.synthetic import make_batch
from videoflextok_core.vidtok import VidTok, VidTokSpec

from .config import VAE_SEED_BASE, DemoConfig


def vae_spec(c: DemoConfig) -> VidTokSpec:
    return VidTokSpec(ch=c.vae_ch, ch_mult=tuple(c.vae_ch_mult), num_res_blocks=c.vae_res_blocks)


def vae_loss(vae: VidTok, video: torch.Tensor, c: DemoConfig, generator: torch.Generator):
    """video (B, 3, T, H, W) in [-1, 1] -> (loss, l1, kl)."""
    mean, logvar = vae.moments(video).chunk(2, dim=1)
    logvar = logvar.clamp(-30.0, 20.0)
    noise = torch.randn(mean.shape, generator=generator)
    z = mean + torch.exp(0.5 * logvar) * noise
    recon = vae.decode(z)
    l1 = (recon - video).abs().mean()
    l2 = (recon - video).pow(2).mean()
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3, 4)).mean()
    return l1 + c.vae_l2_weight * l2 + c.vae_kl_weight * kl, l1, kl


def _lr(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train_vae(c: DemoConfig, log) -> VidTok:
    torch.manual_seed(c.seed)
    gen = torch.Generator().manual_seed(c.seed + 1)
    crop_gen = torch.Generator().manual_seed(c.seed + 2)
    vae = VidTok(vae_spec(c))
    opt = torch.optim.AdamW(vae.parameters(), lr=c.vae_lr, betas=(0.9, 0.99), weight_decay=0.0)
    total = c.vae_steps + c.vae_finetune_steps
    seed = VAE_SEED_BASE + 1_000_000 * c.seed
    t0 = time.time()
    for step in range(total):
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
            log(stage="vae", step=step, loss=loss.item(), l1=l1.item(), kl=kl.item(),
                psnr_from_l1=psnr, seconds=time.time() - t0)  # fmt: skip
    return vae.eval()


@torch.inference_mode()
def vae_psnr(vae: VidTok, c: DemoConfig, seeds) -> float:
    """Mean PSNR (dB, [0,1] range) of encode(mean) -> decode on full clips."""
    video = make_batch(seeds, c.chunk, c.size, difficulty=c.difficulty)
    recon = vae.decode(vae.encode(video, sample=False)).clamp(-1, 1)
    mse = ((recon - video) / 2).pow(2).mean(dim=(1, 2, 3, 4))
    return float((-10 * torch.log10(mse)).mean())
