"""The seed view's engine (`videoflextok_core.seeds`): several seeds of one budget in one batched
call, each the video of its single decode, and the spread across them, which shrinks as k grows
on the shipped demo model."""

from dataclasses import replace

import pytest
import torch

from demo.paths import EXAMPLES
from synthetic import make_batch
from videoflextok_core.media.clip import load_clip
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.seeds import MAX_SEEDS, pixel_spread, seed_spread

STEPS = 2
SAMPLER = Sampler(STEPS, guidance=2.0, apg=True, seed=5)

pytestmark = pytest.mark.usefixtures("one_thread")  # and `tiny_model`: conftest.py


def tokens_of(tiny_model, frames: int) -> torch.Tensor:
    """(1, t, 16) ids of a synthetic 32x48 clip."""
    clip = make_batch([0], frames, 48)[:, :, :, 8:40].contiguous()  # (1, 3, T, 32, 48)
    return tiny_model.tokenize(clip, sample_posterior=False)[0]


@pytest.mark.parametrize("frames", [17, 33])  # one chunk; two (noise and re-encoding per seed)
def test_each_seed_is_its_single_decode(tiny_model, frames):
    tokens = tokens_of(tiny_model, frames)
    result = seed_spread(tiny_model, tokens, 4, SAMPLER, n=3)
    assert result.seeds == (5, 6, 7) and result.videos.shape == (3, 3, frames, 32, 48)
    for seed, video in zip(result.seeds, result.videos, strict=True):
        single = tiny_model.decode_clip(tokens, [4], replace(SAMPLER, seed=seed))[0]
        # batched vs single: float32 rounding of batched kernels only (measured 5e-6)
        assert (single - video).abs().max() < 1e-4, seed
    assert (result.videos[0] - result.videos[1]).abs().max() > 0.05  # the seeds differ


def test_callers_rng_is_left_alone(tiny_model):
    tokens = tokens_of(tiny_model, 33)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    seed_spread(tiny_model, tokens, 2, SAMPLER, n=2)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "n, fragment",
    [(1, "in 2..8, got 1"), (MAX_SEEDS + 1, "in 2..8, got 9"), (2.0, "got 2.0"), (True, "True")],
)
def test_bad_number_of_seeds(tiny_model, n, fragment):
    with pytest.raises(ValueError, match="number of seeds") as e:
        seed_spread(tiny_model, tokens_of(tiny_model, 17), 2, SAMPLER, n=n)
    assert fragment in str(e.value)


def test_pixel_spread_is_std_across_seeds_mean_over_rgb():
    black, white = -torch.ones(1, 3, 2, 4, 4), torch.ones(1, 3, 2, 4, 4)
    spread = pixel_spread(torch.cat([black, white]))  # pixels 0 and 1: std 0.5
    assert spread.shape == (2, 4, 4) and torch.allclose(spread, torch.full_like(spread, 0.5))
    same = pixel_spread(torch.cat([white, white, white]))
    assert same.abs().max() == 0
    half = torch.cat([black, white])
    half[:, 1:] = 0  # only the red channel differs: the mean over RGB is a third
    assert torch.allclose(pixel_spread(half), torch.full((2, 4, 4), 0.5 / 3))
    with pytest.raises(ValueError, match="n >= 2"):
        pixel_spread(white)


@pytest.mark.e2e  # 12 s of demo-model decodes
def test_spread_shrinks_as_k_grows_on_the_demo_model(demo_model, one_thread):
    """The more tokens, the less the decoder invents. Measured at 4 steps (guidance 8 + APG, 4
    seeds, 17 frames), k=1, 16, 64: 0.087, 0.042, 0.030 on bbb_3_pan and 0.051, 0.013, 0.009 on
    scene_1 (16 steps: 0.071, 0.040, 0.030 and 0.030, 0.010, 0.008); asserted with margin."""
    sampler = replace(demo_model.config.demo_sampler(SAMPLER), steps=4, seed=0)
    for name in ("bbb_3_pan.mp4", "scene_1_seed1000003.mp4"):
        video, _ = load_clip(EXAMPLES / name, demo_model, None, 0.0, 17)
        tokens = demo_model.tokenize_clip(video)
        means = {k: seed_spread(demo_model, tokens, k, sampler, n=4).mean for k in (1, 16, 64)}
        assert means[16] < 0.7 * means[1] and means[64] < 0.6 * means[1], (name, means)
        assert means[64] < means[16], (name, means)
