"""The app's logic without the UI (`demo.service`, `.startup`, `.views`) on the tiny
reference checkpoint: model policy, defaults, caches, stats, token heatmap, ladder, tokens files,
ZeroGPU estimates. Also the curve-engine additions the app uses (`iter_quality_curve`,
`tokens=`)."""

import json
import math
import shutil
import sys
import types
from dataclasses import replace

import pytest
import torch
from paths import REFERENCE, ROOT, TINY

from demo import startup
from demo.request import Request
from demo.service import DemoService
from demo.startup import (
    app_defaults,
    estimate_gpu_seconds,
    estimate_tokenize_seconds,
    load_model,
)
from demo.views import token_stats
from videoflextok_core.cache import LRU
from videoflextok_core.curve import iter_quality_curve, quality_curve
from videoflextok_core.figures import token_figure
from videoflextok_core.flops import model_flops
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import CheckpointError
from videoflextok_core.model.config import parse_config
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.tokenfile import TokenFileError, read_tokens, save_tokens

EXAMPLE = ROOT / "assets" / "examples" / "scene_1_seed1000003.mp4"
STEPS = 2
FAST = Sampler(steps=STEPS)

pytestmark = pytest.mark.usefixtures("one_thread")  # and `tiny_model`: conftest.py


@pytest.fixture
def service(tiny_model, tmp_path):
    return DemoService(tiny_model, workdir=tmp_path / "work")


def load_cpu(ref, device):
    """A real loader that runs the GPU branch of the policy on this CPU."""
    return VideoFlexTok.from_pretrained(ref, device="cpu")


# ---------------------------------------------------------------------------------------------
# Which model runs
# ---------------------------------------------------------------------------------------------


def test_default_device():
    assert startup.default_device(True) == "cuda"
    assert startup.default_device(False) == "cpu"


def test_explicit_model_flag_and_env():
    _, choice = load_model(str(TINY), "cpu", env={})
    assert choice.reason == "flag" and "tiny" in choice.notice and "--model" in choice.notice
    _, choice = load_model(None, "cpu", env={startup.MODEL_ENV: str(TINY)})
    assert choice.reason == "env" and startup.MODEL_ENV in choice.notice


def test_gpu_uses_the_hub_model():
    tiny_model, choice = load_model(None, "cuda", env={}, hub_ref=str(TINY), loader=load_cpu)
    assert choice.reason == "gpu" and choice.ref == str(TINY)
    # the model runs on this CPU (the loader's), in what `auto` means here
    assert "released model" in choice.notice and str(tiny_model.precision) in choice.notice


def test_gpu_without_hub_access_falls_back_to_the_demo_model():
    # A ref that cannot be had: from_pretrained raises CheckpointError, as offline or no access.
    tiny_model, choice = load_model(
        None, "cuda", env={}, hub_ref="not/a/repo", demo_ref=TINY, loader=load_cpu
    )
    assert choice.reason == "fallback" and choice.ref == str(TINY)
    assert "demo model" in choice.notice and "not/a/repo could not be loaded" in choice.notice
    assert isinstance(tiny_model, VideoFlexTok)


def test_cpu_runs_the_demo_model_and_says_why():
    _, choice = load_model(None, "cpu", env={}, demo_ref=TINY)
    assert choice.reason == "cpu" and "no GPU" in choice.notice
    assert f"--model {startup.HUB_MODEL}" in choice.notice  # how to get the released one


def test_missing_demo_model_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="pass --model|Pass --model"):
        load_model(None, "cpu", env={}, demo_ref=tmp_path / "nowhere")


def test_unusable_device():
    with pytest.raises(ValueError, match="not usable here"):
        load_model(str(TINY), "nodevice", env={})


# ---------------------------------------------------------------------------------------------
# Defaults and input checks
# ---------------------------------------------------------------------------------------------


def test_defaults_released_model(tiny_model):
    d = app_defaults(
        tiny_model, "cpu"
    )  # no demo_defaults in the config: the released models' 20 + APG
    assert d.sampler == Sampler(steps=25, guidance=20.0, apg=True, seed=0)
    assert d.frame_choices == (17, 33, 49, 65) and d.frames == 17 and d.k == 4
    gpu = app_defaults(tiny_model, "cuda")
    assert gpu.sampler.steps == startup.CUDA_STEPS and gpu.frame_choices[-1] == 129
    assert gpu.frames == 33


