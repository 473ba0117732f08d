"""Precision as a setting (model/precision.py): what `auto` picks on which hardware, bf16 runs of
the tiny and the demo model against float32, tokenize ids that do not depend on the precision,
the float32 islands under CPU autocast, and checkpoint files stored in bf16 / fp16.

Bounds hold on AMD (AVX-512-BF16 or AVX2: bf16 then emulated) and Intel (AMX) machines: each is
several times the difference measured here (given with it), since bf16 kernels round
differently from one CPU to the next.
"""

import shutil

import pytest
import torch
from paths import TINY, VIDEOS
from safetensors.torch import load_file, save_file

from videoflextok_core.hardware import CpuInfo, cpu_info
from videoflextok_core.media.clip import load_clip
from videoflextok_core.media.metrics import psnr
from videoflextok_core.model import Noise, VideoFlexTok
from videoflextok_core.model.identity import model_identity
from videoflextok_core.model.layers import layer_norm_fp32
from videoflextok_core.model.precision import PRECISIONS, Precision
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.model.vidtok import ChannelLayerNorm, GroupNorm32
from videoflextok_core.tokenfile import token_metadata

pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLER = Sampler(steps=4, guidance=3.0, apg=True)


@pytest.fixture
def tiny():
    """A fresh tiny reference model (the tests set its precision)."""
    return VideoFlexTok.from_pretrained(TINY, device="cpu")


def cpu(bf16_units: bool) -> CpuInfo:
    """An AMX machine or an AVX2 one, as `hardware.cpu_info` would describe it."""
    flags = {"avx2", "fma", "avx512f", "amx_tile", "amx_bf16"} if bf16_units else {"avx2", "fma"}
    return CpuInfo("test CPU", frozenset(flags), "AVX2", 1, torch_bf16=bf16_units, torch_amx=False)


# ---------------------------------------------------------------------------------------------
# Resolving the setting
# ---------------------------------------------------------------------------------------------


def test_auto_is_bf16_exactly_where_the_hardware_reports_bf16_units():
    here = Precision.resolve("auto", "cpu")
    assert here.runs == ("bf16" if cpu_info().bf16_matmul else "fp32"), here
    assert Precision.resolve("auto", "cpu", cpu=cpu(True)).runs == "bf16"
    assert "AMX-BF16" in Precision.resolve("auto", "cpu", cpu=cpu(True)).why
    assert Precision.resolve("auto", "cpu", cpu=cpu(False)).runs == "fp32"
    assert Precision.resolve("auto", "cuda", cpu=cpu(False)).runs == "bf16"  # any GPU
    for hardware in (cpu(True), cpu(False)):
        assert Precision.resolve("fp32", "cpu", cpu=hardware).runs == "fp32"
        assert Precision.resolve("bf16", "cpu", cpu=hardware).runs == "bf16"
        # the library's default on a CPU is float32 everywhere (the golden tests rely on it)
        assert Precision.resolve(None, "cpu", cpu=hardware).runs == "fp32"
    assert Precision.resolve(None, "cuda").runs == "bf16"  # as the official notebook


def test_labels_and_what_tokenize_runs():
    p = Precision.resolve("bf16", "cpu")
    assert (p.label, p.tokenize_runs, str(p)) == (
        "bf16-autocast",
        "fp32",
        "bf16 autocast (bf16: asked)",
    )
    assert Precision.resolve("fp32", "cuda").label == "fp32"
    weights = Precision.resolve(None, "cpu", torch.bfloat16)
    assert (weights.runs, weights.label, weights.tokenize_runs) == ("bf16", "bf16", "bf16")
    assert Precision.resolve("auto", "cpu", torch.float64).label == "fp64"


def test_bad_settings_are_refused_with_the_value_named():
    with pytest.raises(ValueError, match="'fp16'"):
        Precision.resolve("fp16", "cpu")
    with pytest.raises(ValueError, match="precision 'fp32' needs float32 weights"):
        Precision.resolve("fp32", "cpu", torch.bfloat16)
    with pytest.raises(ValueError, match="float16"):
        Precision.resolve("auto", "cpu", torch.float16)
    with pytest.raises(ValueError, match="'bf16' cannot run float64"):
        Precision.resolve("bf16", "cpu", torch.float64)


def test_the_cli_offers_the_same_settings():
    from videoflextok_core.__main__ import PRECISIONS as CLI_PRECISIONS

    assert CLI_PRECISIONS == PRECISIONS


def test_the_model_setting_follows_the_device_and_dtype(tiny):
    m = VideoFlexTok(tiny.config)
    assert m.precision.asked == "default" and m.precision.runs == "fp32"
    m.precision = "bf16"
    assert m.precision.runs == "bf16"
    with pytest.raises(ValueError, match="'half'"):
        m.precision = "half"
    assert m.precision.runs == "bf16"  # a refused value changes nothing
    m.precision = "auto"
    assert m.precision == Precision.resolve("auto", "cpu")
    m.to(torch.float64)  # resolved again for the new dtype
    assert m.precision.label == "fp64"
    with pytest.raises(ValueError, match="precision"):
        VideoFlexTok.from_pretrained(TINY, device="cpu", precision="fp16")


