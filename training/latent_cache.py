"""The resampler's training data: VAE posteriors of training clips, encoded once, in shards.

RUN/latents/shard_NNNNN.safetensors holds `mean` and `std` (S, 16, 5, 8, 8) in float16 for clips
[N * S, (N + 1) * S) of one TrainingClips stream, with the VAE's fingerprint in its metadata.
Building is resumable shard by shard (a session that stops keeps every finished shard), and a
cache built by another VAE is refused. Reading loads every shard into memory (16,000 clips:
330 MB) and hands out float32 batches.
"""

import json
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from videoflextok_core.model.vidtok import VidTok

from .data import TrainingClips


def vae_fingerprint(vae: VidTok) -> str:
    """A short digest of the VAE's weights (which latent space a cache is in)."""
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(vae.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _shard_path(home: Path, i: int) -> Path:
    return home / f"shard_{i:05d}.safetensors"


@torch.inference_mode()
def build_cache(home: Path, vae: VidTok, clips: TrainingClips, count: int, shard: int, frames,
                size, stopping, log) -> bool:  # fmt: skip
    """Encode clips 0 .. count - 1 into shards of `shard` clips (the missing ones); stops between
    shards when `stopping()` is true. Returns whether the cache is complete."""
    home.mkdir(parents=True, exist_ok=True)
    vae.eval()
    fingerprint = vae_fingerprint(vae)
    for i in range((count + shard - 1) // shard):
        path = _shard_path(home, i)
        if path.is_file():
            continue
        if stopping():
            return False
        t0 = time.time()
        start, n = i * shard, min(shard, count - i * shard)
        means, stds = [], []
        for s in range(start, start + n, 32):
            video = clips.batch(s, min(32, start + n - s), frames, size)
            mean, std = vae.posterior(video)
            means.append(mean.half())
            stds.append(std.half())
        meta = {"fingerprint": fingerprint, "stream": clips.base, "start": start, "count": n}
        tmp = path.with_suffix(".tmp")
        save_file(
            {"mean": torch.cat(means), "std": torch.cat(stds)}, str(tmp), {"meta": json.dumps(meta)}
        )
        tmp.rename(path)
        log(stage="latents", shard=i, clips=start + n, seconds=round(time.time() - t0, 1))
    return True


class LatentCache:
    """All shards of `home` in memory; `get(idx)` -> (mean, std) float32 (B, 16, t, h, w)."""

    def __init__(self, home: Path, vae: VidTok | None = None):
        paths = sorted(home.glob("shard_*.safetensors"))
        if not paths:
            raise FileNotFoundError(f"no latent shards in {home}")
        want = vae_fingerprint(vae) if vae is not None else None
        means, stds = [], []
        for path in paths:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads(f.metadata()["meta"])
            if want is not None and meta["fingerprint"] != want:
                raise ValueError(f"{path} was encoded by another VAE ({meta['fingerprint']})")
            tensors = load_file(str(path))
            means.append(tensors["mean"])
            stds.append(tensors["std"])
        self.mean, self.std = torch.cat(means), torch.cat(stds)

    def __len__(self) -> int:
        return len(self.mean)

    def get(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean[idx].float(), self.std[idx].float()
