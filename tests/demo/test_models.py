"""The model choices (`demo.models`): which models are offered, lazy loading with progress, at
most two loaded (the least recently used goes and its memory with it), one load at a time.

Real checkpoints: the tiny reference (32x48, 16 tokens per frame), the shipped demo model (64x64,
64 tokens) and a copy of the tiny one under another name (a third model, Hub layout)."""

import gc
import shutil
import threading
import weakref

import pytest
from paths import TINY

from demo import models as demo_models
from demo import zerogpu
from demo.models import CPU_WARNING, RELEASED, Models, model_refs
from demo.paths import DEMO_MODEL
from demo.service import DemoService
from demo.startup import HUB_MODEL, ModelChoice
from videoflextok_core.model import VideoFlexTok

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def third(tmp_path):
    """A second small checkpoint in the Hub layout (config.json + model.safetensors)."""
    return shutil.copytree(TINY, tmp_path / "tiny-copy", ignore=shutil.ignore_patterns("golden*"))


def tiny_service(tiny_model) -> DemoService:
    """The start-up service: the tiny model, loaded with --model."""
    return DemoService(tiny_model, ModelChoice(str(TINY), "cpu", "flag", "Running tiny."))


@pytest.fixture
def models(tiny_model, third):
    first = tiny_service(tiny_model)
    return Models(first, model_refs(str(TINY), "cpu", [str(DEMO_MODEL), str(third)], env={}))


def test_choices_by_device_flag_and_env():
    assert model_refs("x/start", "cpu", env={}) == ["x/start"]  # released ones: GPU only
    on_gpu = model_refs(HUB_MODEL, "cuda", env={})
    assert on_gpu == [*RELEASED, str(DEMO_MODEL)]  # the start-up model first, once
    env = {demo_models.MODELS_ENV: f" {TINY}, {DEMO_MODEL} "}
    assert model_refs(str(DEMO_MODEL), "cpu", env=env) == [str(DEMO_MODEL), str(TINY)]
    assert model_refs("a", "cpu", ["b", "a"], env=env) == ["a", "b"]  # the flag wins


def test_names_default_and_unknown_model(models, third):
    assert models.names == ["tiny", "assets/demo-model", "tiny-copy"]
    assert models.default == "tiny" and models.option(None).name == "tiny"
    with pytest.raises(ValueError, match="unknown model 'nope': choose one of tiny, "):
        models.service("nope")


def test_released_models_on_a_cpu_carry_a_warning(tiny_model):
    offered = Models(tiny_service(tiny_model), [str(TINY), HUB_MODEL])
    assert offered.option(HUB_MODEL).note == CPU_WARNING and offered.option("tiny").note == ""


def test_lazy_load_with_progress_and_lru_of_two(models, tiny_model):
    seen = []
    assert models.loaded("assets/demo-model") is None and models.setup("assets/demo-model") is None
    assert models.load_seconds("assets/demo-model") == zerogpu.GPU_SECONDS_LOAD
    demo = models.service("assets/demo-model", lambda f, m: seen.append((f, m)))
    assert seen == [
        (0.0, "loading assets/demo-model (first use)"),
        (1.0, "loaded assets/demo-model"),
    ]
    assert demo.model.resolution == (64, 64) and demo.model.n_registers == 64  # not the tiny's
    assert (
        models.service("assets/demo-model") is demo
        and models.load_seconds("assets/demo-model") == 0
    )
    assert models.setup("assets/demo-model").n_registers == 64

    first = models.service("tiny")  # now the most recently used
    demo_model = weakref.ref(demo.model)
    workdir = demo.workdir
    del demo
    models.service("tiny-copy")  # a third model: the least recently used (demo) goes
    gc.collect()
    assert models.loaded("assets/demo-model") is None and demo_model() is None  # memory released
    assert not workdir.exists()
    assert models.loaded("tiny") is first and models.loaded("tiny-copy") is not None
    assert models.setup("assets/demo-model").n_registers == 64  # still known to the page


def test_one_load_at_a_time(tiny_model, third):
    calls = []

    def loader(ref, device, precision):
        calls.append(ref)
        return VideoFlexTok.from_pretrained(ref, device=device, precision=precision)

    models = Models(tiny_service(tiny_model), [str(third)], loader=loader)
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(models.service("tiny-copy"))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [str(third)] and got[0] is got[1]


def test_every_model_shares_the_device_queue_and_a_load_takes_a_turn(models):
    """A load waits like a visitor's model call: background work (the warm-up) gives way."""
    got = []
    with models.queue.background():
        loading = threading.Thread(target=lambda: got.append(models.service("tiny-copy")))
        loading.start()
        while models.queue.waiting == 0:  # the load waits for the device
            assert loading.is_alive()
            loading.join(0.005)
        assert got == []
        models.queue.pause_point()  # hands over; resumes once the weights are read
    loading.join()
    assert len(got) == 1 and got[0].queue is models.queue is models.first.queue
