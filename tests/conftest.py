"""Shared pytest fixtures: the models, a thread setting, clips written on demand, a bare Python.

Paths live in `paths.py`, clip writers in `clips.py`, the bare Python's environment in `bare.py`.
A test that starts processes, servers, a browser or Ray, or trains, carries the `e2e` mark in its
own file (`pytestmark` or a decorator); `pytest -m "not e2e"` is the fast subset.
"""

import os

# Waiting OpenMP threads sleep instead of spinning (set before torch is imported): on a busy
# 2-core machine spinning threads made small models up to 10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from bare import bare_env  # noqa: E402
from clips import write_clip  # noqa: E402
from paths import TINY  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "e2e: starts processes, servers, a browser or Ray, or trains "
        '(CI runs everything; `-m "not e2e"` is the fast subset)',
    )
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one)")


# ---------------------------------------------------------------------------------------------
# Models: the tiny reference checkpoint and the shipped demo model, each loaded once per module
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_thread():
    """Two torch threads on two cores shared with other jobs spin-wait: 10x slower here. A module
    opts in with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny_model(one_thread):
    """The tiny reference checkpoint (random weights, 32x48, 16 tokens per frame) on the CPU,
    shared by a module: do not change it (a test that sets its precision loads its own)."""
    from videoflextok_core.model import VideoFlexTok

    return VideoFlexTok.from_pretrained(TINY, device="cpu")


@pytest.fixture(scope="module")
def demo_model():
    """The shipped demo model (assets/demo-model) on the CPU."""
    from demo.paths import DEMO_MODEL
    from videoflextok_core.model import VideoFlexTok

    return VideoFlexTok.from_pretrained(DEMO_MODEL, device="cpu")


@pytest.fixture
def bare_python(tmp_path):
    """Environment for a subprocess that cannot import PyAV, gradio, plotly or Pillow, as on a
    lent GPU machine (whose python3 has torch, safetensors and numpy only): `bare.bare_env`."""
    return bare_env(tmp_path)


@pytest.fixture
def make_clip(tmp_path):
    """Factory: make_clip(name, frames, **write_clip kwargs) -> path under tmp_path."""

    def make(name, frames, **kwargs):
        return write_clip(tmp_path / name, frames, **kwargs)

    return make
