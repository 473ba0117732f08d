"""`demo.service.DemoService` on the tiny reference checkpoint: what the page does with one model
(tokenize once, decode at k, the ladder, the seed view, tokens files) and what it keeps."""

import shutil
from dataclasses import replace

import pytest
import torch
from paths import EXAMPLE, ROOT

from demo.request import Request
from demo.service import DemoService
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.tokenfile import TokenFileError, read_tokens, save_tokens

STEPS = 2
FAST = Sampler(steps=STEPS, guidance=2.0, apg=True)  # a guided sampler, two steps

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def service(tiny_model, tmp_path):
    return DemoService(tiny_model, workdir=tmp_path / "work")


def at(service, video=str(EXAMPLE), sampler=FAST, **values) -> Request:
    """A request for the example clip with the fast sampler (or what is given)."""
    return service.request(video=video, sampler=sampler, **values)


# ---------------------------------------------------------------------------------------------
# What the page sends (the checks themselves: test_request.py)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda s: s.reconstruct(s.request(video=None, k=4)), "No video"),
        (lambda s: s.seed_view(s.request(k=4)), "No video"),
        (lambda s: s.decode_file(None, s.request(k=4)), "No tokens file"),
        (lambda s: s.request(video=EXAMPLE, k=17), "k (tokens per timestep) must be in 1..16"),
    ],
)
def test_bad_inputs(service, call, fragment):
    with pytest.raises(ValueError) as e:
        call(service)
    assert fragment in str(e.value), str(e.value)


def test_page_values_as_floats(service):
    """Gradio sends sliders and numbers as floats: one Request, checked once."""
    sampler = service.sampler(guidance=2.0, steps=float(STEPS), seed=0.0, apg=True)
    request = service.request(video=str(EXAMPLE), k=4.0, start=0.0, length=17.0, sampler=sampler)
    r = service.reconstruct(request)
    assert r.k == 4 and r.stats.k == 4


# ---------------------------------------------------------------------------------------------
# A clip and its decodes
# ---------------------------------------------------------------------------------------------


def test_tokenize_once_per_clip(service, tmp_path):
    a = service.clip(at(service))
    copy = shutil.copy(EXAMPLE, tmp_path / "renamed.mp4")  # same content, another upload
    assert service.clip(at(service, video=copy, k=2)) is a  # k, sampler: the same clip
    assert service.clip(at(service, start=0.5)) is not a


def test_tokenizing_shows_progress_per_chunk(service):
    seen = []
    service.clip(at(service, length=33), lambda fraction, message: seen.append((fraction, message)))
    messages = [m for _, m in seen]
    assert messages == [
        "reading the video",
        "tokenizing",
        "tokenizing (chunk 1/2)",
        "tokenizing (chunk 2/2)",
        "tokenized",
    ]
    assert [f for f, _ in seen] == pytest.approx([0.0, 0.3, 0.65, 1.0, 1.0])


def test_decode_cache_hit_is_the_same_object(service):
    request = at(service, k=4)
    first, cached = service.decode(request)
    assert not cached
    again, cached = service.decode(request)
    assert cached and again is first  # no timing bound: machine-dependent
    other, cached = service.decode(replace(request, sampler=replace(FAST, seed=1)))
    assert not cached and not torch.equal(other.video, first.video)


def test_decode_cache_is_bounded_and_drops_files(tiny_model, tmp_path):
    service = DemoService(tiny_model, workdir=tmp_path, max_decodes=2)
    outs = [service.reconstruct(at(service, k=k)) for k in (1, 2, 3)]
    assert len(service.store.decodes) == 2
    assert not outs[0].side_by_side.exists() and outs[2].side_by_side.exists()
    r = service.reconstruct(at(service, k=3))
    assert r.stats.cached and r.side_by_side == outs[2].side_by_side


def test_evicted_clip_drops_its_folder_and_cached_decodes_rewrite_files(tiny_model, tmp_path):
    service = DemoService(tiny_model, workdir=tmp_path, max_clips=1)
    request = at(service, k=4)
    first = service.reconstruct(request)
    service.reconstruct(replace(request, start=0.5))  # another clip: evicts the first
    assert not first.side_by_side.exists()
    again = service.reconstruct(request)
    assert again.stats.cached and again.side_by_side.exists()  # decode kept, mp4 written again


