"""Plotly figures: the quality curve (CLI and app), the app's framing of a ladder in progress,
and the token-id heatmap. plotly is imported only when a figure is drawn.

    from videoflextok_core.figures import curve_figure
    curve_figure(result, selected_k=16).write_html("curve.html")   # result: curve.CurveResult

Legend: t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import math
from collections.abc import Mapping

from torch import Tensor

from .curve import CurveResult


def curve_figure(result: CurveResult, selected_k: int | None = None):
    """Plotly figure: PSNR (left axis) and SSIM (right axis) against tokens per timestep on a
    log2 axis, with a marker and a vertical line at `selected_k` if given."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = result.rows
    ks = [r.k for r in rows]
    hover = [[r.total_tokens, r.bytes] for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    template = "k=%{x}<br>%{y:.2f} dB<br>%{customdata[0]} tokens, %{customdata[1]:.0f} bytes"
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=[r.psnr for r in rows],
            name="PSNR",
            mode="lines+markers",
            customdata=hover,
            hovertemplate=template + "<extra>PSNR</extra>",
        ),
        secondary_y=False,
    )
    template = "k=%{x}<br>SSIM %{y:.4f}<br>%{customdata[0]} tokens, %{customdata[1]:.0f} bytes"
    fig.add_trace(
        go.Scatter(
            x=ks,
            y=[r.ssim for r in rows],
            name="SSIM",
            mode="lines+markers",
            line={"dash": "dot"},
            customdata=hover,
            hovertemplate=template + "<extra>SSIM</extra>",
        ),
        secondary_y=True,
    )
    if selected_k is not None:
        r = result.row(selected_k)
        marker = {"size": 14, "symbol": "star", "color": "crimson"}
        for y, second in ((r.psnr, False), (r.ssim, True)):
            fig.add_trace(
                go.Scatter(
                    x=[r.k],
                    y=[y],
                    mode="markers",
                    marker=marker,
                    showlegend=not second,
                    name=f"selected k={r.k}",
                    hoverinfo="skip",
                ),
                secondary_y=second,
            )
        fig.add_vline(x=r.k, line={"color": "crimson", "width": 1, "dash": "dash"})
    s = result.settings.sampler
    guidance = "off" if s.guidance == 1.0 else f"{s.guidance:g}"
    guidance += " (APG)" if s.apg and s.guidance != 1.0 else ""
    T = result.original.shape[1]
    fig.update_layout(
        title=f"Reconstruction quality vs token budget<br><sup>{T} frames, {s.steps} steps, "
        f"guidance {guidance}, seed {s.seed}</sup>",  # two lines: fits a phone
        hovermode="closest",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 60, "t": 60, "b": 60},
    )
    fig.update_xaxes(
        type="log",
        tickvals=ks,
        ticktext=[str(k) for k in ks],
        title_text="tokens per timestep k (log2 scale)",
    )
    fig.update_yaxes(title_text="PSNR (dB)", secondary_y=False)
    fig.update_yaxes(title_text="SSIM", secondary_y=True)
    return fig


def ladder_figure(
    result: CurveResult, k: int | None = None, spread: Mapping[int, float] | None = None
):
    """The curve so far on the whole ladder's log axis, so partial curves stay put; k is a star
    when it is a ladder budget, else a dashed line. `spread` (k -> mean spread across seeds,
    `seeds.SeedSpread.mean`), if any, is a third series on its own axis."""
    fig = curve_figure(result, selected_k=k if k in result.budgets else None)
    if spread:
        import plotly.graph_objects as go

        ks = sorted(spread)
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=[spread[b] for b in ks],
                name="seed spread",
                mode="lines+markers",
                line={"dash": "dash", "color": "#059669"},
                marker={"symbol": "diamond"},
                yaxis="y3",
                hovertemplate="k=%{x}<br>mean spread %{y:.4f}<extra>seed spread</extra>",
            )
        )
        fig.update_layout(
            yaxis3={
                "title": {"text": "seed spread", "font": {"color": "#059669"}},
                "overlaying": "y",
                "side": "right",
                "anchor": "free",
                "autoshift": True,
                "rangemode": "tozero",
                "showgrid": False,
            }
        )
    ladder = result.settings.budgets  # the whole ladder's axis, so partial curves stay put
    fig.update_xaxes(
        range=[math.log10(ladder[0]) - 0.1, math.log10(ladder[-1]) + 0.1],
        tickvals=list(ladder),
        ticktext=[str(b) for b in ladder],
    )
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
        fig.add_shape(
            type="rect",
            x0=k - 0.5,
            x1=N - 0.5,
            y0=-0.5,
            y1=t - 0.5,
            line_width=0,
            fillcolor="white",
            opacity=0.75,
            layer="above",
        )
    fig.add_vline(x=k - 0.5, line={"color": "crimson", "width": 2})
    fig.update_layout(
        title=f"Token ids: {t} timesteps × {N} tokens; the first k={k} are decoded",
        height=min(520, 160 + 28 * t),
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    fig.update_xaxes(title_text="token index (coarse → fine)", range=[-0.5, N - 0.5])
    fig.update_yaxes(title_text="timestep", autorange="reversed", dtick=1)
    return fig


__all__ = ["curve_figure", "ladder_figure", "token_figure"]
