"""Which model the app starts with (`demo.startup.choose_model`): --model, the environment, the
released model on a GPU, the demo model on a CPU; and a start-up that survives the real release:
on a GPU, a released model that cannot be had or loaded — a refused config, a download error,
out of memory at load — gives the demo model with a notice saying what failed and how to fix
it, and the full error in the log; an explicit --model still fails loudly. The GPU branch runs
on this CPU through `choose_model`'s `loader` (real checkpoints, loaded on the CPU)."""

import json
import logging
import shutil

import huggingface_hub.constants
import pytest
import torch
from paths import TINY

from demo import startup
from demo.startup import MODEL_ENV, choose_model
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import CheckpointError
from videoflextok_core.model.config import UnsupportedConfigError
from videoflextok_core.model.precision import Precision

pytestmark = pytest.mark.usefixtures("one_thread")


def load_cpu(ref, device, precision):
    """A real loader that runs the GPU branch of the policy on this CPU."""
    return VideoFlexTok.from_pretrained(ref, device="cpu", precision=precision)


@pytest.fixture
def refused(tmp_path):
    """A real checkpoint directory (the tiny one) whose config.json names an unknown class."""
    folder = tmp_path / "refused"
    shutil.copytree(TINY, folder)
    config = json.loads((folder / "config.json").read_text())
    config["video_flex_tok"]["vae"]["_target_"] = "somewhere.else.FancyVAE"
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def fallback(hub_ref, loader=load_cpu, **kw):
    model, choice = choose_model(
        None, "cuda", env={}, hub_ref=hub_ref, demo_ref=TINY, loader=loader, **kw
    )
    assert choice.reason == "fallback" and choice.ref == str(TINY)
    assert isinstance(model, VideoFlexTok) and "demo model" in choice.notice
    return model, choice


def logged_error(caplog, exc_type) -> logging.LogRecord:
    """The one error record of demo.startup, carrying the whole exception."""
    records = [r for r in caplog.records if r.name == "demo.startup"]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert records[0].exc_info and isinstance(records[0].exc_info[1], exc_type)
    assert "Traceback" in caplog.text  # the full error, not just its message
    return records[0]


def test_refused_config_serves_the_demo_model(refused, caplog):
    with caplog.at_level(logging.ERROR, "demo.startup"):
        _, choice = fallback(str(refused))
    assert f"the config of {refused} is refused" in choice.notice
    assert "somewhere.else.FancyVAE" in choice.notice and "`--model PATH`" in choice.notice
    logged_error(caplog, UnsupportedConfigError)


def test_download_error_serves_the_demo_model(monkeypatch, tmp_path, caplog):
    # offline, as on a Space without Hub access; huggingface_hub reads the variable at import
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with caplog.at_level(logging.ERROR, "demo.startup"):
        _, choice = fallback("videoflextok-tests/no-such-model")
    assert "videoflextok-tests/no-such-model could not be loaded" in choice.notice
    assert "HF_HUB_OFFLINE" in choice.notice and "`--model PATH`" in choice.notice
    logged_error(caplog, CheckpointError)


def test_out_of_memory_at_load_serves_the_demo_model(tmp_path, caplog):
    """A CPU cannot run out of GPU memory, so this loader reads a whole checkpoint for real (a
    copy of the tiny one stands for the release) and then raises the real
    torch.OutOfMemoryError, as `from_pretrained` does on a GPU that is too small."""
    released = shutil.copytree(TINY, tmp_path / "released")
    loads = []

    def loader(ref, device, precision):
        model = load_cpu(ref, device, precision)
        loads.append(ref)
        if ref == str(released):
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 5.40 GiB. GPU 0 has a total capacity of "
                "22.05 GiB of which 1.21 GiB is free."
            )
        return model

    with caplog.at_level(logging.ERROR, "demo.startup"):
        _, choice = fallback(str(released), loader)
    assert loads == [str(released), str(TINY)]
    assert (
        "ran out of GPU memory" in choice.notice and "Tried to allocate 5.40 GiB" in choice.notice
    )
    assert "--model EPFL-VILAB/videoflextok_d18_d18_k600" in choice.notice
    logged_error(caplog, torch.OutOfMemoryError)


def test_an_explicit_model_still_fails_loudly(refused):
    with pytest.raises(UnsupportedConfigError, match="FancyVAE"):
        choose_model(str(refused), "cpu", env={})
    with pytest.raises(UnsupportedConfigError, match="FancyVAE"):
        choose_model(str(refused), "cuda", env={}, loader=load_cpu)
    with pytest.raises(UnsupportedConfigError):
        choose_model(None, "cuda", env={MODEL_ENV: str(refused)}, loader=load_cpu)


def test_precision_is_set_on_the_model_and_named_in_the_notice():
    model, choice = choose_model(str(TINY), "cpu", env={}, precision="bf16")
    assert model.precision == Precision.resolve("bf16", "cpu")
    assert "bf16 autocast (bf16: asked)" in choice.notice
    model, choice = choose_model(None, "cpu", env={}, demo_ref=TINY, precision="auto")
    assert model.precision == Precision.resolve("auto", "cpu")
    assert str(model.precision) in choice.notice


def test_a_bad_precision_is_refused_before_anything_loads():
    loads = []

    def loader(ref, device, precision):
        loads.append(ref)
        return load_cpu(ref, device, precision)

    with pytest.raises(ValueError, match="'fp16'"):
        choose_model(str(TINY), "cuda", env={}, loader=loader, precision="fp16")
    assert loads == []


def test_explicit_model_flag_and_env():
    _, choice = choose_model(str(TINY), "cpu", env={})
    assert choice.reason == "flag" and "tiny" in choice.notice and "--model" in choice.notice
    _, choice = choose_model(None, "cpu", env={MODEL_ENV: str(TINY)})
    assert choice.reason == "env" and MODEL_ENV in choice.notice


def test_gpu_uses_the_hub_model():
    model, choice = choose_model(None, "cuda", env={}, hub_ref=str(TINY), loader=load_cpu)
    assert choice.reason == "gpu" and choice.ref == str(TINY)
    # the model runs on this CPU (the loader's), in what `auto` means here
    assert "released model" in choice.notice and str(model.precision) in choice.notice


def test_gpu_without_hub_access_falls_back_to_the_demo_model():
    # A ref that cannot be had: from_pretrained raises CheckpointError, as offline or no access.
    model, choice = choose_model(
        None, "cuda", env={}, hub_ref="not/a/repo", demo_ref=TINY, loader=load_cpu
    )
    assert choice.reason == "fallback" and choice.ref == str(TINY)
    assert "demo model" in choice.notice and "not/a/repo could not be loaded" in choice.notice
    assert isinstance(model, VideoFlexTok)


def test_cpu_runs_the_demo_model_and_says_why():
    _, choice = choose_model(None, "cpu", env={}, demo_ref=TINY)
    assert choice.reason == "cpu" and "no GPU" in choice.notice
    assert f"--model {startup.HUB_MODEL}" in choice.notice  # how to get the released one


def test_missing_demo_model_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="pass --model|Pass --model"):
        choose_model(None, "cpu", env={}, demo_ref=tmp_path / "nowhere")


def test_unusable_device():
    with pytest.raises(ValueError, match="not usable here"):
        choose_model(str(TINY), "nodevice", env={})
