"""What the demo page says and shows besides the players and plots (`figures.py`): every piece of
Markdown (the page's texts, the notices, the model and clip lines, the stats lines, the ETA) and
the payloads `demo.DemoService` hands the page.

Legend: T frames, H/W pixels, t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor

from videoflextok_core.curve import CurveResult
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.precision import Precision

from .defaults import Defaults
from .request import Request

if TYPE_CHECKING:  # PyAV: startup.py imports this module where only torch is installed
    from videoflextok_core.media.read import VideoInfo

# ---------------------------------------------------------------------------------------------
# The page's texts
# ---------------------------------------------------------------------------------------------

INTRO = (
    "# VideoFlexTok: coarse-to-fine video tokens\n"
    "Each latent frame (timestep) of a video becomes a sequence of tokens ordered coarse to fine; "
    "any prefix of **k** tokens decodes into a plausible video. Upload a clip, then drag k. "
    "([paper](https://arxiv.org/abs/2604.12887))"
)
SEEDS_EXPLAINED = (
    "The same tokens decoded from different noise (seeds): what stays fixed is what the tokens "
    "carry, what changes is invented by the decoder. The heatmap is the per-pixel spread (std "
    "across seeds); it shrinks as k grows. Its mean joins the quality curve as a series."
)
NO_VIDEO = "Upload a video or pick an example."
ONE_CHOICE = "the released models need a GPU"  # the model selector's note with one choice


# ---------------------------------------------------------------------------------------------
# Notices: which model runs and why (`startup.choose_model`, `models.Models`)
# ---------------------------------------------------------------------------------------------


def chosen_notice(name: str, device: str, precision: Precision, how: str) -> str:
    """A model named with --model or $VIDEOFLEXTOK_MODEL."""
    return f"Running **{name}** on {device} in {precision} (chosen with `{how}`)."


def released_notice(hub_ref: str, device: str, precision: Precision) -> str:
    return f"Running the released model **{hub_ref}** on {device} in {precision}."


def demo_notice(name: str, model: VideoFlexTok, device: str, why: str) -> str:
    """The embedded demo model, and why the released one does not run."""
    H, W = model.resolution
    return (
        f"Running the small embedded **demo model** ({name}, {H}x{W}, {model.n_registers} "
        f"tokens per latent frame) on {device} in {model.precision}, because {why}."
    )


def selected_notice(name: str, device: str, note: str = "") -> str:
    """A model picked in the selector, with its warning if it has one."""
    notice = f"Running **{name}** on {device} (picked in the model selector)."
    return notice + (f" ⚠️ {note}." if note else "")


# ---------------------------------------------------------------------------------------------
# The model and the clip
# ---------------------------------------------------------------------------------------------


def model_info(model: VideoFlexTok, name: str, device: str) -> str:
    """Name, device and precision, resolution, tokens per frame, chunking, codebook."""
    c, p = model.chunking, model.precision
    H, W = model.resolution
    levels = "·".join(map(str, model.config.fsq.levels))
    return (
        f"**{name}** on {device}, {p} (tokenize in {p.tokenize_runs})  \n"
        f"{H}×{W} pixels at {model.config.fps:g} fps · **{model.n_registers} tokens per "
        f"timestep** (registers per latent frame)  \n"
        f"chunks of {c.chunk} frames overlapping by {c.overlap}, {c.time_factor}× temporal "
        f"compression: {c.tokens_per_chunk} timesteps per chunk  \n"
        f"codebook {model.codebook_size:,} (FSQ levels {levels}) = "
        f"{math.log2(model.codebook_size):.2f} bits per token"
    )


def length_choices(frame_choices: tuple[int, ...], fps: float) -> list[tuple[str, int]]:
    """(label, frames) for the clip length control: "17 (2.1 s)"."""
    return [(f"{n} ({n / fps:.1f} s)", n) for n in frame_choices]


def clip_summary(video: Tensor, info: "VideoInfo", tokens: Tensor, seconds: float) -> str:
    """A tokenized clip (3, T, H, W) and its ids (1, t, N), in one line."""
    _, T, H, W = video.shape
    t, N = tokens.shape[1:]
    note = f" ({info.note})" if info.note else ""
    return (
        f"{T} frames at {info.target_fps:g} fps from {info.start:g} s, {H}×{W}{note} → "
        f"**{t} timesteps × {N} tokens** (tokenized in {seconds:.2f} s)"
    )


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


def k_line(k: int, latent_frames: int) -> str:
    """Markdown next to the player: the slider's k and what it costs for the clip."""
    total = k * latent_frames
    return f"**k = {k}** · {k} × {latent_frames} timesteps = **{total:,} tokens**"


