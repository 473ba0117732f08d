"""The one way the CLI, the app and the dataset job load a checkpoint: on a device that is checked
first, in the precision asked for.

    from videoflextok_core.loading import load_model
    model = load_model("assets/demo-model", device="cpu", precision="auto")
    model.precision           # bf16 autocast (auto: the CPU has bf16 matmul units ...) or fp32

`VideoFlexTok.from_pretrained` is the library call underneath; its own default precision (None:
bf16 on CUDA, float32 on a CPU) keeps library results the same on every CPU, while the tools
default to "auto" (bf16 on CPUs with bf16 matmul units, see `model/precision.py`).
"""

from pathlib import Path

from .device import check_device, default_device
from .model import VideoFlexTok
from .model.precision import Precision


def load_model(ref: str | Path, device: str | None = None, precision: str = "auto") -> VideoFlexTok:
    """Load `ref` (a Hub id, a checkpoint directory or a .safetensors file) in eval mode.

    device: "cpu", "cuda", ...; default CUDA when there is a GPU. An unusable device raises
        ValueError naming it, before anything is read.
    precision: "auto", "fp32" or "bf16"; a bad value raises ValueError before any weights are
        read.
    """
    device = check_device(device or default_device())
    Precision.resolve(precision, device)
    return VideoFlexTok.from_pretrained(ref, device=device, precision=precision)


__all__ = ["load_model"]
