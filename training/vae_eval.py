"""A cheap, frequent check of a VAE: PSNR of encode (posterior mean) -> decode on held-out clips.

Sets (all 17 frames, 64x64, never trained on):
* procedural: the first clips of the held-out seeds (config.EVAL_SEED_BASE), the gate's figure;
* natural / photo: held-out seeds of the two other generators (stream HELD_OUT_STREAM);
* real: the two clips of ../shared/videos and the Big Buck Bunny examples in assets/examples,
  read at the model's 8 fps, one chunk each (evaluation only: never trained on).

Also the per-channel std of the latents (posterior means) over the procedural set: the flow
decoder's noise assumes latents of order 1, so export folds this scale into the VAE.
Legend: videos (N, 3, 17, 64, 64) in [-1, 1]; latents (N, 16, 5, 8, 8).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from synthetic import make_batch
from videoflextok_core.media.read import read_video
from videoflextok_core.model.vidtok import VidTok

from .config import EVAL_SEED_BASE
from .data import NATURAL, PHOTO, TrainingClips

HELD_OUT_STREAM = 999  # TrainingClips base no stage trains on
ROOT = Path(__file__).resolve().parents[1]
REAL_CLIPS = (
    ROOT.parent / "shared" / "videos" / "porsche.mp4",
    ROOT.parent / "shared" / "videos" / "orig_clip.mp4",
    *sorted((ROOT / "assets" / "examples").glob("bbb_*.mp4")),
)


def clip_psnr(recon: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """Per-clip PSNR (dB) of the whole clip's MSE on [0, 1] frames: (N,). recon, video
    (N, 3, T, H, W) in [-1, 1]; recon is clamped to it first."""
    mse = ((recon.clamp(-1, 1) - video) / 2).pow(2).mean(dim=(1, 2, 3, 4))
    return -10 * torch.log10(mse.clamp_min(1e-10))


@dataclass(frozen=True)
class VaeScores:
    procedural: float  # mean PSNR (dB) of the held-out procedural clips
    natural: float
    photo: float  # NaN without photographs
    real: dict[str, float]  # PSNR (dB) per real clip, by file stem
    latent_std: list[float]  # per channel, over the procedural set

    def as_log(self) -> dict:
        real = {f"real_{k}": round(v, 2) for k, v in self.real.items()}
        mean_real = sum(self.real.values()) / max(1, len(self.real))
        return {
            "procedural": round(self.procedural, 2),
            "natural": round(self.natural, 2),
            "photo": round(self.photo, 2),
            "real_mean": round(mean_real, 2),
            **real,
            "latent_std": [round(s, 3) for s in self.latent_std],
        }


class VaeEval:
    """Holds the held-out clips (made once); calling it scores a VAE."""

    def __init__(self, photos, procedural: int = 8, others: int = 4, size: int = 64):
        frames = 17
        seeds = range(EVAL_SEED_BASE, EVAL_SEED_BASE + procedural)
        self.procedural = make_batch(seeds, frames, size)
        held = TrainingClips(HELD_OUT_STREAM, photos)
        by_kind = {NATURAL: [], PHOTO: []} if photos else {NATURAL: []}
        i = 0
        while min(len(v) for v in by_kind.values()) < others:
            kind = held.source(i)[0]
            if kind in by_kind and len(by_kind[kind]) < others:
                by_kind[kind].append(held.batch(i, 1, frames, size))
            i += 1
        self.natural = torch.cat(by_kind[NATURAL])
        self.photo = torch.cat(by_kind[PHOTO]) if photos else None
        self.real = {}
        for path in REAL_CLIPS:
            if path.is_file():
                video, _ = read_video(path, fps=8.0, size=size, max_frames=frames)
                self.real[path.stem] = video[None]

    @torch.inference_mode()
    def __call__(self, vae: VidTok) -> VaeScores:
        def score(video):
            mean = vae.encode(video, sample=False)
            return clip_psnr(vae.decode(mean), video), mean

        proc, latents = score(self.procedural)
        std = latents.transpose(0, 1).flatten(1).std(dim=1)
        return VaeScores(
            procedural=float(proc.mean()),
            natural=float(score(self.natural)[0].mean()),
            photo=float(score(self.photo)[0].mean()) if self.photo is not None else math.nan,
            real={name: float(score(v)[0][0]) for name, v in self.real.items()},
            latent_std=std.tolist(),
        )