def test_reconstruction_outputs(service):
    r = service.reconstruct(at(service, k=16))
    assert r.side_by_side.exists() and r.video.exists() and r.tokens.shape == (1, 5, 16)
    assert r.stats.total_tokens == 80 and not r.stats.cached
    tokens, meta = read_tokens(r.tokens_file)  # with the decode settings, to decode it again
    assert torch.equal(tokens, r.tokens) and meta["decode_k"] == "16"
    assert meta["decode_timesteps"] == str(STEPS)


def test_views_read_the_caches(service):
    request = at(service, k=4)
    r = service.reconstruct(request)
    v = service.views(request, r)
    assert v.downloads == (r.tokens_file, r.video) and torch.equal(v.tokens, r.tokens)
    assert v.curve is None  # no ladder run yet


def test_page_setup(service):
    setup = service.page_setup()
    assert setup.n_registers == 16 and setup.timesteps == {17: 5, 33: 9, 49: 13, 65: 17}
    assert setup.lengths[0] == ("17 (2.1 s)", 17) and setup.ladder == (1, 2, 4, 8, 16)
    for text in ("32×48", "16 tokens per timestep", "chunks of 17 frames", "codebook 64,000"):
        assert text in setup.info, setup.info


def test_release_forgets_everything_and_removes_the_files(service):
    r = service.reconstruct(at(service, k=4))
    service.release()
    assert len(service.store.clips) == len(service.store.decodes) == 0
    assert not r.side_by_side.exists() and not service.workdir.exists()


# ---------------------------------------------------------------------------------------------
# The ladder
# ---------------------------------------------------------------------------------------------


def test_ladder_fills_in_and_feeds_the_decode_cache(service, tmp_path):
    seen = []
    ladder = at(service, k=4)
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
    assert service.finished_curve(replace(ladder, sampler=replace(FAST, seed=1))) is None


def test_ladder_eta_from_the_decodes_of_this_clip(service):
    request = at(service, k=4)
    budgets = len(service.defaults.ladder)
    assert service.ladder_eta(request) == (
        f"{budgets} budgets; the time shows once a decode of this clip is measured."
    )
    r = service.reconstruct(request)
    seconds = r.stats.seconds
    assert service.ladder_eta(request) == (
        f"{budgets} budgets: about {budgets * seconds:,.0f} s ({seconds:.1f} s per decode on "
        "this clip)."
    )
    assert service.views(request, r).eta == service.ladder_eta(request)
    messages = []
    views = list(service.curve(request, lambda f, m: messages.append(m)))
    assert views[0].eta.startswith(f"{budgets - 1} of {budgets} budgets to decode: about")
    assert messages[-1].endswith(views[-2].eta)  # the progress shows the ETA as it goes
    assert views[-1].eta == f"Ladder done: {budgets} budgets."
    assert service.views(request, r).eta == views[-1].eta


# ---------------------------------------------------------------------------------------------
# What the decoder invents (the seed view)
# ---------------------------------------------------------------------------------------------


def test_seed_view_is_cached_and_feeds_the_decode_cache(service, tmp_path):
    request = at(service, k=4, sampler=replace(FAST, seed=3), seeds=3)
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


def test_spreads_join_the_finished_curve(service):
    ladder = at(service, k=4, seeds=2)
    list(service.curve(ladder))
    names = [t.name for t in service.finished_curve(ladder).figure.data]
    assert "seed spread" not in names  # nothing measured yet
    means = {k: service.seed_view(replace(ladder, k=k)).stats.mean for k in (1, 16)}
    series = next(t for t in service.finished_curve(ladder).figure.data if t.name == "seed spread")
    assert list(series.x) == [1, 16] and list(series.y) == [means[1], means[16]]
    assert series.yaxis == "y3"
    other = replace(ladder, seeds=3)  # spreads of another number of seeds are not mixed in
    assert "seed spread" not in [t.name for t in service.finished_curve(other).figure.data]


# ---------------------------------------------------------------------------------------------
# Tokens files
# ---------------------------------------------------------------------------------------------


def test_decode_tokens_file(service, tmp_path):
    path, info = service.tokenize(at(service))
    assert "5 timesteps × 16 tokens" in info
    request = service.request(k=16, sampler=FAST)
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
    path, _ = service.tokenize(at(service))
    _, meta = read_tokens(path)
    assert meta["source"] == EXAMPLE.name and meta["model_ref"] == "(in memory)"
    assert not [v for v in meta.values() if str(ROOT) in v or v.startswith("/")]


def test_token_limits_refuse_long_or_large_files_before_decoding(service, tmp_path):
    """4,001 timesteps made by repeating a real file's first one (metadata otherwise valid):
    refused by its shape before the tensor is read; a padded file by its size."""
    path, _ = service.tokenize(at(service))
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
