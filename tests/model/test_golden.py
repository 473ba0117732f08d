"""Faithfulness: reproduce every tensor the OFFICIAL implementation produced for our fixtures.

Fixtures: the shared tiny one (../shared/reference/tiny: its own weights) and the variant fixtures
in tests/model/fixtures/variants (weights re-made by tests/model/fixture_weights.py). Each
golden.json lists the calls and seeds; the checks below replay them. Tolerances: 1e-5 max-abs for
one module or forward, 2e-3 for multi-chunk videos (decode -> re-encode -> condition chains), ids
exact.
"""

import ast
import json
from pathlib import Path

import pytest
import torch
from conftest import REFERENCE
from fixture_weights import fixture_state_dict
from safetensors.torch import load_file

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import official_to_ours, ours_to_official
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.model.specs import Role

VARIANTS = Path(__file__).parent / "fixtures" / "variants"
FIXTURES = [REFERENCE / "tiny"] + sorted(p.parent for p in VARIANTS.glob("*/golden.json"))
ONE_MODULE = 1e-5
MULTI_CHUNK = 2e-3


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


@pytest.fixture(scope="module", params=FIXTURES, ids=fixture_id)
def fixture(request):
    torch.set_num_threads(2)
    return load_fixture(request.param)


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float, name: str):
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    if expected.dtype == torch.int64:
        mismatched = int((actual != expected).sum())
        assert mismatched == 0, f"{name}: {mismatched} of {expected.numel()} ids differ"
        return
    err = (actual.float() - expected).abs().max().item()
    assert err <= atol, f"{name}: max abs error {err:.3g} > {atol}"


