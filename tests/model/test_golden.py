"""Faithfulness: reproduce every tensor the OFFICIAL implementation produced for our fixtures.

Fixtures: the shared tiny one (../shared/reference/tiny: its own weights) and the variant fixtures
in tests/model/fixtures/variants (weights re-made by tests/model/fixture_weights.py). Each
golden.json lists the calls and seeds; the `run_*` functions below replay them and return the
checks, and each test runs them twice: with the float32 port (the checked result) and with a
float64 copy of it (same weights, inputs and random draws: the "true" value of those calls).

Tolerance. The goldens come from float32 runs on one CPU; another CPU (or thread count) rounds
differently, and chains such as multi-chunk decoding amplify the difference. So every float
check is held to the port's own rounding noise instead of a fixed bound:

    max|port32 - golden| <= C * max|port32 - port64| + FLOOR * max|port64|

The golden's own noise |golden - official64| cannot be measured here; it is of the same order
as ours (float32, similar ops), and C covers both. (A bound with |golden - port64| on the right
would pass any port: by the triangle inequality it is always >= |port32 - golden|.) FLOOR keeps
the bound above 0 where float32 and float64 agree exactly. A loose absolute bound (`SANITY`)
stays as a guard against a broken float64 run. test_golden_catches_mistakes checks that small
real mistakes (one weight 1e-3 off, a LayerNorm eps, a skipped residual) fail the bound.

Ids and FSQ codes are exact, except where the float64 pre-rounding value lies within rounding
noise of an FSQ rounding boundary (k + 1/2): a CPU's rounding may flip those, so only they may
differ (`boundary` in the results; python tests/model/golden_margins.py prints the margins).
"""

import ast
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from fixture_weights import fixture_state_dict
from paths import REFERENCE, VARIANTS
from safetensors.torch import load_file

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import official_to_ours, ours_to_official
from videoflextok_core.model.fsq import FSQ
from videoflextok_core.model.layers import layer_norm_fp32
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.model.specs import Role

FIXTURES = [REFERENCE / "tiny"] + sorted(p.parent for p in VARIANTS.glob("*/golden.json"))
C = 5.0  # allowed multiple of the port's own float32 noise (covers the golden's noise too)
FLOOR = 1e-6  # relative to max|port64|: exact float32/float64 agreement still gets a bound
ONE_MODULE = 1e-3  # sanity bounds (max abs): one module or forward
MULTI_CHUNK = 2e-2  # decode -> re-encode -> condition chains


# ----------------------------------------------------------------------------------------------
# Fixtures: the float32 model, its float64 copy and the float64 results (computed once)
# ----------------------------------------------------------------------------------------------


def fixture_id(path: Path) -> str:
    return "tiny" if path.name == "tiny" else path.name


def load_fixture(path: Path):
    config = json.loads((path / "config.json").read_text())
    golden = load_file(path / "golden.safetensors")
    calls = json.loads((path / "golden.json").read_text())
    if (path / "model.safetensors").is_file():
        model = VideoFlexTok.from_pretrained(path, device="cpu")
    else:
        model = VideoFlexTok(config)
        shapes = {ours_to_official(k): tuple(v.shape) for k, v in model.state_dict().items()}
        state = fixture_state_dict(shapes, seed=0)
        model.load_state_dict({official_to_ours(k): v for k, v in state.items()}, strict=True)
        model.eval()
    return model, golden, calls


class Check(NamedTuple):
    """One output of a replayed call and the golden tensor `key` it must match."""

    name: str
    actual: torch.Tensor
    key: str
    kind: str = "float"  # "float", "ids" or "codes" (exact but for FSQ boundaries), "exact"
    sanity: float = ONE_MODULE  # loose max-abs guard for "float"
    pre: torch.Tensor | None = None  # "ids"/"codes": the encoder output z (..., d) before FSQ


Run = Callable[[VideoFlexTok, dict, dict], list[Check]]


