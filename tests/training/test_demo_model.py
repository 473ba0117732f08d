"""The shipped demo model (assets/demo-model): layout, loading, and the quality it reached.

The thresholds are what the shipped model reached, minus a margin: `python -m training.evaluate`
measured a 3.17 dB PSNR gain from k=1 to k=64 over 16 held-out clips (README, "The demo model");
on the three clips used here the gain is 2.34 dB (3.18, 2.67, 1.16). The issue's target, 6 dB,
was NOT reached (see README).
"""

import json

import pytest
from paths import VIDEOS

from demo.paths import DEMO_MODEL as DEMO
from synthetic import make_clip_tensor
from videoflextok_core.curve import quality_curve
from videoflextok_core.model.checkpoint import ours_to_official
from videoflextok_core.model.sampling import Sampler

pytestmark = pytest.mark.e2e  # the demo model's quality on held-out and real clips

EVAL_SEED_BASE = 1_000_000  # training.config.EVAL_SEED_BASE: never used for training
MIN_GAIN_DB = 1.8  # mean PSNR(k=N) - PSNR(k=1) over the three clips; measured 2.34 dB
MAX_COLOUR_ERR = 0.12  # |mean colour error| per frame and channel, [-1, 1]; measured 0.02-0.07
MAX_DIP_DB = 0.3  # the curve over powers of two may not fall by more than this


def test_checkpoint_layout_and_size(demo_model):
    files = {p.name for p in DEMO.iterdir()}
    assert {"config.json", "model.safetensors"} <= files
    assert (DEMO / "model.safetensors").stat().st_size <= 25 * 2**20
    cfg = json.loads((DEMO / "config.json").read_text())
    # execution order, not alphabetical (json written without sort_keys)
    assert list(cfg["video_flex_tok"]["encoder"]["module_dict"])[-1] == "enc_to_latents"
    assert demo_model.resolution[0] >= 64 and demo_model.n_registers >= 64
    assert (demo_model.chunking.chunk, demo_model.chunking.overlap) == (17, 1)
    names = {ours_to_official(k) for k in demo_model.state_dict()}
    assert all(n.startswith("video_tokenizer.") for n in names)
    d = demo_model.config.demo_sampler(fallback=Sampler(steps=1, guidance=0.5))
    assert d.steps >= 1 and d.guidance >= 1.0  # tuned values, not the fallback's


def test_coarse_to_fine_on_held_out_clips(demo_model):
    sampler = demo_model.config.demo_sampler()  # seed 0
    N = demo_model.n_registers
    budgets = [1, 4, 16, N]
    psnr = {k: 0.0 for k in budgets}
    ssim = {k: 0.0 for k in budgets}
    seeds = [EVAL_SEED_BASE + i for i in range(3)]
    clips, full = [], []
    for seed in seeds:
        clip = make_clip_tensor(seed, 33, demo_model.resolution[0])
        result = quality_curve(demo_model, clip, budgets=budgets, sampler=sampler)
        for k in budgets:
            psnr[k] += result.row(k).psnr / len(seeds)
            ssim[k] += result.row(k).ssim / len(seeds)
        clips.append(clip)
        full.append(result.reconstructions[N])
    # At full k each reconstruction follows its own input: it is closer to it than to any other
    # held-out clip, and its mean colour per frame stays near the input's.
    for i, recon in enumerate(full):
        errors = [float((recon - clip).pow(2).mean()) for clip in clips]
        assert min(range(len(clips)), key=errors.__getitem__) == i, errors
        colour = (recon.mean(dim=(2, 3)) - clips[i].mean(dim=(2, 3))).abs().mean()
        assert colour < MAX_COLOUR_ERR, float(colour)
    values = [psnr[k] for k in budgets]
    assert values[-1] - values[0] >= MIN_GAIN_DB, psnr
    assert all(b >= a - MAX_DIP_DB for a, b in zip(values, values[1:])), psnr
    assert ssim[N] >= ssim[1] + 0.03, ssim  # measured +0.070


@pytest.mark.parametrize("name", ["porsche.mp4", "orig_clip.mp4"])
def test_real_clips_run(demo_model, name):
    """Real footage (never seen in training) goes through; no quality threshold."""
    result = quality_curve(
        demo_model,
        str(VIDEOS / name),
        budgets=[1, demo_model.n_registers],
        sampler=Sampler(steps=4),
        cache=None,
    )
    for k in result.budgets:
        assert result.reconstructions[k].shape[2:] == demo_model.resolution
        assert 5 < result.row(k).psnr < 60
