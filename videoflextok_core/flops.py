"""FLOPs of tokenizing and decoding, counted on the model itself, never guessed.

    from videoflextok_core.flops import model_flops
    flops = model_flops(model.config)    # counted once per config (~2 s for the released one)
    flops.vae_decode / 1e12              # 12.1: TFLOP of decoding one 17-frame 256x256 chunk
    flops.reconstruct(33, Sampler(25, guidance=20.0, apg=True)) / 1e15   # 0.73: tokenize + decode

How: the model is built on the meta device (no weights, no memory) and each part runs once on
meta tensors of one sample under `torch.utils.flop_counter.FlopCounterMode`, which counts
matmuls, convolutions and attention (a multiply-add is 2 FLOPs) from shapes alone. Elementwise
work (norms, activations, the sampler update, APG) is not counted. Attention counts the dense
L x L products: the masks of the trunks do not make SDPA skip work.

Per sample and per chunk, so that a caller multiplies out clip length, batch, steps and guidance:
work grows linearly with the batch, and the flow decoder's cost does not depend on k (dropped
tokens are replaced by a mask token, the sequence keeps its length).

Legend: T frames, t latent frames, N tokens per latent frame.
"""

import json
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from .model import VideoFlexTok
from .model.chunking import Chunking
from .model.sampling import Sampler
from .model.specs import ModelConfig

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) from the vendors' data sheets, keyed by a
# word of `torch.cuda.get_device_name()`; first match wins ("H100 PCIe" before "H100").
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,  # SXM
    "A100": 312.0,
    "A10G": 125.0,
    "L4": 121.0,
}


def bf16_peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU named like `torch.cuda.get_device_name()`, None if unknown."""
    for key, peak in BF16_PEAK_TFLOPS.items():
        if key in device_name:
            return peak
    return None


def count_flops(fn, *args, **kwargs) -> int:
    """FLOPs that FlopCounterMode counts while `fn(*args, **kwargs)` runs."""
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return counter.get_total_flops()


@dataclass(frozen=True)
class ModelFlops:
    """Counted FLOPs of one sample, per chunk of `chunking.chunk` frames."""

    vae_encode: int  # VidTok encoder: one chunk (3, chunk, H, W) -> latents (z, t, h, w)
    encoder: int  # register encoder: one chunk's latents -> (t, N, d)
    decoder_forward: int  # ONE flow-decoder forward on one chunk (one branch; CFG doubles it)
    vae_decode: int  # VidTok decoder: one chunk's latents -> (3, chunk, H, W)
    reencode: int  # a later chunk re-encodes the overlap frames: VAE encode twice + encoder
    chunking: Chunking

    def chunks(self, frames: int) -> int:
        """Chunks of a clip of `frames` frames (a valid length, 1 + 16K for the released models)."""
        c = self.chunking
        whole = isinstance(frames, int) and not isinstance(frames, bool)
        if not whole or not c.is_valid(frames):
            raise ValueError(
                f"frames must be a whole number of chunks ({c.valid_frames(1)}, "
                f"{c.valid_frames(2)}, {c.valid_frames(3)}, ...), got {frames!r}"
            )
        return c.num_chunks_for_frames(frames)

    def tokenize(self, frames: int, batch: int = 1) -> int:
        """`tokenize` of `batch` clips of `frames` frames."""
        return batch * self.chunks(frames) * (self.vae_encode + self.encoder)

    def detokenize(self, frames: int, sampler: Sampler, batch: int = 1) -> int:
        """`detokenize` of `batch` samples (budgets) of `frames` frames with `sampler`: per chunk
        steps x forwards (2 with guidance: cond + uncond) decoder passes and one VAE decode,
        plus the re-encoded overlap of every chunk after the first."""
        n = self.chunks(frames)
        forwards = 2 if sampler.guided else 1
        per_chunk = sampler.steps * forwards * self.decoder_forward + self.vae_decode
        return batch * (n * per_chunk + (n - 1) * self.reencode)

    def reconstruct(self, frames: int, sampler: Sampler, batch: int = 1) -> int:
        """Tokenize one clip of `frames` frames, then decode it at `batch` budgets (the app's
        reconstruction: `tokenize` + `detokenize`)."""
        return self.tokenize(frames) + self.detokenize(frames, sampler, batch)


def model_flops(config: ModelConfig) -> ModelFlops:
    """`ModelFlops` of a model config, counted on meta tensors once per config (cached)."""
    return _counted(config.raw)


@lru_cache(maxsize=8)
def _counted(raw: str) -> ModelFlops:
    with torch.device("meta"):
        model = VideoFlexTok(json.loads(raw)).eval()
    # Nothing may require grad: FlopCounterMode's module tracker hooks autograd otherwise, and
    # that fails on inference tensors.
    model.requires_grad_(False)
    cfg = model.config
    c = model.chunking
    H, W = cfg.resolution
    t, h, w = cfg.vae_video_sizes
    z = cfg.vae.arch.z_channels
    meta = torch.device("meta")
    with torch.inference_mode():
        video = torch.zeros(1, 3, c.chunk, H, W, device=meta)
        latents = torch.zeros(1, z, t, h, w, device=meta)
        codes = torch.zeros(1, t, model.n_registers, len(cfg.fsq.levels), device=meta)
        tau = torch.ones(1, device=meta)
        reencode = 0
        if c.overlap > 0:
            frames = torch.zeros(1, 3, c.overlap, H, W, device=meta)
            lat = torch.zeros(1, z, c.overlap_tokens, h, w, device=meta)
            reencode = 2 * count_flops(model.vae.encode, frames, False) + count_flops(
                model.encoder, lat
            )
        return ModelFlops(
            vae_encode=count_flops(model.vae.encode, video, False),
            encoder=count_flops(model.encoder, latents),
            decoder_forward=count_flops(model.decoder, codes, latents, tau),
            vae_decode=count_flops(model.vae.decode, latents),
            reencode=reencode,
            chunking=c,
        )


__all__ = ["BF16_PEAK_TFLOPS", "ModelFlops", "bf16_peak_tflops", "count_flops", "model_flops"]