def test_identity_and_tokens_file_say_which_precision_ran():
    fp32 = VideoFlexTok.from_pretrained(TINY, device="cpu", precision="fp32")
    bf16 = VideoFlexTok.from_pretrained(TINY, device="cpu", precision="bf16")
    assert model_identity(fp32).endswith("-cpu-fp32")
    assert model_identity(bf16).endswith("-cpu-bf16-autocast")

    class Info:  # the fields of VideoInfo that token_metadata reads
        target_fps, start, path, note = 8.0, 0.0, str(TINY / "config.json"), ""

    tokens = torch.zeros(1, 5, 16, dtype=torch.int64)
    meta = token_metadata(bf16, str(TINY), Info, 17, tokens)
    assert meta["precision"] == "bf16-autocast" and meta["tokenize_precision"] == "fp32"


# ---------------------------------------------------------------------------------------------
# Float32 islands under CPU autocast
# ---------------------------------------------------------------------------------------------


def test_norms_stay_float32_under_cpu_autocast():
    x = torch.randn(2, 32, 3, 4, 4).to(torch.bfloat16)  # what a bf16 conv hands on
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert ChannelLayerNorm(32)(x).dtype == torch.float32  # nn.LayerNorm: bfloat16
        assert GroupNorm32(32, 32)(x).dtype == torch.float32  # nn.GroupNorm: bfloat16
        ref = torch.nn.functional.layer_norm(x.float(), (4,))
        assert torch.equal(layer_norm_fp32(x).float(), ref.to(torch.bfloat16).float())


# ---------------------------------------------------------------------------------------------
# bf16 runs against float32
# ---------------------------------------------------------------------------------------------


def run(model: VideoFlexTok, precision: str, video: torch.Tensor, k: int, sampler: Sampler):
    """(ids (1, t, N), reconstruction (3, T, H, W) at k) of `video` (1, 3, T, H, W)."""
    model.precision = precision
    torch.manual_seed(0)  # later chunks re-encode decoded frames from the global RNG
    ids = model.tokenize(video, sample_posterior=False)[0]
    noise = Noise(generator=sampler.generator())
    out = model.detokenize([ids[..., :k]], sampler, noise=noise)[0]
    return ids, out[0].float().clamp(-1, 1)


def test_tiny_model_in_bf16_is_close_to_float32(tiny):
    video = load_file(TINY / "golden.safetensors")["input_video"]  # (1, 3, 33, 32, 48)
    ids32, out32 = run(tiny, "fp32", video, 16, SAMPLER)
    ids16, out16 = run(tiny, "bf16", video, 16, SAMPLER)
    assert torch.equal(ids32, ids16)  # tokenize runs float32 whatever the setting
    assert torch.isfinite(out16).all()
    # the first chunk starts from the same noise: measured 52 dB apart; later chunks re-encode
    # bf16 frames (random weights amplify that), so they are compared with the input only
    assert psnr(out16[:, :17], out32[:, :17]).mean() > 35
    gap = psnr(out16, video[0]).mean() - psnr(out32, video[0]).mean()
    assert abs(gap) < 0.3  # measured 0.001 dB


def test_demo_model_in_bf16_is_close_to_float32(demo_model):
    video, _ = load_clip(VIDEOS / "orig_clip.mp4", demo_model.config, None, 0.0, 17)
    sampler = demo_model.config.demo_sampler()  # 16 steps, guidance 8 with APG
    ids32, out32 = run(demo_model, "fp32", video[None], 16, sampler)
    ids16, out16 = run(demo_model, "bf16", video[None], 16, sampler)
    demo_model.precision = None
    assert torch.equal(ids32, ids16)
    assert psnr(out16, out32).mean() > 35  # measured 61 dB
    gap = psnr(out16, video).mean() - psnr(out32, video).mean()
    assert abs(gap) < 0.2  # measured 0.0004 dB


# ---------------------------------------------------------------------------------------------
# Checkpoint files in any float dtype
# ---------------------------------------------------------------------------------------------


def resaved(tmp_path, dtype: torch.dtype):
    """The tiny checkpoint with its tensors rounded to `dtype`, in the Hub layout."""
    folder = tmp_path / f"tiny-{str(dtype).removeprefix('torch.')}"
    folder.mkdir()
    shutil.copy(TINY / "config.json", folder / "config.json")
    tensors = load_file(TINY / "model.safetensors")
    save_file({k: v.to(dtype) for k, v in tensors.items()}, str(folder / "model.safetensors"))
    return folder


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_bf16_and_fp16_files_run_in_float32(tmp_path, dtype):
    loaded = VideoFlexTok.from_pretrained(resaved(tmp_path, dtype), device="cpu")
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    reference = VideoFlexTok.from_pretrained(TINY, device="cpu")  # float32, rounded the same
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(p.to(dtype).float())
    video = load_file(TINY / "golden.safetensors")["input_video"]
    for m in (loaded, reference):
        assert m.precision.runs == "fp32"
    ids, out = run(loaded, None, video, 8, SAMPLER)
    ref_ids, ref_out = run(reference, None, video, 8, SAMPLER)
    assert torch.equal(ids, ref_ids) and torch.equal(out, ref_out)


def test_bf16_weights_when_asked(tiny):
    loaded = VideoFlexTok.from_pretrained(TINY, device="cpu", dtype=torch.bfloat16)
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    assert (loaded.precision.runs, loaded.precision.label) == ("bf16", "bf16")
    video = load_file(TINY / "golden.safetensors")["input_video"]
    _, out = run(loaded, None, video, 16, SAMPLER)
    _, out32 = run(tiny, "fp32", video, 16, SAMPLER)
    assert abs(psnr(out, video[0]).mean() - psnr(out32, video[0]).mean()) < 0.5
    with pytest.raises(ValueError, match="needs float32 weights"):
        VideoFlexTok.from_pretrained(TINY, device="cpu", dtype=torch.bfloat16, precision="fp32")