def test_defaults_demo_model():
    cfg = json.loads((TINY / "config.json").read_text())
    cfg["demo_defaults"] = {"timesteps": 16, "guidance_scale": 3.5, "perform_norm_guidance": False}
    tiny_model = VideoFlexTok(cfg)
    d = app_defaults(tiny_model, "cpu")
    assert d.sampler == Sampler(steps=16, guidance=3.5, apg=False)
    assert app_defaults(tiny_model, "cuda").sampler.steps == startup.CUDA_STEPS


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda s: s.reconstruct(s.request(video=None, k=4)), "No video"),
        (lambda s: s.request(video=EXAMPLE, k=0), "k (tokens per timestep) must be in 1..16"),
        (lambda s: s.request(video=EXAMPLE, k=2.5), "whole number"),
        (lambda s: s.request(video=EXAMPLE, k=float("inf")), "whole number"),
        (lambda s: s.request(video=EXAMPLE, length=18), "one of [17, 33, 49, 65]"),
        (lambda s: s.request(video=EXAMPLE, steps=0), "denoising steps must be in 1..100"),
        (lambda s: s.request(video=EXAMPLE, seed=-1), "seed"),
        (lambda s: s.request(video=EXAMPLE, guidance=float("nan")), "guidance scale"),
        (lambda s: s.request(video=EXAMPLE, start=-1), "start time"),
        (lambda s: s.request(video=ROOT / "nope.mp4"), "nope.mp4: no such file"),
        (lambda s: s.decode_file(None, s.request(k=4)), "No tokens file"),
    ],
)
def test_bad_inputs(service, call, fragment):
    with pytest.raises(ValueError) as e:
        call(service)
    assert fragment in str(e.value), str(e.value)


def test_page_values_as_floats(service):
    """Gradio sends sliders and numbers as floats: one Request, checked once."""
    request = service.request(
        video=str(EXAMPLE),
        k=4.0,
        guidance=2.0,
        steps=float(STEPS),
        seed=0.0,
        apg=True,
        start=0.0,
        length=17.0,
    )
    assert request == Request(EXAMPLE, 0.0, 17, 4, Sampler(steps=STEPS, guidance=2.0, apg=True))
    assert isinstance(request.k, int) and isinstance(request.sampler.steps, int)
    r = service.reconstruct(request)
    assert r.k == 4 and r.stats.k == 4


def test_request_defaults_are_the_pages(service):
    d = service.defaults
    assert service.request() == Request(None, 0.0, d.frames, d.k, d.sampler)


# ---------------------------------------------------------------------------------------------
# Caches
# ---------------------------------------------------------------------------------------------


def test_lru_bounded_by_entries_and_bytes():
    dropped = []
    cache = LRU(3, max_bytes=10, size=len, on_evict=dropped.append)
    for key in "abcd":
        cache.put(key, key * 2)
    assert len(cache) == 3 and "a" not in cache and dropped == ["aa"]
    cache.get("b")  # b is now the newest
    cache.put("e", "e" * 6)  # 2 + 2 + 2 + 6 = 12 bytes > 10: drop the oldest (c)
    assert "c" not in cache and "b" in cache and dropped[-1] == "cc"
    cache.put("f", "f" * 50)  # larger than the bound on its own: kept, everything else dropped
    assert len(cache) == 1 and cache.get("f") == "f" * 50


def test_tokenize_once_per_clip(service, tmp_path):
    a = service.clip(service.request(video=str(EXAMPLE)))
    copy = shutil.copy(EXAMPLE, tmp_path / "renamed.mp4")  # same content, another upload
    assert service.clip(service.request(video=copy, k=2, steps=3)) is a  # k, sampler: same clip
    assert service.clip(service.request(video=str(EXAMPLE), start=0.5)) is not a


def test_decode_cache_hit_is_the_same_object(service):
    request = service.request(video=str(EXAMPLE), k=4, guidance=2.0, steps=STEPS, apg=True)
    first, cached = service.decode(request)
    assert not cached
    again, cached = service.decode(request)
    assert cached and again is first  # no timing bound: machine-dependent
    other, cached = service.decode(replace(request, sampler=replace(request.sampler, seed=1)))
    assert not cached and not torch.equal(other.video, first.video)