def as_dtype(golden: dict, dtype: torch.dtype) -> dict:
    """The golden tensors, float ones cast to `dtype` (inputs of the float64 run)."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in golden.items()}


@dataclass
class Fixture:
    name: str
    model: VideoFlexTok
    golden: dict
    calls: dict
    model64: VideoFlexTok | None = None  # float64 copy of `model`, made on first use
    reference: dict = field(default_factory=dict)  # run name -> its float64 checks

    def run(self, run: Run, model: VideoFlexTok | None = None) -> list[Check]:
        model = self.model if model is None else model
        with torch.inference_mode():
            return run(model, as_dtype(self.golden, model.float_dtype), self.calls)

    def run64(self, run: Run) -> list[Check]:
        """The float64 checks of `run`, computed once per fixture."""
        if run.__name__ not in self.reference:
            if self.model64 is None:
                self.model64 = copy.deepcopy(self.model).to(torch.float64)
            self.reference[run.__name__] = self.run(run, self.model64)
        return self.reference[run.__name__]


def make_fixture(path: Path) -> Fixture:
    return Fixture(fixture_id(path), *load_fixture(path))


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    """The goldens were made with 2 threads (the bound does not rely on it); restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


# The shared tiny fixture is in the fast subset; the nine variants run with the e2e tests (CI runs
# everything), since each replay runs twice (float32 and float64).
PARAMS = [
    pytest.param(p, id=fixture_id(p), marks=[] if p == REFERENCE / "tiny" else [pytest.mark.e2e])
    for p in FIXTURES
]


@pytest.fixture(scope="module", params=PARAMS)
def fixture(request):
    return make_fixture(request.param)


# ----------------------------------------------------------------------------------------------
# The comparison
# ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    kind: str
    err: float  # float: max|port32 - golden|; ids/codes: mismatches outside boundary positions
    bound: float  # float: C * noise + floor; ids/codes: the boundary-distance threshold
    noise: float  # max|port32 - port64| (ids/codes: of the FSQ's bounded values)
    golden_dev: float  # max|golden - port64| (ids/codes: port64's mismatches off the boundary)
    boundary: int = 0  # ids/codes at an FSQ rounding boundary (allowed to differ)
    flipped: int = 0  # of those, how many differ from the golden

    @property
    def ok(self) -> bool:
        return self.err <= self.bound if self.kind == "float" else self.err == 0

    @property
    def margin(self) -> float:
        return self.bound / self.err if self.err else float("inf")

    def message(self) -> str:
        if self.kind == "float":
            return (
                f"{self.name}: max abs error {self.err:.3g} > bound {self.bound:.3g} "
                f"(port noise {self.noise:.3g}, golden - port64 {self.golden_dev:.3g})"
            )
        return f"{self.name}: {self.err:.0f} values differ (besides {self.boundary} at boundaries)"


def compare(ours: list[Check], ref: list[Check], golden: dict, fsq: FSQ) -> list[Result]:
    """Float32 checks vs golden, with the float64 checks `ref` (same calls) as the measure."""
    assert [c.name for c in ours] == [c.name for c in ref]
    out = []
    for a, r in zip(ours, ref):
        expected = golden[a.key]
        assert a.actual.shape == expected.shape, f"{a.name}: {a.actual.shape} != {expected.shape}"
        if a.kind == "exact":
            wrong = int((a.actual != expected).sum())
            out.append(Result(a.name, a.kind, wrong, 0, 0, 0))
        elif a.kind == "float":
            p32, p64, g = a.actual.double(), r.actual.double(), expected.double()
            err = (p32 - g).abs().max().item()
            noise = (p32 - p64).abs().max().item()
            # capped by the sanity bound (a broken float64 run must not open the bound)
            bound = min(C * noise + FLOOR * p64.abs().max().item(), a.sanity)
            out.append(Result(a.name, a.kind, err, bound, noise, (g - p64).abs().max().item()))
        else:
            out.append(_compare_fsq(a, r, expected, fsq))
    return out


