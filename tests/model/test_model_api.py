"""The public API on the tiny reference checkpoint: contract, batching, bad input."""

import copy

import pytest
import torch
from paths import TINY
from safetensors.torch import load_file

from videoflextok_core.model import Noise, VideoFlexTok
from videoflextok_core.model.config import parse_config
from videoflextok_core.model.identity import config_hash, model_identity, weights_fingerprint
from videoflextok_core.model.sampling import Sampler


@pytest.fixture(scope="module")
def golden():
    return load_file(TINY / "golden.safetensors")


def decode(tiny_model, tokens, seed=0, global_seed=1, **kw):
    torch.manual_seed(global_seed)
    kw.setdefault("timesteps", 3)
    return tiny_model.detokenize_official(
        tokens, generator=torch.Generator().manual_seed(seed), **kw
    )


def test_contract_shapes(tiny_model, golden):
    video = golden["input_video"]
    torch.manual_seed(0)
    tokens = tiny_model.tokenize(torch.cat([video, video.flip(-1)]))
    assert len(tokens) == 2 and tokens[0].shape == (1, 9, 16) and tokens[0].dtype == torch.int64
    out = decode(tiny_model, tokens, guidance_scale=2.0, perform_norm_guidance=True)
    assert len(out) == 2 and out[0].shape == (1, 3, 33, 32, 48)
    assert all(torch.isfinite(o).all() for o in out)


def test_posterior_mean_tokenize_is_deterministic(tiny_model, golden):
    video = golden["input_video"]
    a = tiny_model.tokenize(video, sample_posterior=False)[0]
    torch.manual_seed(123)
    b = tiny_model.tokenize(video, sample_posterior=False)[0]
    assert torch.equal(a, b)
    assert torch.equal(a, golden["tokens_from_posterior_mean"])


def test_tokenize_clip_goes_chunk_by_chunk(tiny_model, golden):
    """Two chunks, with progress after each; the ids are the batched posterior mean's, but for
    a value within rounding of an FSQ boundary (the fixture has one such position)."""
    seen = []
    ids = tiny_model.tokenize_clip(golden["input_video"][0], lambda d, t: seen.append((d, t)))
    assert seen == [(1, 2), (2, 2)] and ids.shape == (1, 9, 16) and ids.device.type == "cpu"
    assert (ids != golden["tokens_from_posterior_mean"]).sum() <= 1


def test_narrow_tokens_decode_as_keep_k_multi_chunk(tiny_model, golden):
    """The model card's t[..., :k] must equal keep_k=k on full-width tokens (2 chunks)."""
    tokens = golden["tokens"]
    for k in (1, 5, 16):
        narrow = decode(tiny_model, [tokens[..., :k]], guidance_scale=3.0)
        keep = decode(tiny_model, [tokens], num_keep_tokens_list=[k], guidance_scale=3.0)
        assert torch.equal(narrow[0], keep[0]), k


def test_budget_batch_equals_separate_decodes(tiny_model, golden):
    """Several budgets in one call (batched, CFG branches batched too) with shared noise give the
    same videos as decoding each budget alone with the same seeds, over two chunks."""
    tokens = golden["tokens"]
    ks = [1, 2, 4, 16]
    kw = dict(guidance_scale=4.0, perform_norm_guidance=True)
    torch.manual_seed(1)
    noise = Noise(generator=torch.Generator().manual_seed(0), shared=True)
    sampler = Sampler(steps=3, guidance=4.0, apg=True)
    together = tiny_model.detokenize([tokens] * len(ks), sampler, keep=ks, noise=noise)
    for i, k in enumerate(ks):
        alone = decode(tiny_model, [tokens], num_keep_tokens_list=[k], **kw)
        assert (together[i] - alone[0]).abs().max() < 1e-5, k
    # without shared noise, samples get successive noise draws (upstream behaviour)
    plain = decode(tiny_model, [tokens] * 2, num_keep_tokens_list=[16, 16], **kw)
    assert (plain[0] - plain[1]).abs().max() > 1e-3


def test_batched_cfg_equals_two_forwards(tiny_model, golden):
    q = golden["decoder_fwd_quants"]
    x = golden["decoder_fwd_noised_input"]
    tau = torch.tensor([0.3])
    with torch.inference_mode():
        cond = tiny_model.decoder(q, x, tau)
        uncond = tiny_model.decoder(q, x, tau, uncond=torch.tensor([True]))
        both = tiny_model.decoder(
            torch.cat([q, q]), torch.cat([x, x]), tau.repeat(2), uncond=torch.tensor([False, True])
        )
    assert (both[:1] - cond).abs().max() < 1e-5
    assert (both[1:] - uncond).abs().max() < 1e-5
    assert (cond - uncond).abs().max() > 1e-3


