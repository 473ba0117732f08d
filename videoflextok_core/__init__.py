"""videoflextok_core: a small, dependency-light implementation of VideoFlexTok inference.

VideoFlexTok (Atanov, Allardice et al., 2026, arXiv 2604.12887) turns a video into discrete
tokens per latent frame (256 for the released models), ordered coarse to fine; any prefix of
them decodes, through a rectified-flow decoder, into a plausible video.

    from videoflextok_core import Sampler, VideoFlexTok, read_video
    model = VideoFlexTok.from_pretrained("EPFL-VILAB/videoflextok_d18_d28").eval()
    video, info = read_video("clip.mp4", size=model.resolution[0])
    tokens = model.tokenize(video[None])
    sampler = Sampler(steps=30, guidance=20.0, apg=True)
    reconst = model.detokenize([t[..., :64] for t in tokens], sampler)  # list of (1, 3, T, H, W)
"""

import importlib

from .media.metrics import Metrics, compute_metrics, psnr, ssim
from .model import Noise, Sampler, VideoFlexTok
from .model.checkpoint import CheckpointError
from .model.config import UnsupportedConfigError

# Video I/O needs PyAV; it is imported on first use of one of these names, so that the model,
# the FLOPs and the benchmarks run where only torch, safetensors and numpy are installed (a bare
# GPU machine: benchmarks/gpu_check.py).
_VIDEO = {  # name -> its module in media/
    "VideoInfo": "read",
    "VideoReadError": "read",
    "probe_video": "read",
    "read_video": "read",
    "write_video": "write",
}


def __getattr__(name: str):
    if name in _VIDEO:
        module = importlib.import_module(f".media.{_VIDEO[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_VIDEO])


__all__ = [
    "CheckpointError",
    "Metrics",
    "Noise",
    "Sampler",
    "UnsupportedConfigError",
    "VideoFlexTok",
    "VideoInfo",
    "VideoReadError",
    "compute_metrics",
    "probe_video",
    "psnr",
    "read_video",
    "ssim",
    "write_video",
]
