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

from .media.metrics import Metrics, compute_metrics, psnr, ssim
from .media.read import VideoInfo, VideoReadError, probe_video, read_video
from .media.write import write_video
from .model import Noise, Sampler, VideoFlexTok
from .model.checkpoint import CheckpointError
from .model.config import UnsupportedConfigError

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
