"""The page built in this process, not launched (as Spaces import it): its named API (names,
order, defaults), its queue, and its ZeroGPU tasks. The tiny model starts (given in code, so
its name is "(in memory)"), the demo model is the second choice. The API served over HTTP:
test_app.py; the page in a browser: test_app_browser.py."""

import importlib
import sys
import types

import pytest
from paths import ROOT

from demo import zerogpu
from demo.models import Models
from demo.paths import DEMO_MODEL
from demo.service import DemoService

pytestmark = pytest.mark.usefixtures("one_thread")

# The named API: per endpoint, (parameter, default or None if required, component), in order,
# and what it returns. Defaults are the page's for the start-up model (the tiny one: N = 16).
VIDEO, FILE = ("video", None, "Video"), ("tokens_file", None, "File")
K, GUIDANCE, STEPS = ("k", 4, "Slider"), ("guidance", 20.0, "Slider"), ("steps", 25, "Slider")
SEED, APG = ("seed", 0, "Number"), ("apg", True, "Checkbox")
START, LENGTH = ("start", 0, "Number"), ("length", 17, "Dropdown")
SEEDS, MODEL = ("seeds", 4, "Slider"), ("model", "(in memory)", "Dropdown")
API = {
    "/tokenize": ([VIDEO, START, LENGTH, MODEL], ["File", "Markdown"]),
    "/reconstruct": (
        [VIDEO, K, GUIDANCE, STEPS, SEED, APG, START, LENGTH, MODEL],
        ["Video", "Markdown"],
    ),
    "/curve": ([VIDEO, GUIDANCE, STEPS, SEED, APG, START, LENGTH, K, MODEL], ["File", "Plot"]),
    "/seeds": (
        [VIDEO, K, GUIDANCE, STEPS, SEED, APG, SEEDS, START, LENGTH, MODEL],
        ["Video", "Image", "Markdown"],
    ),
    "/decode_tokens": ([FILE, K, GUIDANCE, STEPS, SEED, APG, MODEL], ["Video", "Markdown"]),
}
GPU_TASKS = ("tokenize", "reconstruct", "curve", "seeds", "decode_tokens", "select_model")
FOLLOW_UPS = ("views", "grid", "spread_curve")  # no model call, but on the device's queue


@pytest.fixture(scope="module")
def service(tiny_model, tmp_path_factory):
    return DemoService(tiny_model, workdir=tmp_path_factory.mktemp("service"))


@pytest.fixture(scope="module")
def models(service):
    return Models(service, [str(DEMO_MODEL)])


@pytest.fixture(scope="module")
def app():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("app")


@pytest.fixture(scope="module")
def page(app, models):
    return app.build_demo(models)


def test_the_named_api(page):
    """What /info lists: the same endpoints, parameter names, order, defaults and outputs as
    before the handlers took their own signatures (the release's API)."""
    named = page.get_api_info()["named_endpoints"]
    assert set(named) == set(API)
    for name, (parameters, returns) in API.items():
        got = []
        for p in named[name]["parameters"]:
            default = p["parameter_default"] if p["parameter_has_default"] else None
            got.append((p["parameter_name"], default, p["component"]))
        assert got == parameters, name
        assert [r["component"] for r in named[name]["returns"]] == returns, name


def test_queue_runs_one_model_call_at_a_time(page):
    fns = {fn.api_name: fn for fn in page.fns.values()}
    for name in (*GPU_TASKS, *FOLLOW_UPS):
        assert fns[name].queue and fns[name].concurrency_limit == 1, name
        assert fns[name].concurrency_id == "device", name
    public = {n for n, fn in fns.items() if fn.api_visibility == "public"}
    assert public == {"tokenize", "reconstruct", "curve", "seeds", "decode_tokens"}


def test_zero_gpu_wraps_every_model_call(app, service, models, monkeypatch):
    """On a ZeroGPU Space each handler that may run (or load) a model is a `spaces.GPU` task;
    its duration reads the page's values by the handler's own parameters, as the handler does,
    and adds the load time of a model not loaded yet."""
    durations = {}

    def gpu(duration):
        def wrap(fn):
            durations[fn.__name__] = duration
            return fn

        return wrap

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    fns = {fn.api_name: fn for fn in app.build_demo(models).fns.values()}
    assert set(durations) == set(GPU_TASKS)

    def values(name, length=None, model=None):  # the page's values in the event's input order
        swap = {"Clip length (frames)": length, "Model": model}
        return [swap[c.label] or c.value if c.label in swap else c.value for c in fns[name].inputs]

    long = service.request(length=65)
    for name in ("tokenize", "reconstruct", "curve", "seeds"):
        seconds = getattr(zerogpu, name)
        assert durations[name](*values(name, 65)) == seconds(service, long), name
        short = durations[name](*values(name, 17))
        assert 0 < short <= seconds(service, long), name  # the tiny model: mostly the fixed part
        if name != "tokenize":
            assert short < seconds(service, long), name
    curve = durations["curve"](*values("curve", 65), app.PROGRESS)  # Gradio adds the bar
    assert curve == zerogpu.curve(service, long)
    assert durations["decode_tokens"](*values("decode_tokens")) == zerogpu.decode_tokens(
        service, long
    )
    bad = values("reconstruct", 17)
    bad[3] = 0.0  # steps: not a valid value, so the defaults' reservation (it must never fail)
    assert durations["reconstruct"](*bad) == zerogpu.reconstruct(service, service.request())
    assert zerogpu.seeds(service, long) > zerogpu.reconstruct(service, long)  # 4 seeds: 4 decodes
    unloaded = durations["reconstruct"](*values("reconstruct", 17, "assets/demo-model"))
    assert unloaded == zerogpu.reconstruct(service, service.request()) + models.load_seconds(
        "assets/demo-model"
    )
    assert models.load_seconds("assets/demo-model") > 0 and models.load_seconds(None) == 0
