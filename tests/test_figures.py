"""`videoflextok_core.figures`: the token heatmap (the quality curve's figures: test_curve.py)."""

import torch

from videoflextok_core.figures import token_figure


def test_token_heatmap():
    tokens = torch.randint(0, 64000, (1, 5, 16))
    fig = token_figure(tokens, 4)
    heat = fig.data[0]
    assert heat.type == "heatmap" and list(heat.x) == list(range(16))
    assert [list(row) for row in heat.z] == tokens[0].tolist()  # rows: timesteps
    rect, cut = fig.layout.shapes
    assert (rect.type, rect.x0, rect.x1) == ("rect", 3.5, 15.5)  # columns beyond k dimmed
    assert cut.x0 == 3.5 and fig.layout.yaxis.autorange == "reversed"
    full = token_figure(tokens, 16)
    assert [s.type for s in full.layout.shapes] == ["line"]  # nothing to dim