def test_progress_callback_and_verbose(tiny_model, golden, capsys):
    seen = []
    tiny_model.detokenize([golden["tokens"]], Sampler(3), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 6) for i in range(1, 7)]  # 2 chunks x 3 steps
    decode(tiny_model, [golden["tokens"]])
    assert capsys.readouterr().err == ""  # no bar unless verbose
    decode(tiny_model, [golden["tokens"]], verbose=True)  # a tqdm bar, as upstream
    err = capsys.readouterr().err
    assert "detokenize (step 6/6): 100%|" in err and err.endswith("\n")  # closed


def test_guidance_changes_output_and_keep_k_matters(tiny_model, golden):
    tokens = golden["tokens"]
    base = decode(tiny_model, [tokens], num_keep_tokens_list=[16])[0]
    assert (decode(tiny_model, [tokens], num_keep_tokens_list=[1])[0] - base).abs().max() > 1e-2
    assert (decode(tiny_model, [tokens], guidance_scale=5.0)[0] - base).abs().max() > 1e-2
    assert torch.equal(decode(tiny_model, [tokens])[0], base)


def test_conditioning_frames_are_kept(tiny_model, golden):
    tokens = golden["tokens"]
    cond = golden["cond_frame"]
    out = decode(tiny_model, [tokens], conditioning_frames=cond)[0]
    assert out.shape == (1, 3, 33, 32, 48)


# ----------------------------------------------------------------------------------------------
# Bad input: ValueError that says what was expected
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda v: v[0], "batch axis"),
        (lambda v: v[:, :2], "(B, 3, T, H, W)"),
        (lambda v: v[:, :, :20], "20 frames"),
        (lambda v: v[:, :, :, :16], "32x48"),
        (lambda v: v * 200, "0..255"),
        (lambda v: v.masked_fill(v > 0.9, float("nan")), "NaN"),
        (lambda v: (v * 100).long(), "float"),
        (lambda v: v.numpy(), "torch.Tensor"),
    ],
)
def test_bad_video(tiny_model, golden, make, fragment):
    with pytest.raises(ValueError, match=None) as e:
        tiny_model.tokenize(make(golden["input_video"]))
    assert fragment in str(e.value), str(e.value)


@pytest.mark.parametrize(
    "make, kw, fragment",
    [
        (lambda t: [], {}, "non-empty"),
        (lambda t: t, {}, "list"),
        (lambda t: [t[0]], {}, "(1, t, n)"),
        (lambda t: [t.float()], {}, "integer"),
        (lambda t: [t[:, :7]], {}, "whole number of chunks"),
        (lambda t: [t, t[:, :5]], {}, "same length"),
        (lambda t: [t + 64000], {}, "outside [0, 63999]"),
        (lambda t: [t - 70000], {}, "outside"),
        (lambda t: [t], {"num_keep_tokens_list": [0]}, "1..16"),
        (lambda t: [t], {"num_keep_tokens_list": [17]}, "1..16"),
        (lambda t: [t], {"num_keep_tokens_list": [4, 4]}, "list of 1 ints"),
        (lambda t: [t], {"timesteps": 0}, "timesteps"),
        (lambda t: [t], {"guidance_scale": float("inf")}, "finite"),
        (lambda t: [t], {"conditioning_frames": torch.zeros(1, 3, 2, 32, 48)}, "1 + 4m"),
        (lambda t: [t], {"conditioning_frames": torch.zeros(1, 3, 1, 8, 8)}, "(1, 3, k, 32, 48)"),
        (lambda t: [t], {"noise_list": [torch.zeros(1, 16, 5, 4, 5)]}, "noise_list"),
        (lambda t: [t], {"cond_type": "bogus"}, "cond_type"),
    ],
)
def test_bad_tokens_and_arguments(tiny_model, golden, make, kw, fragment):
    with pytest.raises(ValueError) as e:
        tiny_model.detokenize_official(make(golden["tokens"]), **kw)
    assert fragment in str(e.value), str(e.value)


# ----------------------------------------------------------------------------------------------
# One Sampler: upstream's keywords <-> our fields
# ----------------------------------------------------------------------------------------------


