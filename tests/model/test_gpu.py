"""CUDA / bf16 checks (skipped without a GPU; CI has none)."""

import pytest
import torch
from paths import REFERENCE
from safetensors.torch import load_file

from videoflextok_core.model import VideoFlexTok

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_bf16_autocast_matches_float32_cpu():
    g = load_file(REFERENCE / "tiny" / "golden.safetensors")
    cpu = VideoFlexTok.from_pretrained(REFERENCE / "tiny", device="cpu")
    gpu = VideoFlexTok.from_pretrained(REFERENCE / "tiny", device="cuda")
    video = g["input_video"]
    ids_cpu = cpu.tokenize(video, sample_posterior=False)[0]
    ids_gpu = gpu.tokenize(video.cuda(), sample_posterior=False)[0].cpu()
    assert ids_gpu.shape == ids_cpu.shape
    assert (ids_gpu == ids_cpu).float().mean() > 0.5  # bf16 moves some FSQ roundings
    kw = dict(timesteps=4, guidance_scale=3.0, perform_norm_guidance=True)
    out_cpu = cpu.detokenize_official(
        [g["tokens"]], generator=torch.Generator().manual_seed(0), **kw
    )
    noise = cpu.initial_noise(1, torch.Generator().manual_seed(0))
    out_gpu = gpu.detokenize_official([g["tokens"].cuda()], noise_list=[noise.cuda()], **kw)
    out_gpu = out_gpu[0].float().cpu()
    assert torch.isfinite(out_gpu).all()
    # same noise for chunk 0: bf16 keeps the first chunk close to the float32 result
    assert (out_gpu[:, :, :17] - out_cpu[0][:, :, :17]).abs().mean() < 0.1
