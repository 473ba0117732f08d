"""`demo.warm_up.warm_up`: the examples decoded as background work, stopped where one is too slow
here, and never in a visitor's way (the last test, timed: a request made during the warm-up of
a deliberately slow model is answered within 1.5 times its time alone)."""

import json
import math
import shutil
import threading
import time

import pytest
from paths import EXAMPLE, EXAMPLES, TINY

from demo.service import DemoService
from demo.warm_up import warm_up
from videoflextok_core.flops import model_flops
from videoflextok_core.model import VideoFlexTok

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = 1e18  # FLOP/s: every example estimated at ~0 s, so the limit alone decides


@pytest.fixture
def service(tiny_model, tmp_path):
    return DemoService(tiny_model, workdir=tmp_path / "work")


@pytest.fixture
def examples(tmp_path):
    """A folder of two example clips."""
    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("scene_1_seed1000003.mp4", "scene_2_seed1000008.mp4"):
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def test_warm_up_decodes_the_examples_and_skips_a_broken_one(service, tmp_path):
    folder = tmp_path / "examples"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "a.mp4")
    (folder / "b.mp4").write_text("not a video")  # skipped: it shows its message when clicked
    lines = []
    report = warm_up(service, folder, limit=math.inf, log=lines.append)
    assert [e.name for e in report.done] == ["a.mp4"] and report.broken == ("b.mp4",)
    assert report.stopped is None and report.done[0].paused == 0  # nobody came
    assert service.reconstruct(service.request(video=folder / "a.mp4")).stats.cached
    assert lines[0].startswith("warm-up: a.mp4 in ") and "b.mp4 skipped" in lines[1]
    assert lines[-1] == "warm-up: done, 1 of 2 examples in the cache"


def test_each_example_is_estimated_at_the_rate_measured_on_the_one_before(service, examples):
    report = warm_up(service, examples, limit=math.inf, rate=FAST, log=lambda line: None)
    first, second = report.done
    assert first.estimate < 1e-3  # at the given rate
    assert second.estimate == pytest.approx(first.seconds)  # same FLOPs at the measured rate


def test_warm_up_stops_before_an_example_estimated_over_the_limit(service, examples):
    lines = []
    report = warm_up(service, examples, rate=1e8, log=lines.append)  # 0.1 GFLOP/s
    assert report.done == () and len(service.store.clips) == 0  # nothing ran
    flops = model_flops(service.model.config).reconstruct(17, service.defaults.sampler)
    assert flops / 1e8 > 10
    assert report.stopped == (
        f"scene_1_seed1000003.mp4 would take about {flops / 1e8:,.0f} s here "
        f"({flops / 1e9:,.0f} GFLOP at 0.1 GFLOP/s), over the 10 s limit"
    )
    assert lines == [f"warm-up stopped: {report.stopped}; examples decode when clicked"]


def test_an_example_past_the_limit_is_abandoned_at_its_next_step(service, examples):
    lines = []
    report = warm_up(service, examples, limit=1e-6, rate=FAST, log=lines.append)
    assert (
        report.done == () and report.stopped == "scene_1_seed1000003.mp4 ran past the 1e-06 s limit"
    )
    assert lines == [f"warm-up stopped: {report.stopped}; examples decode when clicked"]
    assert len(service.store.decodes) == 0 and not service.queue.busy_in_background
    request = service.request(video=examples / "scene_1_seed1000003.mp4")
    assert not service.reconstruct(request).stats.cached  # the device is free again


# ---------------------------------------------------------------------------------------------
# Timed: a visitor during the warm-up of a slow model
# ---------------------------------------------------------------------------------------------

SLOW_STEPS = 400  # the slow model's page default: decoding is most of a request
RATIO = 1.5  # the bound on a request made during the warm-up, against it alone
SLACK = 0.5  # seconds of CPU noise on a busy machine, beyond the ratio


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory, one_thread):
    """The tiny checkpoint with 400 steps (guidance 20 + APG) as its page default: a real model
    whose decode is most of a request (beside reading the clip and writing three files), and
    whose longest step the warm-up cannot interrupt (a chunk's VAE decode, about 9 guided steps)
    is small beside it, on a fast CPU or a slow one. A warm-up that held the device through its
    decode would make a request made at its start take about 1.8 times as long."""
    folder = tmp_path_factory.mktemp("slow-model")
    config = json.loads((TINY / "config.json").read_text())
    config["demo_defaults"] = {
        "timesteps": SLOW_STEPS,
        "guidance_scale": 20.0,
        "perform_norm_guidance": True,
    }
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(TINY / "model.safetensors", folder / "model.safetensors")
    model = VideoFlexTok.from_pretrained(folder, device="cpu")
    model_flops(model.config)  # counted now (cached), not in the warm-up's first step
    return model


@pytest.mark.e2e  # about 5 requests of the slow model: a few seconds to minutes on a busy CPU
def test_a_request_during_the_warm_up_takes_at_most_one_and_a_half_times_as_long(
    slow_model, tmp_path
):
    service = DemoService(slow_model, workdir=tmp_path / "work")
    one = tmp_path / "one-example"  # it runs all through the request made during it
    one.mkdir()
    shutil.copy(EXAMPLE, one)
    clips = [next(EXAMPLES.glob(f"bbb_{i}_*.mp4")) for i in (1, 2, 3, 4)]  # 4 other clips

    def request_seconds(clip) -> float:
        t0 = time.perf_counter()
        r = service.reconstruct(service.request(video=clip))
        assert not r.stats.cached  # a new clip: tokenized and decoded
        return time.perf_counter() - t0

    request_seconds(clips[0])  # the first call's one-time costs, not measured
    before = request_seconds(clips[1])
    reports, lines = [], []
    options = {"limit": math.inf, "rate": FAST, "log": lines.append}
    warming = threading.Thread(target=lambda: reports.append(warm_up(service, one, **options)))
    warming.start()
    end = time.monotonic() + 60
    # its example tokenized (a third clip in the cache), its decode under way
    while not (len(service.store.clips) == 3 and service.queue.busy_in_background):
        assert time.monotonic() < end and warming.is_alive(), "the warm-up never started"
        time.sleep(0.001)
    during = request_seconds(clips[2])  # made while the warm-up decodes
    warming.join()
    after = request_seconds(clips[3])
    (example,) = reports[0].done
    assert example.paused > 0  # it handed the device over: the request came during it
    alone = max(before, after)  # the machine's speed drifts: the slower of the two
    print(f"alone {before:.2f} s and {after:.2f} s; during the warm-up {during:.2f} s;", lines)
    assert during <= RATIO * alone + SLACK, (before, during, after, example)