def test_sampler_equals_the_official_keywords(tiny_model, golden):
    """`detokenize(tokens, sampler, ...)` decodes exactly as `detokenize_official` with
    upstream's keywords (two chunks, APG with momentum, a given first noise, keep k)."""
    tokens = [golden["tokens"]]
    kw = dict(timesteps=3, guidance_scale=4.0, perform_norm_guidance=True, eta=0.5, momentum=0.2)
    sampler = Sampler(steps=3, guidance=4.0, apg=True, eta=0.5, momentum=0.2)
    assert Sampler.from_official(**kw) == sampler
    rest = {"norm_threshold": 0.6, "cfg_rescaler": None, "cond_type": "clean"}
    assert sampler.official() == {**kw, **rest}
    first = torch.randn(1, 16, 5, 4, 6, generator=torch.Generator().manual_seed(7))
    official = decode(tiny_model, tokens, num_keep_tokens_list=[5], noise_list=[first], **kw)
    torch.manual_seed(1)
    noise = Noise(generator=torch.Generator().manual_seed(0), given=[first])
    narrow = tiny_model.detokenize(tokens, sampler, keep=[5], noise=noise)
    assert torch.equal(official[0], narrow[0])


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda m, t: m.detokenize(t, timesteps=3), "unexpected keyword argument 'timesteps'"),
        (lambda m, t: m.detokenize(t, 3), "sampler must be a Sampler, got int"),
        (lambda m, t: m.detokenize(t, Sampler(), noise=torch.Generator()), "noise must be a Noise"),
        (lambda m, t: Noise(seeds=[0], generator=torch.Generator()), "seeds, or a generator"),
        (lambda m, t: Noise(seeds=[0], shared=True), "seeds, or a generator"),
        (lambda m, t: Noise(seeds=[-1]), "seeds must be ints in 0.."),
        (lambda m, t: Noise(seeds="01"), "seeds must be a sequence of ints"),
        (lambda m, t: m.detokenize(t * 2, Sampler(), noise=Noise(seeds=[0])), "one seed per"),
        (lambda m, t: Sampler(cond_type="bogus"), "cond_type must be 'clean' or 'sdedit'"),
    ],
)
def test_the_narrow_surface_refuses_what_it_does_not_take(tiny_model, golden, call, fragment):
    with pytest.raises((ValueError, TypeError)) as e:
        call(tiny_model, [golden["tokens"]])
    assert fragment in str(e.value), str(e.value)


@pytest.mark.parametrize(
    "kw, fragment",
    [
        ({"steps": 0}, "steps must be an int >= 1, got 0"),
        ({"steps": 2.0}, "steps must be an int >= 1, got 2.0"),
        ({"steps": True}, "steps must be an int"),
        ({"guidance": float("nan")}, "guidance must be a finite number"),
        ({"guidance": "7"}, "guidance must be a finite number or a function of tau, got '7'"),
        ({"apg": "yes"}, "apg must be True or False"),
        ({"eta": float("inf")}, "eta must be a finite number"),
        ({"momentum": None}, "momentum must be a finite number"),
        ({"norm_threshold": "0.6"}, "norm_threshold must be a finite number"),
        ({"cfg_rescaler": 1.0}, "cfg_rescaler must be None or callable"),
        ({"seed": -1}, "seed must be an int >= 0 and <= 9223372036854775807, got -1"),
        ({"seed": 2**63}, "seed must be an int >= 0"),
    ],
)
def test_sampler_checks_each_field(kw, fragment):
    with pytest.raises(ValueError) as e:
        Sampler(**kw)
    assert fragment in str(e.value), str(e.value)


def test_sampler_values_and_official_names():
    s = Sampler(steps=4, guidance=3, apg=1, eta=0, seed=5)
    assert (s.guidance, s.apg, s.eta) == (3.0, True, 0.0) and isinstance(s.guidance, float)
    assert s.guided and not Sampler().guided and Sampler(guidance=lambda tau: 1.0).guided
    assert Sampler(guidance=lambda tau: 2 * tau).scale(0.25) == 0.5
    assert torch.equal(s.generator().manual_seed(5).get_state(), s.generator().get_state())
    with pytest.raises(ValueError, match="timesteps must be an int >= 1, got 0"):
        Sampler.from_official(timesteps=0)  # errors name the keyword the caller used
    with pytest.raises(ValueError, match="unknown sampler settings"):
        Sampler.from_official(steps=4)


def test_config_demo_sampler_and_fps(tiny_model):
    """The checkpoint's "demo_defaults" (upstream's keywords) over the fallback, and its fps."""
    config = tiny_model.config
    assert config.demo_sampler() == Sampler(steps=25)  # none in the tiny config
    released = Sampler(steps=25, guidance=20.0, apg=True)
    assert config.demo_sampler(released) == released
    assert config.fps == 8.0
    raw = config.raw_dict
    raw["demo_defaults"] = {"timesteps": 12, "guidance_scale": 3.0}
    tuned = parse_config(raw)
    assert tuned.demo_sampler() == Sampler(steps=12, guidance=3.0, apg=False)
    assert tuned.demo_sampler(released) == Sampler(steps=12, guidance=3.0, apg=True)
    assert config_hash(tuned) == config_hash(config)  # presets don't count
    raw["demo_defaults"] = {"timesteps": 0}
    with pytest.raises(ValueError, match="timesteps must be an int >= 1"):
        parse_config(raw).demo_sampler()
    raw["demo_defaults"] = [16]
    with pytest.raises(ValueError, match="demo_defaults must be a dict"):
        parse_config(raw).demo_sampler()


# ----------------------------------------------------------------------------------------------
# Identity (model/identity.py)
# ----------------------------------------------------------------------------------------------


def test_model_identity(tiny_model):
    ident = model_identity(tiny_model)
    assert ident == model_identity(tiny_model)
    assert ident.startswith(config_hash(tiny_model.config))
    other = VideoFlexTok(tiny_model.config)  # same config, fresh random weights
    assert weights_fingerprint(other) != weights_fingerprint(tiny_model)
    half = copy.deepcopy(tiny_model).to(torch.bfloat16)
    assert weights_fingerprint(half) == weights_fingerprint(tiny_model)
