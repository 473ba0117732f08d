"""What the demo app runs with: which model (and why), on which device, the page's defaults, and
how long a ZeroGPU Space reserves a GPU per handler (the page's values: `request.py`).

    from demo.startup import app_defaults, load_model
    model, choice = load_model()              # --model / $VIDEOFLEXTOK_MODEL / GPU / CPU policy
    choice.notice                             # one Markdown paragraph for the top of the page
    app_defaults(model).k                     # the k the page starts with

`demo.DemoService` wraps the loaded model; `app.py` wraps handlers with `gpu_task`.
"""

import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from videoflextok_core.device import check_device, default_device
from videoflextok_core.flops import BF16_PEAK_TFLOPS, model_flops
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import CheckpointError
from videoflextok_core.model.config import UnsupportedConfigError
from videoflextok_core.model.precision import Precision
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.model.specs import ModelConfig

from .paths import DEMO_MODEL

log = logging.getLogger(__name__)

HUB_MODEL = "EPFL-VILAB/videoflextok_d18_d28"  # the default on a GPU
SMALLER_HUB_MODEL = "EPFL-VILAB/videoflextok_d18_d18_k600"  # 18 decoder layers instead of 28
MODEL_ENV = "VIDEOFLEXTOK_MODEL"
RELEASED_GUIDANCE = 20.0  # released models' guidance (with APG), as in the official notebook
CUDA_STEPS = 25  # Euler steps on a GPU: near the official 30, about a second per chunk
MAX_CHUNKS = {"cuda": 8, "cpu": 4}  # longest clip offered: 129 frames on a GPU, 65 on a CPU
DEFAULT_CHUNKS = {"cuda": 2, "cpu": 1}  # clip length preselected: 33 / 17 frames


# ---------------------------------------------------------------------------------------------
# Which model runs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelChoice:
    """What `load_model` loaded and why; `notice` is shown at the top of the page."""

    ref: str  # as loaded: a directory, a .safetensors file or a Hub id
    device: str  # "cpu", "cuda", ...
    reason: str  # "flag", "env", "gpu", "cpu" or "fallback"
    notice: str  # Markdown, one paragraph


def display_name(ref: str | Path) -> str:
    """How the page names a model: "assets/demo-model", a directory's name, or the Hub id."""
    path = Path(ref)
    if path.exists():
        return "assets/demo-model" if path.resolve() == DEMO_MODEL.resolve() else path.name
    return str(ref)


