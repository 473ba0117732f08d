"""How long a ZeroGPU Space reserves a GPU for each page handler, and the decorator that asks.

On a ZeroGPU Space (`spaces` importable and $SPACES_ZERO_GPU set) every handler that may run or
load a model runs inside `spaces.GPU(duration=...)`; elsewhere `gpu_task` changes nothing. The
durations are counted, not guessed: FLOPs of the loaded model's config (`videoflextok_core.flops`)
at an ASSUMED throughput, plus host work, rounded up and capped.

The table (each row a function of the handler's service and request, seconds):

    handler         reserves                                        function
    /tokenize       the VAE and encoder of the clip                 `tokenize`
    model switch    the same, once the model is loaded             `tokenize`
    /reconstruct    tokenize + one decode                           `reconstruct`
    /seeds          tokenize + one decode per seed (one batch)      `seeds`
    /curve          tokenize + one decode per ladder budget         `curve`
    /decode_tokens  one decode of the page's longest clip           `decode_tokens`
    any of them     + GPU_SECONDS_LOAD if its model is not loaded   (`models.Models`)

No GPU figure of ours exists yet (run benchmarks/bench_real.py on one and revisit): ZeroGPU runs on
a slice of an NVIDIA H200 (70 GB of its 141 GB per workload, huggingface.co/docs/hub/
spaces-zerogpu), assumed to give half the H200's 989 TFLOP/s dense bf16 peak, of which 30 % is
achieved (VidTok's 3-D convolutions at 256x256, and the elementwise work the count leaves out):
148 TFLOP/s.
"""

import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from videoflextok_core.flops import BF16_PEAK_TFLOPS, model_flops
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.model.specs import ModelConfig

from .request import Request

if TYPE_CHECKING:
    from .service import DemoService

ZEROGPU_PEAK_TFLOPS = BF16_PEAK_TFLOPS["H200"] / 2
ZEROGPU_EFFICIENCY = 0.3
GPU_SECONDS_FIXED = 10.0  # per call: the model onto the GPU slice, reading the clip, transfers
GPU_SECONDS_PER_CHUNK = 0.5  # per decoded chunk and budget: mp4 writing, metrics (host work)
GPU_SECONDS_LOAD = 60  # a call that loads its model first (the model selector)
GPU_MAX_SECONDS = 300

Estimate = Callable[["DemoService", Request], int]  # one row of the table


# ---------------------------------------------------------------------------------------------
# Counted work -> seconds
# ---------------------------------------------------------------------------------------------


def _seconds(flops: int, decoded_chunks: int) -> int:
    """Reserved seconds for `flops` of GPU work and `decoded_chunks` chunks of host work,
    rounded up, capped at `GPU_MAX_SECONDS`."""
    gpu = flops / (ZEROGPU_PEAK_TFLOPS * 1e12 * ZEROGPU_EFFICIENCY)
    host = GPU_SECONDS_FIXED + decoded_chunks * GPU_SECONDS_PER_CHUNK
    return min(GPU_MAX_SECONDS, math.ceil(gpu + host))


def estimate_gpu_seconds(
    config: ModelConfig, frames: int, sampler: Sampler, budgets: int = 1
) -> int:
    """Seconds to reserve for tokenizing a clip of `frames` frames (it may not be cached yet)
    and decoding it at `budgets` budgets with `sampler`, for the model of `config`."""
    flops = model_flops(config)
    return _seconds(flops.reconstruct(frames, sampler, budgets), budgets * flops.chunks(frames))


def estimate_tokenize_seconds(config: ModelConfig, frames: int) -> int:
    """Seconds to reserve for tokenizing a clip of `frames` frames (VAE and encoder only)."""
    return _seconds(model_flops(config).tokenize(frames), 0)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


def tokenize(service: "DemoService", request: Request) -> int:
    return estimate_tokenize_seconds(service.model.config, request.frames)


def reconstruct(service: "DemoService", request: Request) -> int:
    return estimate_gpu_seconds(service.model.config, request.frames, request.sampler)


def seeds(service: "DemoService", request: Request) -> int:
    config = service.model.config
    return estimate_gpu_seconds(config, request.frames, request.sampler, request.seeds)


def curve(service: "DemoService", request: Request) -> int:
    budgets = len(service.defaults.ladder)
    return estimate_gpu_seconds(service.model.config, request.frames, request.sampler, budgets)


def decode_tokens(service: "DemoService", request: Request) -> int:
    """A tokens file's length is unknown until it is read: the page's longest clip."""
    return reconstruct(service, replace(request, frames=service.defaults.frame_choices[-1]))


# ---------------------------------------------------------------------------------------------
# The Space
# ---------------------------------------------------------------------------------------------


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
    """Decorator: `spaces.GPU(duration=duration)` on a ZeroGPU Space, else nothing. `duration`
    is called with the handler's own arguments."""
    if not on_zero_gpu():
        return lambda fn: fn
    import spaces

    return spaces.GPU(duration=duration)


__all__ = [
    "GPU_SECONDS_LOAD",
    "curve",
    "decode_tokens",
    "estimate_gpu_seconds",
    "estimate_tokenize_seconds",
    "gpu_task",
    "on_zero_gpu",
    "reconstruct",
    "seeds",
    "tokenize",
]