def test_decode_cache_is_bounded_and_drops_files(tiny_model, tmp_path):
    service = DemoService(tiny_model, workdir=tmp_path, max_decodes=2)
    outs = [
        service.reconstruct(service.request(video=EXAMPLE, k=k, steps=STEPS)) for k in (1, 2, 3)
    ]
    assert len(service.decodes) == 2
    assert not outs[0].side_by_side.exists() and outs[2].side_by_side.exists()
    r = service.reconstruct(service.request(video=EXAMPLE, k=3, steps=STEPS))
    assert r.stats.cached and r.side_by_side == outs[2].side_by_side


def test_evicted_clip_drops_its_folder_and_cached_decodes_rewrite_files(tiny_model, tmp_path):
    service = DemoService(tiny_model, workdir=tmp_path, max_clips=1)
    request = service.request(video=str(EXAMPLE), k=4, steps=STEPS)
    first = service.reconstruct(request)
    service.reconstruct(replace(request, start=0.5))  # another clip: evicts the first
    assert not first.side_by_side.exists()
    again = service.reconstruct(request)
    assert again.stats.cached and again.side_by_side.exists()  # decode kept, mp4 written again


# ---------------------------------------------------------------------------------------------
# What the page shows
# ---------------------------------------------------------------------------------------------


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


def test_reconstruction_outputs(service):
    r = service.reconstruct(service.request(video=str(EXAMPLE), k=16, steps=STEPS))
    assert r.side_by_side.exists() and r.video.exists() and r.tokens.shape == (1, 5, 16)
    assert r.stats.total_tokens == 80 and not r.stats.cached


def test_token_heatmap(tiny_model):
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


def test_model_info_and_lengths(service):
    info = service.model_info()
    for text in ("32×48", "16 tokens per timestep", "chunks of 17 frames", "codebook 64,000"):
        assert text in info, info
    assert service.length_choices()[0] == ("17 (2.1 s)", 17)


# ---------------------------------------------------------------------------------------------
# The ladder
# ---------------------------------------------------------------------------------------------


def test_ladder_fills_in_and_feeds_the_decode_cache(service, tmp_path):
    seen = []
    ladder = service.request(video=str(EXAMPLE), k=4, guidance=2.0, steps=STEPS, seed=0, apg=True)
    views = list(service.curve(ladder, progress=lambda f, m: seen.append(f)))
    assert [v.result.budgets for v in views] == [
        (1,),
        (1, 2),
        (1, 2, 4),
        (1, 2, 4, 8),
        (1, 2, 4, 8, 16),
    ]
    assert [v.csv is None for v in views] == [True] * 4 + [False]
    assert views[-1].csv.read_text().startswith("k,tokens_per_timestep")
    assert seen == sorted(seen) and seen[-1] == 1.0
    at8 = replace(ladder, k=8)
    r = service.reconstruct(at8)
    assert r.stats.cached and r.k == 8  # decoded by the ladder
    fresh = DemoService(service.model, workdir=tmp_path / "fresh")
    single, cached = fresh.decode(at8)
    # batched vs single decode: equal up to float32 rounding (kernels may depend on batch size)
    assert not cached and (single.video - views[-1].result.reconstructions[8]).abs().max() < 1e-4
    finished = service.finished_curve(at8)
    assert finished is not None and finished.result.complete
    assert "selected k=8" in [t.name for t in finished.figure.data]  # a measured k: a star
    between = service.finished_curve(replace(ladder, k=5)).figure
    assert [s.x0 for s in between.layout.shapes] == [5]  # between budgets: a line
    assert service.grid(finished).exists()
    other_seed = replace(ladder, sampler=replace(ladder.sampler, seed=1))
    assert service.finished_curve(other_seed) is None


def test_views(service):
    v = service.views(service.request(video=str(EXAMPLE), k=4, guidance=2.0, steps=STEPS))
    tokens_file, recon = v.downloads
    tokens, meta = read_tokens(tokens_file)
    assert torch.equal(tokens, v.tokens) and meta["decode_k"] == "4"
    assert meta["decode_timesteps"] == str(STEPS) and recon.suffix == ".mp4"
    assert v.curve is None  # no ladder run yet


def test_warm_up_decodes_the_examples(service, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "a.mp4")
    (tmp_path / "b.mp4").write_text("not a video")  # skipped: it shows its message when clicked
    assert service.warm_up(tmp_path) == 1
    assert service.reconstruct(service.request(video=tmp_path / "a.mp4")).stats.cached