def load_model(
    ref: str | None = None,
    device: str | None = None,
    env: Mapping[str, str] | None = None,
    hub_ref: str = HUB_MODEL,
    demo_ref: str | Path = DEMO_MODEL,
    loader: Callable[[str, str], VideoFlexTok] | None = None,
    precision: str = "auto",
) -> tuple[VideoFlexTok, ModelChoice]:
    """Load the app's model, once, by this policy:

    1. `ref` (--model), else `$VIDEOFLEXTOK_MODEL`: that model, errors are fatal.
    2. On a GPU: `hub_ref`; if it cannot be had or loaded (a refused config, a download or
       access error, out of GPU memory), the embedded demo model: the notice says what failed
       and how to fix it, and the full error goes to the log.
    3. On a CPU: the embedded demo model (the released one needs a GPU to be interactive).

    `loader(ref, device)` loads a checkpoint (default `VideoFlexTok.from_pretrained` after
    checking that the device works); tests pass their own to run the GPU branch on a CPU.
    precision: "auto", "fp32" or "bf16" (--precision), set on the loaded model; a bad value
    raises ValueError before anything loads.

    Returns:
        (model in eval mode, `ModelChoice` with the notice for the page).
    """
    env = os.environ if env is None else env
    device = device or default_device()
    if loader is None:
        check_device(device)
    Precision.resolve(precision, device)  # ValueError for a bad setting, before any loading
    load = loader or (lambda r, d: VideoFlexTok.from_pretrained(r, device=d))

    def load_with_precision(r: str) -> VideoFlexTok:
        model = load(r, device)
        model.precision = precision
        return model

    explicit, reason = (ref, "flag") if ref else (env.get(MODEL_ENV) or None, "env")
    if explicit:
        how = "--model" if reason == "flag" else f"${MODEL_ENV}"
        model = load_with_precision(explicit)
        notice = f"Running **{display_name(explicit)}** {_on(model, device)} (chosen with `{how}`)."
        return model, ModelChoice(str(explicit), device, reason, notice)

    why, reason = "", "cpu"
    if device.startswith("cuda"):
        try:
            model = load_with_precision(hub_ref)
            notice = f"Running the released model **{hub_ref}** {_on(model, device)}."
            return model, ModelChoice(hub_ref, device, "gpu", notice)
        except (ValueError, OSError, torch.OutOfMemoryError) as e:
            # ValueError: refused config, CheckpointError (offline, no access, bad file);
            # OSError: download errors (huggingface_hub's HTTP errors are OSErrors)
            log.error("could not load %s; serving the demo model instead", hub_ref, exc_info=e)
            why, reason = _load_failure(hub_ref, e), "fallback"
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # what a failed load left behind
    else:
        why = (
            f"this machine has no GPU and the released {hub_ref} (256x256) takes minutes per "
            f"decode on a CPU; `python app.py --model {hub_ref}` runs it anyway"
        )
    if not Path(demo_ref).is_dir():
        raise CheckpointError(
            f"no model to run: the embedded demo model {demo_ref} is missing. Pass --model (a "
            f"checkpoint directory, .safetensors file or Hub id) or set {MODEL_ENV}. (The demo "
            f"model was picked because {why}.)"
        )
    model = load_with_precision(str(demo_ref))
    H, W = model.resolution
    notice = (
        f"Running the small embedded **demo model** ({display_name(demo_ref)}, {H}x{W}, "
        f"{model.n_registers} tokens per latent frame) {_on(model, device)}, because {why}."
    )
    return model, ModelChoice(str(demo_ref), device, reason, notice)


def _on(model: VideoFlexTok, device: str) -> str:
    """ "on cuda in bf16 autocast (auto: CUDA)": where and in what precision `model` runs."""
    return f"on {device} in {model.precision}"


def _load_failure(hub_ref: str, e: BaseException) -> str:
    """What failed when loading `hub_ref` and how to fix it, for the notice (one clause)."""
    message = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, torch.OutOfMemoryError):
        return (
            f"loading {hub_ref} ran out of GPU memory ({message}); free the GPU, use one with "
            f"more memory, or pass `--model {SMALLER_HUB_MODEL}` (a smaller decoder)"
        )
    if isinstance(e, UnsupportedConfigError):
        return (
            f"the config of {hub_ref} is refused by this port ({message}); pass `--model PATH` "
            "with a checkpoint whose config.json it reads"
        )
    if isinstance(e, CheckpointError):
        return (
            f"{hub_ref} could not be loaded ({message}); check the network and the access token "
            "(HF_TOKEN, HF_HUB_OFFLINE), or pass `--model PATH` to a local copy"
        )
    if isinstance(e, OSError):
        return (
            f"downloading {hub_ref} failed ({type(e).__name__}: {message}); check the network "
            "and the access token (HF_TOKEN), or pass `--model PATH` to a local copy"
        )
    return f"{hub_ref} could not be loaded ({message}); pass `--model PATH` with another checkpoint"


# ---------------------------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Defaults:
    """What the page starts with."""

    k: int  # tokens per latent frame
    frames: int  # clip length
    frame_choices: tuple[int, ...]  # valid lengths, 1 + 16K
    sampler: Sampler  # steps, guidance, APG, seed
    seeds: int = 4  # seeds the seed view decodes together


