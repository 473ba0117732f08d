"""The quality-curve engine on the tiny reference checkpoint (32x48, N=16, chunk 17).

The tiny model is random-init, so nothing here asserts reconstruction quality: only structure,
determinism, caching, progress and input checks.
"""

import csv
import io
import math

import numpy as np
import pytest
import torch

from synthetic import make_batch
from videoflextok_core import curve, figures
from videoflextok_core.curve import CurveCache, CurveSettings, quality_curve
from videoflextok_core.media.clip import load_clip
from videoflextok_core.media.write import write_video
from videoflextok_core.model.sampling import Sampler

STEPS = 2
FAST = Sampler(steps=STEPS)  # guidance off, seed 0

pytestmark = pytest.mark.usefixtures("one_thread")  # and `tiny_model`: conftest.py


def tiny_clip(frames: int, seed: int = 0) -> torch.Tensor:
    """(3, T, 32, 48) in [-1, 1]: a 48x48 synthetic clip with its rows cropped to 32."""
    return make_batch([seed], frames, 48)[0, :, :, 8:40].contiguous()


@pytest.fixture(scope="module")
def clip():
    return tiny_clip(17)


@pytest.fixture(scope="module")
def ladder(tiny_model, clip):
    return quality_curve(
        tiny_model, clip, sampler=Sampler(STEPS, 2.0, apg=True, seed=3), cache=None
    )


def alone(tiny_model, tokens, k, seed, **kw):
    """A single-budget decode the plain way: seeded generator and global RNG."""
    torch.manual_seed(seed)
    out = tiny_model.detokenize_official(
        [tokens],
        num_keep_tokens_list=[k],
        timesteps=STEPS,
        generator=torch.Generator().manual_seed(seed),
        **kw,
    )
    return out[0][0].clamp(-1, 1)


# ---------------------------------------------------------------------------------------------
# Table and result structure
# ---------------------------------------------------------------------------------------------


def test_default_budgets():
    assert curve.default_budgets(16) == (1, 2, 4, 8, 16)
    assert curve.default_budgets(256)[-2:] == (128, 256)
    assert curve.default_budgets(24) == (1, 2, 4, 8, 16, 24)
    assert curve.default_budgets(1) == (1,)


def test_table_and_result(tiny_model, clip, ladder):
    assert ladder.budgets == (1, 2, 4, 8, 16)
    assert ladder.tokens.shape == (1, 5, 16) and ladder.tokens.dtype == torch.int64
    assert torch.equal(ladder.original, clip)
    table = ladder.table()
    assert [tuple(r) for r in table] == [curve.CSV_COLUMNS] * 5
    bits = math.log2(64000)
    for row in table:
        k = row["k"]
        assert row["tokens_per_timestep"] == k
        assert row["total_tokens"] == 5 * k  # 17 frames -> 5 latent frames
        assert row["bytes"] == pytest.approx(5 * k * bits / 8)
        assert all(math.isfinite(row[c]) for c in ("psnr", "psnr_pooled", "ssim", "seconds"))
        video = ladder.reconstructions[k]
        assert video.shape == (3, 17, 32, 48) and video.dtype == torch.float32
        assert video.min() >= -1 and video.max() <= 1
    assert ladder.row(4).k == 4
    with pytest.raises(ValueError, match="not in this curve's budgets"):
        ladder.row(3)


def test_metrics_match_compute_metrics(ladder):
    from videoflextok_core.media.metrics import compute_metrics

    m = compute_metrics(ladder.original, ladder.reconstructions[8])
    row = ladder.row(8)
    assert (row.psnr, row.psnr_pooled, row.ssim) == (m.psnr_mean, m.psnr_pooled, m.ssim_mean)


def test_csv(ladder):
    text = ladder.to_csv()
    assert text.splitlines()[0] == ",".join(curve.CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["k"]) for r in rows] == [1, 2, 4, 8, 16]
    assert int(rows[-1]["total_tokens"]) == 80


def test_figure(ladder):
    fig = figures.curve_figure(ladder)
    assert [t.name for t in fig.data] == ["PSNR", "SSIM"]
    assert list(fig.data[0].x) == [1, 2, 4, 8, 16]
    assert fig.layout.xaxis.type == "log"
    assert fig.data[1].yaxis == "y2"  # SSIM on the second axis
    fig = figures.curve_figure(ladder, selected_k=4)
    names = [t.name for t in fig.data]
    assert names == ["PSNR", "SSIM", "selected k=4", "selected k=4"]
    assert fig.data[2].y[0] == ladder.row(4).psnr and fig.data[3].y[0] == ladder.row(4).ssim
    assert any(s.x0 == 4 for s in fig.layout.shapes)  # the vertical line
    with pytest.raises(ValueError, match="k=5"):
        figures.curve_figure(ladder, selected_k=5)