# ---------------------------------------------------------------------------------------------
# Tokens files
# ---------------------------------------------------------------------------------------------


def test_decode_tokens_file(service, tmp_path):
    path, info = service.tokenize(service.request(video=str(EXAMPLE)))
    request = service.request(k=16, guidance=2.0, steps=STEPS, seed=0, apg=True)
    video, stats = service.decode_file(str(path), request)
    assert video.exists() and stats.total_tokens == 80
    tokens, meta = read_tokens(path)
    narrow = save_tokens(tmp_path / "narrow.safetensors", tokens[..., :4], meta)
    _, stats = service.decode_file(str(narrow), request)
    assert stats.k == 4  # k is capped by the tokens in the file
    for key, what in (("model_config_hash", "config"), ("model_weights_fingerprint", "weights")):
        other = save_tokens(tmp_path / f"{what}.safetensors", tokens, {**meta, key: "0" * 16})
        with pytest.raises(TokenFileError, match=f"made with a different model.*has {what}"):
            service.decode_file(str(other), service.request(k=4))


def test_tokens_files_record_names_not_server_paths(service):
    path, _ = service.tokenize(service.request(video=str(EXAMPLE)))
    _, meta = read_tokens(path)
    assert meta["source"] == EXAMPLE.name and meta["model_ref"] == "(in memory)"
    assert not [v for v in meta.values() if str(ROOT) in v or v.startswith("/")]


def test_token_limits_refuse_long_or_large_files_before_decoding(service, tmp_path):
    """4,001 timesteps made by repeating a real file's first one (metadata otherwise valid):
    refused by its shape before the tensor is read; a padded file by its size."""
    path, _ = service.tokenize(service.request(video=str(EXAMPLE)))
    tokens, meta = read_tokens(path)
    limits = service.token_limits()
    longest = service.defaults.frame_choices[-1]
    assert limits.max_timesteps == 1 + (longest - 1) // 4  # 4x temporal compression
    long = save_tokens(tmp_path / "long.safetensors", tokens[:, :1].repeat(1, 4001, 1), meta)
    with pytest.raises(TokenFileError, match="bytes; tokens files here are at most"):
        service.decode_file(str(long), service.request(k=4))  # 4001 x 16 ids: too large
    narrow = tokens[:, :1, :1].repeat(1, 4001, 1)  # 32 kB: small enough, too long
    long = save_tokens(tmp_path / "narrow.safetensors", narrow, meta)
    with pytest.raises(TokenFileError, match=f"4001 timesteps.*at most {limits.max_timesteps}"):
        service.decode_file(str(long), service.request(k=4))
    padded = {**meta, "padding": "x" * limits.file_bytes}
    big = save_tokens(tmp_path / "big.safetensors", tokens, padded)
    with pytest.raises(TokenFileError, match="bytes; tokens files here are at most"):
        service.decode_file(str(big), service.request(k=4))
    at_limit = tokens[:, :1].repeat(1, limits.max_timesteps, 1)
    ok = save_tokens(tmp_path / "ok.safetensors", at_limit, meta)
    assert read_tokens(ok, limits)[0].shape[1] == limits.max_timesteps


