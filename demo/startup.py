"""Which model the app starts with, on which device, and why (the page's defaults for it:
`defaults.py`; what the notice says: `views.py`).

    from demo.startup import choose_model
    model, choice = choose_model()             # --model / $VIDEOFLEXTOK_MODEL / GPU / CPU policy
    choice.notice                              # one Markdown paragraph for the top of the page

`models.Models.start` runs it for the start-up model; the selector's other models load on first
use through the same loader (`videoflextok_core.loading.load_model`).
"""

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from videoflextok_core.device import check_device, default_device
from videoflextok_core.loading import load_model
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import CheckpointError
from videoflextok_core.model.config import UnsupportedConfigError
from videoflextok_core.model.precision import Precision

from . import views
from .paths import DEMO_MODEL

log = logging.getLogger(__name__)

HUB_MODEL = "EPFL-VILAB/videoflextok_d18_d28"  # the default on a GPU
SMALLER_HUB_MODEL = "EPFL-VILAB/videoflextok_d18_d18_k600"  # 18 decoder layers instead of 28
MODEL_ENV = "VIDEOFLEXTOK_MODEL"

Loader = Callable[[str, str, str], VideoFlexTok]  # loader(ref, device, precision) -> model


@dataclass(frozen=True)
class ModelChoice:
    """What `choose_model` loaded and why; `notice` is shown at the top of the page."""

    ref: str  # as loaded: a directory, a .safetensors file or a Hub id
    device: str  # "cpu", "cuda", ...
    reason: str  # "flag", "env", "gpu", "cpu", "fallback" or "selected" (the model selector)
    notice: str  # Markdown, one paragraph


def display_name(ref: str | Path) -> str:
    """How the page names a model: "assets/demo-model", a directory's name, or the Hub id."""
    path = Path(ref)
    if path.exists():
        return "assets/demo-model" if path.resolve() == DEMO_MODEL.resolve() else path.name
    return str(ref)


def choose_model(
    ref: str | None = None,
    device: str | None = None,
    env: Mapping[str, str] | None = None,
    hub_ref: str = HUB_MODEL,
    demo_ref: str | Path = DEMO_MODEL,
    loader: Loader = load_model,
    precision: str = "auto",
) -> tuple[VideoFlexTok, ModelChoice]:
    """Load the app's model, once, by this policy:

    1. `ref` (--model), else `$VIDEOFLEXTOK_MODEL`: that model, errors are fatal.
    2. On a GPU: `hub_ref`; if it cannot be had or loaded (a refused config, a download or
       access error, out of GPU memory), the embedded demo model: the notice says what failed
       and how to fix it, and the full error goes to the log.
    3. On a CPU: the embedded demo model (the released one needs a GPU to be interactive).

    `loader(ref, device, precision)` loads a checkpoint (`load_model`: checks the device, then
    reads); tests pass their own to run the GPU branch on a CPU. precision: "auto", "fp32" or
    "bf16" (--precision); a bad value raises ValueError before anything loads.

    Returns:
        (model in eval mode, `ModelChoice` with the notice for the page).
    """
    env = os.environ if env is None else env
    device = device or default_device()
    if loader is load_model:  # the real loader: an unusable --device fails before anything
        check_device(device)
    Precision.resolve(precision, device)  # ValueError for a bad setting, before any loading
    explicit, reason = (ref, "flag") if ref else (env.get(MODEL_ENV) or None, "env")
    if explicit:
        how = "--model" if reason == "flag" else f"${MODEL_ENV}"
        model = loader(explicit, device, precision)
        notice = views.chosen_notice(display_name(explicit), device, model.precision, how)
        return model, ModelChoice(str(explicit), device, reason, notice)

    why, reason = "", "cpu"
    if device.startswith("cuda"):
        try:
            model = loader(hub_ref, device, precision)
            notice = views.released_notice(hub_ref, device, model.precision)
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
    model = loader(str(demo_ref), device, precision)
    notice = views.demo_notice(display_name(demo_ref), model, device, why)
    return model, ModelChoice(str(demo_ref), device, reason, notice)


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


__all__ = ["HUB_MODEL", "MODEL_ENV", "ModelChoice", "choose_model", "display_name"]