# ---------------------------------------------------------------------------------------------
# Determinism: the ladder equals single-budget decodes
# ---------------------------------------------------------------------------------------------


def test_ladder_equals_single_budget_decodes(tiny_model, ladder):
    """One chunk: every budget of the batched ladder decodes as it does alone (same seed)."""
    assert ladder.batch_size == 5  # all budgets in one detokenize call
    kw = {"guidance_scale": 2.0, "perform_norm_guidance": True}
    for k in (1, 4, 16):
        single = alone(tiny_model, ladder.tokens, k, seed=3, **kw)
        assert (ladder.reconstructions[k] - single).abs().max() < 1e-4, k


def test_seed_changes_the_noise(tiny_model, clip, ladder):
    sampler = Sampler(STEPS, 2.0, apg=True, seed=4)
    other = quality_curve(tiny_model, clip, budgets=[4], sampler=sampler, cache=None)
    assert torch.equal(other.tokens, ladder.tokens)  # tokenized from the posterior mean
    assert (other.reconstructions[4] - ladder.reconstructions[4]).abs().max() > 1e-3


@pytest.fixture(scope="module")
def two_chunks(tiny_model):
    clip = tiny_clip(33, seed=1)
    sampler = Sampler(steps=STEPS, seed=7)
    result = quality_curve(tiny_model, clip, budgets=[2, 16], sampler=sampler, cache=None)
    singles = {k: alone(tiny_model, result.tokens, k, seed=7) for k in (2, 16)}
    return clip, result, singles


def test_multi_chunk_one_budget_per_call_equals_single_decodes(tiny_model, two_chunks):
    clip, _, singles = two_chunks
    sampler = Sampler(steps=STEPS, seed=7)
    result = quality_curve(
        tiny_model, clip, budgets=[2, 16], sampler=sampler, max_batch=1, cache=None
    )
    assert result.batch_size == 1
    for k in (2, 16):
        assert torch.equal(result.reconstructions[k], singles[k]), k


def test_multi_chunk_ladder_equals_single_decodes(two_chunks):
    _, result, singles = two_chunks
    assert result.batch_size == 2
    for k in (2, 16):
        assert (result.reconstructions[k] - singles[k]).abs().max() < 1e-4, k


# ---------------------------------------------------------------------------------------------
# Cache and progress
# ---------------------------------------------------------------------------------------------


def test_cache_hit_and_miss(tiny_model, clip):
    cache = CurveCache(max_entries=2)
    kw = {"budgets": [1, 16], "sampler": FAST, "cache": cache}
    first = quality_curve(tiny_model, clip, **kw)
    assert not first.from_cache and len(cache) == 1
    seen = []
    again = quality_curve(tiny_model, clip.clone(), progress=lambda f, m: seen.append(m), **kw)
    assert again.from_cache and seen == ["cached"]
    assert again.rows == first.rows and again.reconstructions[16] is first.reconstructions[16]
    # different settings, different clip content: misses
    for change in (
        {"sampler": Sampler(steps=STEPS, seed=1)},
        {"budgets": [1, 8]},
        {"sampler": Sampler(steps=STEPS, guidance=1.5)},
    ):
        seen.clear()
        other = quality_curve(
            tiny_model, clip, **{**kw, **change}, progress=lambda f, m: seen.append(m)
        )
        assert not other.from_cache and seen[0] == "tokenize", change
    assert len(cache) == 2  # bounded: the oldest entries were dropped
    moved = clip.clone()
    moved[0, 0, 0, 0] += 0.01
    assert curve.clip_hash(moved) != curve.clip_hash(clip)


def test_disk_cache_round_trip(tiny_model, clip, tmp_path):
    kw = {"budgets": [2], "sampler": FAST}
    first = quality_curve(tiny_model, clip, cache=CurveCache(directory=tmp_path), **kw)
    assert len(list(tmp_path.glob("*.json"))) == 1 and len(list(tmp_path.glob("*.safetensors")))
    again = quality_curve(tiny_model, clip, cache=CurveCache(directory=tmp_path), **kw)
    assert again.from_cache and again.rows == first.rows and again.settings == first.settings
    assert torch.equal(again.reconstructions[2], first.reconstructions[2])
    assert torch.equal(again.tokens, first.tokens)
    next(tmp_path.glob("*.safetensors")).write_bytes(b"damaged")
    redone = quality_curve(tiny_model, clip, cache=CurveCache(directory=tmp_path), **kw)
    assert not redone.from_cache and redone.rows[0].psnr == first.rows[0].psnr


