"""Shared pytest fixtures and paths."""

import os

# Waiting OpenMP threads sleep instead of spinning (set before torch is imported): on a busy
# 2-core machine spinning threads made small models up to 10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
VIDEOS = SHARED / "videos"
TINY = REFERENCE / "tiny"  # reference checkpoint: random weights, 32x48, 16 tokens per frame, fast


# The end-to-end tests, named in one place: whole folders or modules, and single tests
# ("path::name"), relative to tests/. Everything else is the fast subset (`-m "not e2e"`), except
# the golden replay of the nine variant fixtures, marked where they are listed (test_golden.py).
E2E = (
    "app/",  # a real Gradio server per module, gradio_client, Chromium
    "dataset/test_dataset.py",  # a local Ray cluster
    "training/",  # the training pipeline, the demo model's quality on held-out and real clips
    "test_cli.py",  # `python -m videoflextok_core` in subprocesses
    "test_package.py",  # `pip install .` into a fresh venv, the installed command
    "test_bench_real.py::test_cpu_run_at_reduced_depth",  # benchmarks/bench_real.py, ~40 s
    "test_gpu_check.py::test_the_issue_command_runs_every_section_on_a_bare_cpu",  # ~70 s
    "test_gpu_check.py::test_rows_that_do_not_fit_are_skipped_and_said",  # subprocess
    "test_gpu_check.py::test_the_watchdog_leaves_the_json_and_stops",  # subprocess
    "model/test_checkpoint.py::test_hub_repo_id_from_the_huggingface_cache_offline",  # subprocess
    "synthetic/test_synthetic.py::test_same_bytes_in_a_fresh_process",  # subprocess
    "test_seeds.py::test_spread_shrinks_as_k_grows_on_the_demo_model",  # 12 s of demo decodes
)


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).parent
    for item in items:
        path = item.path.relative_to(tests).as_posix()
        name = f"{path}::{getattr(item, 'originalname', item.name)}"
        if any(path.startswith(e) if e.endswith("/") else e in (path, name) for e in E2E):
            item.add_marker(pytest.mark.e2e)


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
def model(one_thread):
    """The tiny reference checkpoint (random weights, 32x48, 16 tokens per frame) on the CPU."""
    from videoflextok_core.model import VideoFlexTok

    return VideoFlexTok.from_pretrained(TINY, device="cpu")


@pytest.fixture(scope="module")
def demo_model():
    """The shipped demo model (assets/demo-model) on the CPU."""
    from demo.paths import DEMO_MODEL
    from videoflextok_core.model import VideoFlexTok

    return VideoFlexTok.from_pretrained(DEMO_MODEL, device="cpu")


# ---------------------------------------------------------------------------------------------
# A bare Python, as on a lent GPU machine: torch, safetensors and numpy, no media or UI packages
# ---------------------------------------------------------------------------------------------

BARE_BLOCKED = ("av", "gradio", "plotly", "PIL")  # what a lent GPU machine's python3 lacks
_BLOCKER = """import sys


class _Blocked:
    \"\"\"Refuse every import of the packages a bare GPU machine does not have.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"import of {{name}} halted (bare_python)", name=name)
        return None


sys.meta_path.insert(0, _Blocked())
"""


@pytest.fixture
def bare_python(tmp_path):
    """Environment for a subprocess that cannot import `BARE_BLOCKED`: a `sitecustomize` on
    PYTHONPATH puts a meta-path finder first that refuses them, so a plain `python3 script.py`
    runs as on a lent GPU machine (whose python3 has torch, safetensors and numpy only)."""
    site = tmp_path / "bare_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_BLOCKER.format(blocked=set(BARE_BLOCKED)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    return env


# ---------------------------------------------------------------------------------------------
# Clips made with PyAV (video tests)
# ---------------------------------------------------------------------------------------------


def write_clip(
    path,
    frames,
    fps=24,
    codec="libx264",
    pix_fmt="yuv420p",
    pts_ms=None,
    rotation=None,
    fmt=None,
    options=None,
):
    """Encode uint8 RGB frames [T, H, W, 3] into `path` with PyAV and return the path.

    `pts_ms` gives each frame's time in milliseconds (variable frame rate); `rotation` sets the
    display matrix (degrees counter-clockwise, as `VideoFrame.rotation` reads it back).
    """
    from fractions import Fraction

    import av

    T, H, W, _ = frames.shape
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        if options:
            stream.options = options
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pix_fmt != "rgb24":
                frame = frame.reformat(format=pix_fmt)
            if pts_ms is not None:
                frame.pts, frame.time_base = int(pts_ms[i]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_audio_only(path, fmt=None):
    """An AAC file with no video stream (8 silent frames at 16 kHz) at `path`; returns it."""
    import av
    import numpy as np

    with av.open(str(path), mode="w", format=fmt) as out:
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


@pytest.fixture
def make_clip(tmp_path):
    """Factory: make_clip(name, frames, **write_clip kwargs) -> path under tmp_path."""

    def make(name, frames, **kwargs):
        return write_clip(tmp_path / name, frames, **kwargs)

    return make
