"""`demo.zerogpu`: the seconds a ZeroGPU Space reserves per handler, from counted FLOPs, and the
decorator that asks for them (only on such a Space); `Models.on_gpu` reads a handler's values."""

import math
import sys
import types
from dataclasses import replace

import pytest
import torch
from paths import REFERENCE

from demo import zerogpu
from demo.defaults import app_defaults
from demo.models import Models
from demo.paths import DEMO_MODEL
from demo.service import DemoService
from demo.zerogpu import estimate_gpu_seconds, estimate_tokenize_seconds
from videoflextok_core.flops import model_flops
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.config import parse_config
from videoflextok_core.model.sampling import Sampler

REAL = parse_config((REFERENCE / "real_config_inferred.json").read_text())
GUIDED = Sampler(steps=25, guidance=20.0, apg=True)


@pytest.fixture(scope="module")
def service(tiny_model, tmp_path_factory):
    return DemoService(tiny_model, workdir=tmp_path_factory.mktemp("service"))


def test_gpu_seconds_estimate_from_counted_flops():
    flops = model_flops(REAL)
    work = flops.tokenize(33) + flops.detokenize(33, GUIDED)  # 0.73 PFLOP
    gpu = work / (zerogpu.ZEROGPU_PEAK_TFLOPS * 1e12 * zerogpu.ZEROGPU_EFFICIENCY)
    host = zerogpu.GPU_SECONDS_FIXED + 2 * zerogpu.GPU_SECONDS_PER_CHUNK
    one = estimate_gpu_seconds(REAL, 33, GUIDED)
    assert one == math.ceil(gpu + host) == 16
    assert estimate_gpu_seconds(REAL, 33, Sampler(steps=25)) < one  # one forward per step
    assert estimate_gpu_seconds(REAL, 49, GUIDED) > one
    assert estimate_gpu_seconds(REAL, 33, replace(GUIDED, steps=50)) > one
    assert estimate_gpu_seconds(REAL, 33, GUIDED, budgets=9) > 3 * one
    assert estimate_tokenize_seconds(REAL, 33) < one
    # tokenizing is one pass per chunk: 129 frames (63 TFLOP) add half a second to the fixed part
    assert estimate_tokenize_seconds(REAL, 129) == 11


def test_gpu_seconds_stay_under_the_cap():
    with torch.device("meta"):  # the released model's page on a GPU: 129 frames, 25 steps
        longest = app_defaults(VideoFlexTok(REAL), device="cuda")
    worst = estimate_gpu_seconds(REAL, longest.frame_choices[-1], longest.sampler, budgets=9)
    assert worst < zerogpu.GPU_MAX_SECONDS
    absurd = Sampler(steps=1000, guidance=20.0)
    assert estimate_gpu_seconds(REAL, 129, absurd, budgets=9) == zerogpu.GPU_MAX_SECONDS


def test_the_table(service):
    r = service.request(k=4, sampler=GUIDED, start=0.0, length=17)
    config = service.model.config
    assert zerogpu.reconstruct(service, r) == 11 == estimate_gpu_seconds(config, 17, GUIDED)
    assert zerogpu.curve(service, r) == estimate_gpu_seconds(config, 17, GUIDED, budgets=5)
    assert zerogpu.curve(service, r) > zerogpu.reconstruct(service, r)
    assert zerogpu.seeds(service, r) == estimate_gpu_seconds(config, 17, GUIDED, budgets=4)
    assert zerogpu.tokenize(service, r) == estimate_tokenize_seconds(config, 17) == 11
    longest = replace(r, frames=65)
    assert zerogpu.decode_tokens(service, r) == zerogpu.reconstruct(service, longest)
    assert zerogpu.reconstruct(service, r) < estimate_gpu_seconds(REAL, 17, GUIDED)


def test_gpu_task_only_on_zero_gpu(monkeypatch):
    def fn():
        return 1

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.gpu_task(lambda: 5)(fn) is fn and not zerogpu.on_zero_gpu()
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # set, but `spaces` not installed
    assert not zerogpu.on_zero_gpu() and zerogpu.gpu_task(lambda: 5)(fn) is fn
    seen = {}
    spaces = types.SimpleNamespace(GPU=lambda duration: lambda f: seen.update(d=duration) or f)
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    duration = object()
    assert zerogpu.on_zero_gpu() and zerogpu.gpu_task(duration)(fn) is fn and seen["d"] is duration


def test_a_handlers_duration_reads_its_own_values(service, monkeypatch):
    """`Models.on_gpu`: the duration function gets the handler's arguments (positional or by
    name), reads them by the handler's parameter names, never fails, and adds the load time of
    a model not loaded yet."""
    durations = {}
    spaces = types.SimpleNamespace(
        GPU=lambda duration: lambda f: durations.setdefault(f, duration) and f
    )
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", spaces)
    models = Models(service, [str(DEMO_MODEL)])

    @models.on_gpu(zerogpu.reconstruct)
    def reconstruct(video, k, guidance, steps, seed, apg, start, length, model, progress=None):
        raise AssertionError("not called here")

    seconds = durations[reconstruct]
    long = service.request(length=65, sampler=GUIDED)
    values = (None, 4, 20.0, 25, 0, True, 0.0)
    assert seconds(*values, 65, "(in memory)") == zerogpu.reconstruct(service, long)
    assert seconds(*values, length=17, model=None, progress=object()) == 11
    bad = (None, 4, 20.0, 0.0, 0, True, 0.0, 17, None)  # steps 0: the defaults' reservation
    assert seconds(*bad) == zerogpu.reconstruct(service, service.request())
    unloaded = seconds(*values, 17, "assets/demo-model")
    assert unloaded == 11 + zerogpu.GPU_SECONDS_LOAD
    assert seconds(*values, 17, "nope") == 11  # an unknown model: the handler says so