def test_progress_callback(tiny_model, clip):
    seen = []
    quality_curve(
        tiny_model,
        clip,
        budgets=[1, 2, 16],
        sampler=FAST,
        max_batch=2,
        cache=None,
        progress=lambda f, m: seen.append((f, m)),
    )
    fractions = [f for f, _ in seen]
    messages = [m for _, m in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert messages[:3] == ["tokenize", "tokenize (1/1)", "tokenize done"]  # one chunk
    assert messages[-1] == "done"
    assert "decoding k=1,2 (step 1/2)" in messages and "decoding k=16 (step 2/2)" in messages


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"budgets": []}, "budgets is empty"),
        ({"budgets": [0, 4]}, "1..16"),
        ({"budgets": [17]}, "1..16"),
        ({"budgets": [2.0]}, "1..16"),
        ({"budgets": 4}, "list of ints"),
        ({"max_batch": 0}, "max_batch"),
        ({"sampler": {"steps": 2}}, "sampler must be a Sampler"),
        ({"sampler": Sampler(guidance=lambda tau: 2.0)}, "numeric guidance"),
        ({"sampler": Sampler(cfg_rescaler=lambda v, c, u: v)}, "no cfg_rescaler"),
    ],
)
def test_bad_settings(tiny_model, clip, kw, fragment):
    with pytest.raises(ValueError, match=None) as e:
        quality_curve(tiny_model, clip, cache=None, **kw)
    assert fragment in str(e.value), str(e.value)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda c: c[:, :, :16], "(3, T, 32, 48)"),
        (lambda c: c[:2], "(3, T, 32, 48)"),
        (lambda c: (c * 100).long(), "float"),
        (lambda c: c.numpy(), "path or a tensor"),
        (lambda c: c[:, :12], "frames"),  # the model names the valid counts
    ],
)
def test_bad_clip(tiny_model, clip, make, fragment):
    with pytest.raises(ValueError) as e:
        quality_curve(tiny_model, make(clip), budgets=[1], sampler=Sampler(steps=1), cache=None)
    assert fragment in str(e.value), str(e.value)


def test_settings_sorted_and_unique():
    s = CurveSettings.make(16, [8, 1, 8, 4])
    assert s.budgets == (1, 4, 8)


def test_load_clip_non_square_and_path_input(tiny_model, tmp_path):
    """read_video makes square frames; load_clip reads at max(H, W) and centre-crops to H x W."""
    rgb = np.zeros((20, 60, 60, 3), np.uint8)
    rgb[:, :, :, 0] = np.arange(60, dtype=np.uint8)[:, None] * 4  # rows ramp in red
    path = write_video(rgb, tmp_path / "ramp.mp4", fps=8)
    video, info = load_clip(path, tiny_model)
    assert video.shape == (3, 17, 32, 48) and info.target_fps == 8
    red = video[0, 0, :, 24]
    assert red[0] > -0.9 and red[-1] < 0.9  # the middle rows: top and bottom were cropped
    result = quality_curve(tiny_model, path, budgets=[16], sampler=Sampler(steps=1), cache=None)
    assert torch.equal(result.original, video) and result.extra["fps"] == 8


def test_iter_quality_curve_partials_and_given_tokens(tiny_model, clip):
    """Partial curves after each batch (what the app draws as the ladder fills in), and tokens
    given by the caller instead of tokenizing again."""
    steps = list(curve.iter_quality_curve(tiny_model, clip, [1, 4, 16], sampler=FAST, max_batch=2))
    assert [s.budgets for s in steps] == [(1, 4), (1, 4, 16)]
    assert [s.complete for s in steps] == [False, True]
    tokens = steps[-1].tokens
    kw = dict(sampler=FAST, max_batch=2, cache=None)
    given = quality_curve(tiny_model, clip, budgets=[1, 4, 16], tokens=tokens, **kw)
    assert given.tokenize_seconds == 0 and torch.equal(given.tokens, tokens)
    for k in (1, 4, 16):
        assert torch.equal(given.reconstructions[k], steps[-1].reconstructions[k])
    with pytest.raises(ValueError, match=r"tokens must be \(1, t, 16\)"):
        quality_curve(tiny_model, clip, budgets=[1], sampler=FAST, tokens=tokens[0])