def ladder_eta(budgets: int, seconds: float | None, done: int = 0) -> str:
    """Markdown beside the ladder button: budgets left and about how long they take at
    `seconds` per budget (measured on this clip; None: nothing measured yet)."""
    left = budgets - done
    if left <= 0:
        return f"Ladder done: {budgets} budgets."
    head = f"{left} of {budgets} budgets to decode" if done else f"{budgets} budgets"
    if seconds is None:
        return f"{head}; the time shows once a decode of this clip is measured."
    return f"{head}: about {left * seconds:,.0f} s ({seconds:.1f} s per decode on this clip)."


@dataclass(frozen=True)
class SpreadStats:
    """The numbers of one seed view."""

    k: int
    seeds: tuple[int, ...]
    latent_frames: int  # t
    mean: float  # mean per-pixel std across seeds, [0, 1] pixel units
    seconds: float  # the batched decode
    cached: bool

    def line(self) -> str:
        took = f"{len(self.seeds)} seeds decoded in one batch in {self.seconds:.2f} s"
        took += " (cached, shown at once)" * self.cached
        return (
            f"k={self.k} ({self.latent_frames} timesteps × {self.k} tokens), seeds "
            f"{self.seeds[0]}..{self.seeds[-1]} · mean spread {self.mean:.4f} (std across "
            f"seeds, pixels in 0..1; dark = fixed by the tokens, bright = invented) · {took}"
        )


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconstruction:
    side_by_side: Path  # mp4: original | reconstruction | error
    video: Path  # mp4: the reconstruction alone
    tokens_file: Path  # .safetensors: the clip's ids with the model and the decode settings
    stats: Stats
    tokens: Tensor  # (1, t, N), for the token view
    k: int


@dataclass(frozen=True)
class CurveView:
    figure: object  # plotly Figure, the curve so far
    csv: Path | None  # when complete
    eta: str  # Markdown: budgets left and their time (`ladder_eta`)
    result: CurveResult
    folder: Path  # the clip's folder
    fps: float  # the clip's frame rate


@dataclass(frozen=True)
class PageSetup:
    """What the page's controls show for one model (kept by `models.Models` per model, so the
    page can be set up without loading it again)."""

    n_registers: int  # N: the k slider's range
    defaults: Defaults  # k, clip length, sampler, seeds
    lengths: tuple[tuple[str, int], ...]  # (label, frames) of the clip length control
    timesteps: dict  # frames -> latent frames t, for each length
    ladder: tuple[int, ...]  # the ladder's budgets
    info: str  # Markdown about the model


@dataclass(frozen=True)
class SeedView:
    """The seed view: what the decoder invents at one k."""

    grid: Path  # mp4: original, one panel per seed, the spread heatmap
    image: Path  # png: the spread averaged over the frames, colour-mapped
    stats: SpreadStats


@dataclass(frozen=True)
class PageViews:
    """What the page shows around a reconstruction besides the player."""

    tokens: Tensor  # (1, t, N): the token heatmap
    k: int
    downloads: tuple[Path, ...]  # tokens .safetensors (with the decode settings), recon mp4
    curve: CurveView | None  # the finished ladder with k marked, if it has run
    eta: str  # Markdown: how long the ladder would take (`ladder_eta`)


@dataclass(frozen=True)
class Shown:
    """What one event showed, kept in the page's `gr.State` for the events chained after it
    (the token view after a reconstruction, the grid after the ladder, the curve's spread series
    after a seed view), so that they read it instead of computing it again."""

    model: str  # the selector's name of the model that made it
    request: Request
    reconstruction: Reconstruction | None = None
    curve: CurveView | None = None


__all__ = [
    "INTRO",
    "NO_VIDEO",
    "CurveView",
    "PageSetup",
    "PageViews",
    "Reconstruction",
    "SeedView",
    "Shown",
    "SpreadStats",
    "Stats",
    "clip_summary",
    "k_line",
    "ladder_eta",
    "model_info",
    "token_stats",
]