def _compare_fsq(a: Check, r: Check, expected: torch.Tensor, fsq: FSQ) -> Result:
    """Ids (..., ) or codes (..., d): exact, except at positions whose float64 FSQ value lies
    within C x (float32 noise of that value) of a rounding boundary k + 1/2."""
    b32, b64 = fsq.bound(a.pre).double(), fsq.bound(r.pre.double())
    noise = (b32 - b64).abs().max().item()
    threshold = C * noise + FLOOR * b64.abs().max().item()
    near = ((b64 - b64.floor()) - 0.5).abs() < threshold  # (..., d)
    if a.kind == "ids":
        near = near.any(dim=-1)
    wrong = (a.actual != expected) & ~near
    wrong64 = (r.actual != expected) & ~near
    flipped = (a.actual != expected) & near
    return Result(
        a.name,
        a.kind,
        int(wrong.sum()),
        threshold,
        noise,
        int(wrong64.sum()),
        int(near.sum()),
        int(flipped.sum()),
    )


def verify(fx: Fixture, run: Run) -> list[Result]:
    """Run `run` in float32 and (cached) float64 on the fixture and compare with the golden."""
    return compare(fx.run(run), fx.run64(run), fx.golden, fx.model.fsq)


def assert_ok(results: list[Result]):
    failed = [r.message() for r in results if not r.ok]
    assert not failed, "\n".join(failed)


# ----------------------------------------------------------------------------------------------
# The recorded calls (golden.json), replayed: model + golden inputs (in the model's dtype)
# ----------------------------------------------------------------------------------------------


