"""What the demo page shows besides the players and plots (`figures.py`): the stats line and
the payloads `demo.DemoService` hands the page.

Legend: T frames, H/W pixels, t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from videoflextok_core.curve import CurveResult

# ---------------------------------------------------------------------------------------------
# Stats line
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """The numbers of one reconstruction."""

    latent_frames: int  # t
    k: int
    total_tokens: int  # t * k
    bits_per_token: float  # log2(codebook size)
    bytes: float  # total_tokens * bits_per_token / 8
    raw_bytes: int  # T * H * W * 3: the clip as 8-bit RGB
    ratio: float  # raw_bytes / bytes
    seconds: float  # decode time
    cached: bool

    def line(self) -> str:
        took = f"decoded in {self.seconds:.2f} s" + (" (cached, shown at once)" * self.cached)
        return (
            f"{self.latent_frames} timesteps × {self.k} token{'s' if self.k != 1 else ''} = "
            f"{self.total_tokens} tokens · "
            f"{self.bytes:,.0f} bytes at {self.bits_per_token:.2f} bits/token · "
            f"{self.ratio:,.0f}× smaller than the raw 8-bit clip ({self.raw_bytes:,} bytes) · "
            f"{took}"
        )


def token_stats(
    latent_frames: int,
    k: int,
    codebook_size: int,
    frames: int,
    height: int,
    width: int,
    seconds: float = 0.0,
    cached: bool = False,
) -> Stats:
    bits = math.log2(codebook_size)
    total = latent_frames * k
    size = total * bits / 8
    raw = frames * height * width * 3
    return Stats(latent_frames, k, total, bits, size, raw, raw / size, seconds, cached)


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconstruction:
    side_by_side: Path  # mp4: original | reconstruction | error
    video: Path  # mp4: the reconstruction alone
    stats: Stats
    tokens: Tensor  # (1, t, N), for the token view
    k: int


@dataclass(frozen=True)
class CurveView:
    figure: object  # plotly Figure, the curve so far
    csv: Path | None  # when complete
    result: CurveResult
    folder: Path  # the clip's folder
    fps: float  # the clip's frame rate


@dataclass(frozen=True)
class PageViews:
    """What the page shows around a reconstruction besides the player."""

    tokens: Tensor  # (1, t, N): the token heatmap
    k: int
    downloads: tuple[Path, ...]  # tokens .safetensors (with the decode settings), recon mp4
    curve: CurveView | None  # the finished ladder with k marked, if it has run


__all__ = [
    "CurveView",
    "PageViews",
    "Reconstruction",
    "Stats",
    "token_stats",
]
