"""What the demo page shows besides the players: the stats line, the token heatmap, the quality
ladder's figure, the budget grid's panels, and the payloads `demo.DemoService` hands the page.

Legend: T frames, H/W pixels, t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from .curve import CurveResult

GRID = (1, 4, 16, 64)  # budget grid panels, plus N


# ---------------------------------------------------------------------------------------------
# Stats line, token heatmap, ladder figure
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


def token_figure(tokens: Tensor, k: int):
    """Plotly heatmap of token ids (rows: latent frames, columns: token index 0..N-1) with the
    columns beyond the kept prefix k dimmed and a line at the cut."""
    import plotly.graph_objects as go

    ids = tokens.reshape(tokens.shape[-2], tokens.shape[-1]).cpu()  # (t, N)
    t, N = ids.shape
    fig = go.Figure(
        go.Heatmap(
            z=ids.tolist(),
            x=list(range(N)),
            y=list(range(t)),
            colorscale="Viridis",
            colorbar={"title": {"text": "id"}},
            hovertemplate="timestep %{y}, token %{x}<br>id %{z}<extra></extra>",
        )
    )
    if k < N:
        fig.add_shape(type="rect", x0=k - 0.5, x1=N - 0.5, y0=-0.5, y1=t - 0.5, line_width=0,
                      fillcolor="white", opacity=0.75, layer="above")  # fmt: skip
    fig.add_vline(x=k - 0.5, line={"color": "crimson", "width": 2})
    fig.update_layout(
        title=f"Token ids: {t} timesteps × {N} tokens; the first k={k} are decoded",
        height=min(520, 160 + 28 * t),
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    fig.update_xaxes(title_text="token index (coarse → fine)", range=[-0.5, N - 0.5])
    fig.update_yaxes(title_text="timestep", autorange="reversed", dtick=1)
    return fig


def grid_budgets(n: int) -> tuple[int, ...]:
    """Budget grid panels: 1, 4, 16, 64 below N, then N."""
    return tuple(k for k in GRID if k < n) + (n,)


def ladder_figure(result: CurveResult, k: int | None = None):
    """The curve so far on the whole ladder's log axis, so partial curves stay put; k is a star
    when it is a ladder budget, else a dashed line."""
    fig = result.figure(selected_k=k if k in result.budgets else None)
    ladder = result.settings.budgets  # the whole ladder's axis, so partial curves stay put
    fig.update_xaxes(range=[math.log10(ladder[0]) - 0.1, math.log10(ladder[-1]) + 0.1],
                     tickvals=list(ladder), ticktext=[str(b) for b in ladder])  # fmt: skip
    if k is not None and k not in result.budgets:  # between ladder budgets: a line only
        fig.add_vline(x=k, line={"color": "crimson", "width": 1, "dash": "dash"})
        fig.add_annotation(
            x=math.log10(k),
            y=1,
            xref="x",
            yref="paper",
            text=f"k={k}",
            showarrow=False,
            yanchor="bottom",
        )  # log axis: log10 position
    return fig


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
    "grid_budgets",
    "ladder_figure",
    "token_figure",
    "token_stats",
]