def run_vae(model: VideoFlexTok, g: dict, calls: dict) -> list[Check]:
    video = g["input_video"]
    chunk = model.chunking.chunk
    moments = model.vae.moments(video[:, :, :chunk])
    mean = moments[:, : moments.shape[1] // 2]
    checks = [
        Check("vae_chunk0_moments", moments, "vae_chunk0_moments"),
        Check("1 frame", model.vae.moments(video[:, :, :1]), "vae_first_frame_moments"),
        Check("vae_chunk0_latents_mean", mean, "vae_chunk0_latents_mean"),
    ]
    torch.manual_seed(111)
    sampled = model.vae.encode(video[:, :, :chunk])
    checks.append(Check("posterior sample", sampled, "vae_chunk0_latents_sample_seed111"))
    checks.append(Check("vae decode", model.vae.decode(mean), "vae_decode_of_chunk0_mean"))
    return checks


def run_encoder_on_given_latents(model: VideoFlexTok, g: dict, calls: dict) -> list[Check]:
    """Encoder + FSQ on the recorded VAE latents (and the encoder's REPA head, if any)."""
    z = model.encoder(g["chunks_vae_latents"])
    codes, ids = model.fsq(z)
    checks = [
        Check("chunks_encoder_out", z, "chunks_encoder_out"),
        Check("chunks_quants", codes, "chunks_quants", "codes", pre=z),
        Check("chunks_tokens", ids, "chunks_tokens", "ids", pre=z),
        Check(
            "tokens merged", model.chunking.merge_tokens(g["chunks_tokens"], 1), "tokens", "exact"
        ),
    ]
    if "chunks_encoder_repa_pred" in g:
        repa = model.encoder(g["chunks_vae_latents"], return_aux=True).repa
        checks.append(Check("encoder repa", repa, "chunks_encoder_repa_pred"))
    return checks


def run_tokenize(model: VideoFlexTok, g: dict, calls: dict) -> list[Check]:
    video = g["input_video"]
    merge = model.chunking.merge_tokens
    chunks = model.chunking.split_video(video)
    torch.manual_seed(7)
    tokens = model.tokenize(video)[0]
    torch.manual_seed(7)
    latents, enc, codes, ids = model.encode_chunks(chunks)
    mean_tokens = model.tokenize(video, sample_posterior=False)[0]
    mean_enc = model.encode_chunks(chunks, sample_posterior=False)[1]
    return [
        Check("tokens", tokens, "tokens", "ids", pre=merge(enc, 1)),
        Check("chunks_vae_latents", latents, "chunks_vae_latents"),
        Check("chunks_encoder_out", enc, "chunks_encoder_out"),
        Check("chunks_quants", codes, "chunks_quants", "codes", pre=enc),
        Check("chunks_tokens", ids, "chunks_tokens", "ids", pre=enc),
        Check(
            "tokens_from_posterior_mean",
            mean_tokens,
            "tokens_from_posterior_mean",
            "ids",
            pre=merge(mean_enc, 1),
        ),
        Check("tokens_embedding", model.fsq.ids_to_codes(g["tokens"]), "tokens_embedding", "exact"),
    ]


def _forward_cases(g):
    q, x = g["decoder_fwd_quants"], g["decoder_fwd_noised_input"]
    yield "decoder_fwd_cond_full", dict(quants=q, x=x)
    yield "decoder_fwd_uncond_full", dict(quants=q, x=x, uncond=torch.tensor([True]))
    keep_names = [k for k in g if k.startswith("decoder_fwd_cond_keep") and "prefix" not in k]
    for name in keep_names:
        yield name, dict(quants=q, x=x, keep_k=torch.tensor([int(name.rsplit("keep", 1)[1])]))
    for name in (k for k in g if "prefix" in k and k.startswith("decoder_fwd_cond_keep")):
        keep = int(name.split("keep")[1].split("_")[0])
        prefix = int(name.rsplit("prefix", 1)[1])
        yield (
            name,
            dict(quants=q, x=x, keep_k=torch.tensor([keep]), prefix_len=torch.tensor([prefix])),
        )


def q_frames(g) -> int:
    return g["decoder_fwd_quants"].shape[1]


def run_decoder_forward(model: VideoFlexTok, g: dict, calls: dict) -> list[Check]:
    n = model.n_registers
    tau = torch.tensor([0.7])  # float32, as upstream: the float64 run sees the same value
    checks = [Check(name, model.decoder(tau=tau, **kw), name) for name, kw in _forward_cases(g)]
    aux = model.decoder(
        g["decoder_fwd_quants"], g["decoder_fwd_noised_input"], tau, return_aux=True
    )
    checks.append(Check("temb", aux.temb, "decoder_fwd_cond_full_temb"))
    reg = aux.stream(Role.REGISTERS)
    checks.append(Check("register outputs", reg, "decoder_fwd_cond_full_dec_quants"))
    if "decoder_fwd_cond_full_repa_pred" in g:
        checks.append(Check("repa", aux.repa, "decoder_fwd_cond_full_repa_pred"))
    # batch of 2 at tau = 1 with different keep_k
    call = next(c for c in calls["calls"] if c["name"].startswith("decoder_fwd_batch2"))
    keep_text = call["call"].split("eval_keep_k:")[1].split("]")[0] + "]"
    keep = ast.literal_eval(keep_text.replace("n_reg", str(n)))
    q = torch.cat([g["decoder_fwd_quants"], g["tokens_embedding"][:, -q_frames(g) :]])
    x = g["decoder_fwd_noised_input"]
    out = model.decoder(
        q, torch.cat([x, x.flip(-1)]), torch.tensor([1.0, 1.0]), keep_k=torch.tensor(keep)
    )
    checks.append(Check("batch2 sample0", out[:1], "decoder_fwd_batch2_t1_sample0"))
    checks.append(Check("batch2 sample1", out[1:], "decoder_fwd_batch2_t1_sample1"))
    return checks


def _detok_calls(calls):
    for c in calls["calls"]:
        if c["name"].startswith("detok_") and "call" in c and "model.detokenize" in c["call"]:
            yield c


def _parse_detok(call: str, n: int) -> dict:
    """The recorded call text (golden.json) -> (global seed, generator seed, kwargs)."""
    global_seed = int(call.split("torch.manual_seed(")[1].split(")")[0])
    gen_seed = int(call.split("Generator().manual_seed(")[1].split(")")[0])
    args = call.split("model.detokenize(")[1].rsplit(")", 1)[0]
    kw = {}
    for key in (
        "num_keep_tokens_list",
        "timesteps",
        "guidance_scale",
        "perform_norm_guidance",
        "momentum",
        "eta",
        "norm_threshold",
        "cond_type",
    ):
        if f"{key}=" in args:
            raw = args.split(f"{key}=")[1]
            raw = raw[: raw.index("]") + 1] if raw.startswith("[") else raw.split(",")[0]
            kw[key] = ast.literal_eval(raw.replace("n_reg", str(n)).strip())
    return global_seed, gen_seed, kw


def run_detokenize(model: VideoFlexTok, g: dict, calls: dict) -> list[Check]:
    n = model.n_registers
    tokens = g["tokens"]
    checks = []
    ran = 0
    for c in _detok_calls(calls):
        name = c["name"].rstrip("_*")
        global_seed, gen_seed, kw = _parse_detok(c["call"], n)
        batch = (
            int(c["call"].split("[tokens]*")[1].split(",")[0]) if "[tokens]*" in c["call"] else 1
        )
        torch.manual_seed(global_seed)
        gen = torch.Generator().manual_seed(gen_seed)
        if "conditioning_frames" in c["call"]:
            t_lat = model.chunking.tokens_per_chunk
            out = model.detokenize_official(
                [tokens[:, :t_lat]], conditioning_frames=[g["cond_frame"]], generator=gen, **kw
            )
            checks.append(Check(name, out[0], f"{name}_video0", sanity=MULTI_CHUNK))
            ran += 1
            continue
        out = model.detokenize_official([tokens] * batch, generator=gen, **kw)
        for i in range(batch):
            full, last = f"{name}_video{i}", f"{name}_video{i}_lastframes"
            if full in g:
                checks.append(Check(full, out[i], full, sanity=MULTI_CHUNK))
            elif last in g:
                checks.append(Check(last, out[i][:, :, -2:], last, sanity=MULTI_CHUNK))
            else:  # partial fixture: only the sampler latents (test_detokenize_chunk_latents)
                assert f"{name}_chunk0_latents" in g
        ran += 1
    assert ran >= 4
    return checks


def run_detokenize_chunk_latents(model: VideoFlexTok, g: dict, calls: dict) -> list[Check]:
    """The sampler's output latents and the conditioning latents of every chunk."""
    n = model.n_registers
    c = next(c for c in _detok_calls(calls) if "conditioning_frames" not in c["call"])
    name = c["name"].rstrip("_*")
    global_seed, gen_seed, kw = _parse_detok(c["call"], n)
    batch = int(c["call"].split("[tokens]*")[1].split(",")[0])
    keep = torch.tensor(kw["num_keep_tokens_list"])
    torch.manual_seed(global_seed)
    gen = torch.Generator().manual_seed(gen_seed)
    chunks = model.chunking.split_tokens(torch.cat([g["tokens"]] * batch))
    sampler = Sampler(steps=kw["timesteps"])
    latents = model.sample_latents(
        chunks[0], model.initial_noise(batch, gen), keep, sampler=sampler
    )
    checks = [Check("chunk0 latents", latents, f"{name}_chunk0_latents")]
    if len(chunks) > 1 and model.chunking.overlap > 0:
        prev = model.vae.decode(g[f"{name}_chunk0_latents"])[:, :, -model.chunking.overlap :]
        ids = model.encode_chunks(prev)[3]
        cond = model.vae.encode(prev)
        checks.append(Check("chunk1 cond latents", cond, f"{name}_chunk1_cond_latents"))
        latents = model.sample_latents(
            torch.cat([ids, chunks[1]], 1),
            model.initial_noise(batch, gen),
            keep,
            cond,
            sampler,
        )
        checks.append(Check("chunk1 latents", latents, f"{name}_chunk1_latents"))
    return checks


RUNS = [
    run_vae,
    run_encoder_on_given_latents,
    run_tokenize,
    run_decoder_forward,
    run_detokenize,
    run_detokenize_chunk_latents,
]


def needs_video(run: Run) -> bool:
    return run in (run_vae, run_tokenize)


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------


def skip_partial(fx: Fixture):
    if "input_video" not in fx.golden:
        pytest.skip("partial fixture: no input video (its REPA masks need 64x64 frames)")


def test_vae(fixture):
    skip_partial(fixture)
    assert_ok(verify(fixture, run_vae))


def test_encoder_on_given_latents(fixture):
    assert_ok(verify(fixture, run_encoder_on_given_latents))


def test_tokenize(fixture):
    skip_partial(fixture)
    assert_ok(verify(fixture, run_tokenize))


def test_decoder_forward(fixture):
    assert_ok(verify(fixture, run_decoder_forward))


def test_detokenize(fixture):
    assert_ok(verify(fixture, run_detokenize))


def test_detokenize_chunk_latents(fixture):
    assert_ok(verify(fixture, run_detokenize_chunk_latents))


# ----------------------------------------------------------------------------------------------
# The bound catches real mistakes
# ----------------------------------------------------------------------------------------------


def _scale_weight(model: VideoFlexTok):
    """One weight 1e-3 too large: the first decoder block's MLP output projection."""
    model.decoder.transformer.blocks[0].mlp.fc2.weight.data.mul_(1 + 1e-3)


def _vae_norm_eps(model: VideoFlexTok):
    """PyTorch's default LayerNorm / GroupNorm eps (1e-5) instead of VidTok's 1e-6."""
    for m in model.vae.modules():
        if isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
            m.eps = 1e-5


def _skip_residual(model: VideoFlexTok):
    """The last encoder block forgets its residual: x + f(x) -> f(x)."""
    block = model.encoder.transformer.blocks[-1]
    block.register_forward_hook(lambda m, inputs, out: out - inputs[0])


MISTAKES = {
    "weight_1e-3": (_scale_weight, run_decoder_forward),
    "vae_norm_eps": (_vae_norm_eps, run_vae),
    "skip_residual": (_skip_residual, run_encoder_on_given_latents),
}
MISTAKE_FIXTURES = [REFERENCE / "tiny", VARIANTS / "c9o1_prod_sincos_nongated"]
MISTAKE_FIXTURES += [VARIANTS / "c5o1_regfirst_renamed_groupnorm"]


@pytest.mark.parametrize("path", MISTAKE_FIXTURES, ids=fixture_id)
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_golden_catches_mistakes(path, mistake):
    """A deliberately wrong port (float32 and its float64 copy both wrong) fails the check."""
    fx = make_fixture(path)
    spoil, run = MISTAKES[mistake]
    spoil(fx.model)
    failed = [r for r in verify(fx, run) if not r.ok]
    assert failed, f"{mistake} passed every {run.__name__} check"


def test_float64_run_is_float64_with_float32_draws():
    """The reference run: float64 everywhere (islands too), the same random numbers."""
    model = make_fixture(REFERENCE / "tiny").model
    model64 = copy.deepcopy(model).to(torch.float64)
    assert (model.float_dtype, model64.float_dtype) == (torch.float32, torch.float64)
    x = 1 + 1e3 * torch.randn(3, 24, dtype=torch.float64)
    assert torch.equal(layer_norm_fp32(x), torch.nn.functional.layer_norm(x, (24,)))
    z = torch.randn(5, model.fsq.dim, dtype=torch.float64)
    assert model64.fsq.quantize(z).dtype == torch.float64
    assert model64.fsq.bound(z).dtype == torch.float64
    embedder = model64.decoder.time_embedder
    assert embedder.features(torch.tensor([0.7])).dtype == torch.float64
    draws = [m.initial_noise(2, torch.Generator().manual_seed(0)) for m in (model, model64)]
    assert draws[1].dtype == torch.float64 and torch.equal(draws[1], draws[0].double())
    video = load_file(REFERENCE / "tiny" / "golden.safetensors")["input_video"][:, :, :1]
    with torch.inference_mode():
        mean, std = model64.vae.posterior(video.double())
        torch.manual_seed(3)
        sampled = model64.vae.encode(video.double())
        torch.manual_seed(3)
        assert torch.equal(sampled, mean + std * torch.randn(mean.shape).double())
        torch.manual_seed(0)
        tokens = model64.tokenize(video.double().expand(-1, -1, 17, -1, -1))
        gen = torch.Generator().manual_seed(0)
        out = model64.detokenize_official(tokens, timesteps=1, generator=gen)
    assert out[0].dtype == torch.float64
