"""`demo.defaults.app_defaults`: what the page starts with, on a CPU and on a GPU."""

import json

from paths import TINY

from demo.defaults import CUDA_STEPS, app_defaults
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.sampling import Sampler


def test_defaults_released_model(tiny_model):
    d = app_defaults(tiny_model, "cpu")  # no demo_defaults: the released models' 20 + APG
    assert d.sampler == Sampler(steps=25, guidance=20.0, apg=True, seed=0)
    assert d.frame_choices == (17, 33, 49, 65) and d.frames == 17 and d.k == 4
    assert d.ladder == (1, 2, 4, 8, 16)
    gpu = app_defaults(tiny_model, "cuda")
    assert gpu.sampler.steps == CUDA_STEPS and gpu.frame_choices[-1] == 129
    assert gpu.frames == 33


def test_defaults_demo_model():
    cfg = json.loads((TINY / "config.json").read_text())
    cfg["demo_defaults"] = {"timesteps": 16, "guidance_scale": 3.5, "perform_norm_guidance": False}
    model = VideoFlexTok(cfg)
    d = app_defaults(model, "cpu")
    assert d.sampler == Sampler(steps=16, guidance=3.5, apg=False)
    assert app_defaults(model, "cuda").sampler.steps == CUDA_STEPS