@torch.inference_mode()
def test_vae(fixture):
    model, g, _ = fixture
    if "input_video" not in g:
        pytest.skip("partial fixture: no input video (its REPA masks need 64x64 frames)")
    video = g["input_video"]
    chunk = model.chunking.chunk
    moments = model.vae.moments(video[:, :, :chunk])
    close(moments, g["vae_chunk0_moments"], ONE_MODULE, "vae_chunk0_moments")
    close(model.vae.moments(video[:, :, :1]), g["vae_first_frame_moments"], ONE_MODULE, "1 frame")
    mean = moments[:, : moments.shape[1] // 2]
    close(mean, g["vae_chunk0_latents_mean"], ONE_MODULE, "vae_chunk0_latents_mean")
    torch.manual_seed(111)
    sampled = model.vae.encode(video[:, :, :chunk])
    close(sampled, g["vae_chunk0_latents_sample_seed111"], ONE_MODULE, "posterior sample")
    close(model.vae.decode(mean), g["vae_decode_of_chunk0_mean"], ONE_MODULE, "vae decode")


@torch.inference_mode()
def test_encoder_on_given_latents(fixture):
    """Encoder + FSQ on the recorded VAE latents (and the encoder's REPA head, if any)."""
    model, g, _ = fixture
    z = model.encoder(g["chunks_vae_latents"])
    close(z, g["chunks_encoder_out"], ONE_MODULE, "chunks_encoder_out")
    codes, ids = model.fsq(z)
    close(codes, g["chunks_quants"], 0, "chunks_quants")
    close(ids, g["chunks_tokens"], 0, "chunks_tokens")
    merged = model.chunking.merge_tokens(g["chunks_tokens"], 1)
    close(merged, g["tokens"], 0, "tokens merged from chunks")
    if "chunks_encoder_repa_pred" in g:
        repa = model.encoder.aux(g["chunks_vae_latents"]).repa
        close(repa, g["chunks_encoder_repa_pred"], ONE_MODULE, "encoder repa")


@torch.inference_mode()
def test_tokenize(fixture):
    model, g, _ = fixture
    if "input_video" not in g:
        pytest.skip("partial fixture: no input video (its REPA masks need 64x64 frames)")
    video = g["input_video"]
    torch.manual_seed(7)
    tokens = model.tokenize(video)
    close(tokens[0], g["tokens"], 0, "tokens")
    torch.manual_seed(7)
    latents, enc, codes, ids = model.encode_chunks(model.chunking.split_video(video))
    close(latents, g["chunks_vae_latents"], ONE_MODULE, "chunks_vae_latents")
    close(enc, g["chunks_encoder_out"], ONE_MODULE, "chunks_encoder_out")
    close(codes, g["chunks_quants"], 0, "chunks_quants")
    close(ids, g["chunks_tokens"], 0, "chunks_tokens")
    close(
        model.tokenize(video, sample_posterior=False)[0],
        g["tokens_from_posterior_mean"],
        0,
        "tokens_from_posterior_mean",
    )
    close(model.fsq.ids_to_codes(g["tokens"]), g["tokens_embedding"], 0, "tokens_embedding")


def _forward_cases(g, n):
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


@torch.inference_mode()
def test_decoder_forward(fixture):
    model, g, calls = fixture
    n = model.n_registers
    tau = torch.tensor([0.7])
    for name, kw in _forward_cases(g, n):
        close(model.decoder(tau=tau, **kw), g[name], ONE_MODULE, name)
    aux = model.decoder.aux(g["decoder_fwd_quants"], g["decoder_fwd_noised_input"], tau)
    close(aux.temb, g["decoder_fwd_cond_full_temb"], ONE_MODULE, "temb")
    reg = aux.stream(Role.REGISTERS)
    close(reg, g["decoder_fwd_cond_full_dec_quants"], ONE_MODULE, "register outputs")
    if "decoder_fwd_cond_full_repa_pred" in g:
        close(aux.repa, g["decoder_fwd_cond_full_repa_pred"], ONE_MODULE, "repa")
    # batch of 2 at tau = 1 with different keep_k
    call = next(c for c in calls["calls"] if c["name"].startswith("decoder_fwd_batch2"))
    keep_text = call["call"].split("eval_keep_k:")[1].split("]")[0] + "]"
    keep = ast.literal_eval(keep_text.replace("n_reg", str(n)))
    q = torch.cat([g["decoder_fwd_quants"], g["tokens_embedding"][:, -q_frames(g) :]])
    x = g["decoder_fwd_noised_input"]
    out = model.decoder(
        q, torch.cat([x, x.flip(-1)]), torch.tensor([1.0, 1.0]), keep_k=torch.tensor(keep)
    )
    close(out[:1], g["decoder_fwd_batch2_t1_sample0"], ONE_MODULE, "batch2 sample0")
    close(out[1:], g["decoder_fwd_batch2_t1_sample1"], ONE_MODULE, "batch2 sample1")


def q_frames(g) -> int:
    return g["decoder_fwd_quants"].shape[1]


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


@torch.inference_mode()
def test_detokenize(fixture):
    model, g, calls = fixture
    n = model.n_registers
    tokens = g["tokens"]
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
            out = model.detokenize(
                [tokens[:, :t_lat]], conditioning_frames=[g["cond_frame"]], generator=gen, **kw
            )
            close(out[0], g[f"{name}_video0"], MULTI_CHUNK, name)
            ran += 1
            continue
        out = model.detokenize([tokens] * batch, generator=gen, **kw)
        for i in range(batch):
            full, last = g.get(f"{name}_video{i}"), g.get(f"{name}_video{i}_lastframes")
            if full is not None:
                close(out[i], full, MULTI_CHUNK, f"{name}_video{i}")
            elif last is not None:
                close(out[i][:, :, -2:], last, MULTI_CHUNK, f"{name}_video{i}_lastframes")
            else:  # partial fixture: only the sampler latents (test_detokenize_chunk_latents)
                assert f"{name}_chunk0_latents" in g
        ran += 1
    assert ran >= 4


@torch.inference_mode()
def test_detokenize_chunk_latents(fixture):
    """The sampler's output latents and the conditioning latents of every chunk."""
    model, g, calls = fixture
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
    close(latents, g[f"{name}_chunk0_latents"], ONE_MODULE, "chunk0 latents")
    if len(chunks) > 1 and model.chunking.overlap > 0:
        prev = model.vae.decode(g[f"{name}_chunk0_latents"])[:, :, -model.chunking.overlap :]
        ids = model.encode_chunks(prev)[3]
        cond = model.vae.encode(prev)
        close(cond, g[f"{name}_chunk1_cond_latents"], ONE_MODULE, "chunk1 cond latents")
        latents = model.sample_latents(
            torch.cat([ids, chunks[1]], 1),
            model.initial_noise(batch, gen),
            keep,
            cond,
            sampler,
        )
        close(latents, g[f"{name}_chunk1_latents"], 1e-4, "chunk1 latents")