def app_defaults(model: VideoFlexTok, device: str | None = None) -> Defaults:
    """Sampler settings from the checkpoint's "demo_defaults" where it has them (the demo model),
    else the released models' guidance 20 with APG. Steps: 25 on a GPU, else the demo defaults'
    (16 for the demo model). Clip lengths up to 8 chunks on a GPU, 4 on a CPU."""
    device = (device or model.device.type).split(":")[0]
    gpu = "cuda" if device == "cuda" else "cpu"
    sampler = model.config.demo_sampler(Sampler(steps=25, guidance=RELEASED_GUIDANCE, apg=True))
    if gpu == "cuda":
        sampler = replace(sampler, steps=CUDA_STEPS)
    c = model.chunking
    choices = tuple(c.valid_frames(n) for n in range(1, MAX_CHUNKS[gpu] + 1))
    N = model.n_registers
    return Defaults(
        k=max(1, N // 4),
        frames=choices[DEFAULT_CHUNKS[gpu] - 1],
        frame_choices=choices,
        sampler=sampler,
    )


# ---------------------------------------------------------------------------------------------
# ZeroGPU
# ---------------------------------------------------------------------------------------------

# Durations are FLOPs counted for the loaded model's config (`videoflextok_core.flops`) divided
# by an ASSUMED throughput, plus host work. No GPU figure of ours exists yet (run
# benchmarks/bench_real.py on one and revisit these): ZeroGPU runs on a slice of an NVIDIA H200
# (70 GB of its 141 GB per workload, huggingface.co/docs/hub/spaces-zerogpu), assumed to give
# half the H200's 989 TFLOP/s dense bf16 peak, of which 30 % is achieved (VidTok's 3-D
# convolutions at 256x256, and the elementwise work the count leaves out): 148 TFLOP/s.
ZEROGPU_PEAK_TFLOPS = BF16_PEAK_TFLOPS["H200"] / 2
ZEROGPU_EFFICIENCY = 0.3
GPU_SECONDS_FIXED = 10.0  # per call: the model onto the GPU slice, reading the clip, transfers
GPU_SECONDS_PER_CHUNK = 0.5  # per decoded chunk and budget: mp4 writing, metrics (host work)
GPU_MAX_SECONDS = 300


def _seconds(flops: int, decoded_chunks: int) -> int:
    """Reserved seconds for `flops` of GPU work and `decoded_chunks` chunks of host work,
    rounded up, capped at `GPU_MAX_SECONDS`."""
    gpu = flops / (ZEROGPU_PEAK_TFLOPS * 1e12 * ZEROGPU_EFFICIENCY)
    host = GPU_SECONDS_FIXED + decoded_chunks * GPU_SECONDS_PER_CHUNK
    return min(GPU_MAX_SECONDS, math.ceil(gpu + host))


def estimate_gpu_seconds(
    config: ModelConfig, frames: int, sampler: Sampler, budgets: int = 1
) -> int:
    """Seconds to reserve on a ZeroGPU Space for tokenizing a clip of `frames` frames (it may not
    be cached yet) and decoding it at `budgets` budgets with `sampler`, for the model of
    `config`: counted FLOPs at the assumed throughput plus host work, capped."""
    flops = model_flops(config)
    work = flops.tokenize(frames) + flops.detokenize(frames, sampler, batch=budgets)
    return _seconds(work, budgets * flops.chunks(frames))


def estimate_tokenize_seconds(config: ModelConfig, frames: int) -> int:
    """Seconds to reserve for tokenizing a clip of `frames` frames (VAE and encoder only)."""
    return _seconds(model_flops(config).tokenize(frames), 0)


def on_zero_gpu() -> bool:
    """A ZeroGPU Space: the `spaces` package is importable and $SPACES_ZERO_GPU is set."""
    if not os.environ.get("SPACES_ZERO_GPU"):
        return False
    try:
        import spaces  # noqa: F401
    except ImportError:
        return False
    return True


def gpu_task(duration: Callable[..., int]):
    """Decorator: `spaces.GPU(duration=duration)` on a ZeroGPU Space, else nothing."""
    if not on_zero_gpu():
        return lambda fn: fn
    import spaces

    return spaces.GPU(duration=duration)


__all__ = [
    "Defaults",
    "ModelChoice",
    "app_defaults",
    "estimate_gpu_seconds",
    "estimate_tokenize_seconds",
    "gpu_task",
    "load_model",
    "on_zero_gpu",
]
