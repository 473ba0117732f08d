"""`demo.views`: the texts the page shows, from the numbers behind them."""

import pytest

from demo import views
from demo.views import k_line, ladder_eta, token_stats


def test_stats_numbers():
    s = token_stats(5, 16, 64000, 17, 32, 48, seconds=0.25)
    assert (s.total_tokens, s.raw_bytes) == (80, 17 * 32 * 48 * 3)
    assert s.bits_per_token == pytest.approx(15.9658, abs=1e-4)
    assert s.bytes == pytest.approx(80 * 15.9658 / 8, abs=1e-3)
    assert s.ratio == pytest.approx(78336 / s.bytes)
    line = s.line()
    for text in (
        "5 timesteps × 16 tokens = 80 tokens",
        "160 bytes at 15.97 bits/token",
        "491× smaller than the raw 8-bit clip (78,336 bytes)",
        "decoded in 0.25 s",
    ):
        assert text in line, line
    assert "cached" in token_stats(5, 16, 64000, 17, 32, 48, cached=True).line()


def test_k_line_and_eta():
    assert k_line(12, 9) == "**k = 12** · 12 × 9 timesteps = **108 tokens**"
    assert (
        ladder_eta(7, None) == "7 budgets; the time shows once a decode of this clip is measured."
    )
    assert (
        ladder_eta(7, 2.0, 3)
        == "4 of 7 budgets to decode: about 8 s (2.0 s per decode on this clip)."
    )
    assert ladder_eta(7, 2.0, 7) == "Ladder done: 7 budgets."


def test_model_info_and_clip_lengths(tiny_model):
    info = views.model_info(tiny_model, "tiny", "cpu")
    for text in ("**tiny** on cpu", "32×48", "16 tokens per timestep", "chunks of 17 frames"):
        assert text in info, info
    assert "codebook 64,000" in info and "15.97 bits per token" in info
    assert views.length_choices((17, 33), 8.0) == [("17 (2.1 s)", 17), ("33 (4.1 s)", 33)]


def test_notices(tiny_model):
    precision = tiny_model.precision
    chosen = views.chosen_notice("tiny", "cpu", precision, "--model")
    assert chosen == f"Running **tiny** on cpu in {precision} (chosen with `--model`)."
    demo = views.demo_notice("assets/demo-model", tiny_model, "cpu", "this machine has no GPU")
    assert "(assets/demo-model, 32x48, 16 tokens per latent frame)" in demo
    assert views.selected_notice("x", "cpu", "slow") == (
        "Running **x** on cpu (picked in the model selector). ⚠️ slow."
    )
