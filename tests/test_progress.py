"""`videoflextok_core.progress`: shares of a bar, step counters, and the tqdm bar the CLI draws."""

import io

import pytest

from videoflextok_core.progress import TqdmProgress, silent, span, steps


def test_span_and_steps_map_into_a_share_of_the_bar():
    seen = []
    report = span(lambda f, m: seen.append((f, m)), 0.2, 0.6)
    on_step = steps(report, lambda done, total: f"step {done}/{total}")
    on_step(1, 4), on_step(4, 4)
    assert [m for _, m in seen] == ["step 1/4", "step 4/4"]
    assert [f for f, _ in seen] == pytest.approx([0.3, 0.6])
    assert span(None, 0, 1) is None and steps(None, str) is None
    assert silent(0.5, "nothing") is None


def test_tqdm_bar_shows_percent_and_message_and_closes():
    out = io.StringIO()
    with TqdmProgress(file=out, mininterval=0) as bar:
        bar(0.0, "tokenize")
        bar(0.5, "decoding k=4 (step 8/16)")
        bar(1.7, "done")  # clamped to 100 %
    text = out.getvalue()
    assert "tokenize:   0%|" in text and "decoding k=4 (step 8/16):  50%|" in text
    assert text.rstrip().split("\r")[-1].startswith("done: 100%|") and text.endswith("\n")
    assert bar.bar.n == 100
    out = io.StringIO()
    with TqdmProgress(file=out):
        pass  # an error before the first report: no bar at all
    assert out.getvalue() == ""