def test_read_tokens_refuses_junk(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_text("junk")
    with pytest.raises(TokenFileError, match="not a safetensors tokens file"):
        read_tokens(junk)


# ---------------------------------------------------------------------------------------------
# ZeroGPU
# ---------------------------------------------------------------------------------------------


REAL = parse_config((REFERENCE / "real_config_inferred.json").read_text())


def test_gpu_seconds_estimate_from_counted_flops():
    guided = Sampler(steps=25, guidance=20.0, apg=True)
    flops = model_flops(REAL)
    work = flops.tokenize(33) + flops.detokenize(33, guided)  # 0.73 PFLOP
    gpu = work / (startup.ZEROGPU_PEAK_TFLOPS * 1e12 * startup.ZEROGPU_EFFICIENCY)
    host = startup.GPU_SECONDS_FIXED + 2 * startup.GPU_SECONDS_PER_CHUNK
    one = estimate_gpu_seconds(REAL, 33, guided)
    assert one == math.ceil(gpu + host) == 16
    assert estimate_gpu_seconds(REAL, 33, Sampler(steps=25)) < one  # one forward per step
    assert estimate_gpu_seconds(REAL, 49, guided) > one
    assert estimate_gpu_seconds(REAL, 33, replace(guided, steps=50)) > one
    assert estimate_gpu_seconds(REAL, 33, guided, budgets=9) > 3 * one
    assert estimate_tokenize_seconds(REAL, 33) < one
    # tokenizing is one pass per chunk: 129 frames (63 TFLOP) add half a second to the fixed part
    assert estimate_tokenize_seconds(REAL, 129) == 11


def test_gpu_seconds_stay_under_the_cap():
    with torch.device("meta"):  # the released model's page on a GPU: 129 frames, 25 steps
        longest = app_defaults(VideoFlexTok(REAL), device="cuda")
    worst = estimate_gpu_seconds(REAL, longest.frame_choices[-1], longest.sampler, budgets=9)
    assert worst < startup.GPU_MAX_SECONDS
    absurd = Sampler(steps=1000, guidance=20.0)
    assert estimate_gpu_seconds(REAL, 129, absurd, budgets=9) == startup.GPU_MAX_SECONDS


def test_gpu_seconds_of_requests(service):
    r = service.request(k=4, guidance=20.0, steps=25, seed=0, apg=True, start=0.0, length=17)
    config = service.model.config
    assert service.decode_seconds(r) == 11 == estimate_gpu_seconds(config, 17, r.sampler)
    assert service.ladder_seconds(r) == estimate_gpu_seconds(config, 17, r.sampler, budgets=5)
    assert service.ladder_seconds(r) > service.decode_seconds(r)
    assert service.tokenize_seconds(r) == estimate_tokenize_seconds(config, 17) == 11
    assert service.file_seconds(r) == service.decode_seconds(replace(r, frames=65))  # longest
    assert service.decode_seconds(r) < estimate_gpu_seconds(REAL, 17, r.sampler)


def test_gpu_task_only_on_zero_gpu(monkeypatch):
    def fn():
        return 1

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert startup.gpu_task(lambda: 5)(fn) is fn and not startup.on_zero_gpu()
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # set, but `spaces` not installed
    assert not startup.on_zero_gpu() and startup.gpu_task(lambda: 5)(fn) is fn
    seen = {}
    spaces = types.SimpleNamespace(GPU=lambda duration: lambda f: seen.update(d=duration) or f)
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    duration = object()
    assert startup.on_zero_gpu() and startup.gpu_task(duration)(fn) is fn and seen["d"] is duration


# ---------------------------------------------------------------------------------------------
# Curve engine additions (curve.py): partial curves, tokens given
# ---------------------------------------------------------------------------------------------


def test_iter_quality_curve_partials_and_given_tokens(tiny_model, service):
    clip = service.clip(service.request(video=str(EXAMPLE)))
    steps = list(
        iter_quality_curve(
            tiny_model, clip.video, [1, 4, 16], sampler=FAST, max_batch=2, cache=None
        )
    )
    assert [s.budgets for s in steps] == [(1, 4), (1, 4, 16)]
    assert [s.complete for s in steps] == [False, True]
    given = quality_curve(
        tiny_model,
        clip.video,
        [1, 4, 16],
        sampler=FAST,
        max_batch=2,
        cache=None,
        tokens=clip.tokens,
    )
    assert given.tokenize_seconds == 0 and torch.equal(given.tokens, steps[-1].tokens)
    for k in (1, 4, 16):
        assert torch.equal(given.reconstructions[k], steps[-1].reconstructions[k])
    with pytest.raises(ValueError, match=r"tokens must be \(1, t, 16\)"):
        quality_curve(tiny_model, clip.video, [1], sampler=FAST, cache=None, tokens=clip.tokens[0])


def test_file_digest_is_read_once_and_follows_edits(tmp_path):
    import os

    from demo import service as demo

    f = tmp_path / "clip.bin"
    f.write_bytes(b"a" * 1000)
    first = demo._file_digest(f)
    hits = demo._digest_of.cache_info().hits
    assert demo._file_digest(f) == first and demo._digest_of.cache_info().hits == hits + 1
    f.write_bytes(b"b" * 1000)  # same size, new content and modification time
    os.utime(f, ns=(os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns + 1_000_000))
    assert demo._file_digest(f) != first


# ---------------------------------------------------------------------------------------------
# What the decoder invents (the seed view), the ladder's ETA, k next to the player
# ---------------------------------------------------------------------------------------------


def test_seed_view_is_cached_and_feeds_the_decode_cache(service, tmp_path):
    request = service.request(video=str(EXAMPLE), k=4, guidance=2.0, steps=STEPS, seed=3, seeds=3)
    view = service.seed_view(request)
    assert view.grid.exists() and view.image.exists() and view.image.suffix == ".png"
    stats = view.stats
    assert stats.seeds == (3, 4, 5) and stats.k == 4 and not stats.cached and stats.mean > 0
    line = stats.line()
    assert "k=4 (5 timesteps × 4 tokens), seeds 3..5" in line and "mean spread" in line
    again = service.seed_view(request)
    assert again.stats.cached and again.grid == view.grid and again.stats.mean == stats.mean
    more = service.seed_view(replace(request, seeds=4))  # the number of seeds is in the key
    assert not more.stats.cached and more.stats.seeds == (3, 4, 5, 6)
    at4 = replace(request, sampler=replace(request.sampler, seed=4))
    decoded, cached = service.decode(at4)  # seed 4 of the batch: a single decode's video
    assert cached
    single, _ = DemoService(service.model, workdir=tmp_path / "fresh").decode(at4)
    assert (single.video - decoded.video).abs().max() < 1e-4  # float32 rounding of the batch


def test_seed_view_bad_input(service):
    with pytest.raises(ValueError, match="number of seeds must be in 2..8, got 9"):
        service.request(video=str(EXAMPLE), seeds=9)
    with pytest.raises(ValueError, match="number of seeds must be in 2..8, got 1"):
        service.request(video=str(EXAMPLE), seeds=1.0)
    with pytest.raises(ValueError, match="go beyond"):
        service.request(video=str(EXAMPLE), seed=2**63 - 2, seeds=4)
    with pytest.raises(ValueError, match="No video"):
        service.seed_view(service.request(k=4))


def test_spreads_join_the_finished_curve(service):
    ladder = service.request(video=str(EXAMPLE), k=4, guidance=2.0, steps=STEPS, seeds=2)
    list(service.curve(ladder))
    names = [t.name for t in service.finished_curve(ladder).figure.data]
    assert "seed spread" not in names  # nothing measured yet
    means = {k: service.seed_view(replace(ladder, k=k)).stats.mean for k in (1, 16)}
    series = next(t for t in service.finished_curve(ladder).figure.data if t.name == "seed spread")
    assert list(series.x) == [1, 16] and list(series.y) == [means[1], means[16]]
    assert series.yaxis == "y3"
    other = replace(ladder, seeds=3)  # spreads of another number of seeds are not mixed in
    assert "seed spread" not in [t.name for t in service.finished_curve(other).figure.data]


def test_ladder_eta_from_the_decodes_of_this_clip(service):
    request = service.request(video=str(EXAMPLE), k=4, steps=STEPS)
    budgets = len(service.ladder_budgets())
    assert service.ladder_eta(request) == (
        f"{budgets} budgets; the time shows once a decode of this clip is measured."
    )
    seconds = service.reconstruct(request).stats.seconds
    assert service.ladder_eta(request) == (
        f"{budgets} budgets: about {budgets * seconds:,.0f} s ({seconds:.1f} s per decode on "
        "this clip)."
    )
    assert service.views(request).eta == service.ladder_eta(request)
    messages = []
    views = list(service.curve(request, lambda f, m: messages.append(m)))
    assert views[0].eta.startswith(f"{budgets - 1} of {budgets} budgets to decode: about")
    assert messages[-1].endswith(views[-2].eta)  # the progress shows the ETA as it goes
    assert views[-1].eta == f"Ladder done: {budgets} budgets."
    assert service.views(request).eta == views[-1].eta


def test_k_line_and_page_setup(service):
    assert service.timesteps(17) == 5 and service.timesteps(33) == 9
    assert service.k_line(service.request(k=12, length=33)) == (
        "**k = 12** · 12 × 9 timesteps = **108 tokens**"
    )
    setup = service.page_setup()
    assert setup.n_registers == 16 and setup.timesteps == {17: 5, 33: 9, 49: 13, 65: 17}
    assert setup.ladder == service.ladder_budgets() and "16 tokens per timestep" in setup.info


def test_release_forgets_everything_and_removes_the_files(service):
    r = service.reconstruct(service.request(video=str(EXAMPLE), k=4, steps=STEPS))
    service.release()
    assert len(service.clips) == len(service.decodes) == 0 and not r.side_by_side.exists()
    assert not service.workdir.exists()
