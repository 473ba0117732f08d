"""The page's model choices and their loaded services: a model loads on first use, and at most
`max_loaded` (2) stay loaded; the least recently used one goes, with its caches and files, and
its memory is released.

    from demo.models import Models
    models = Models.start(refs=["assets/demo-model", "/ckpt/other"])   # --models
    models.names                          # the selector's values, the start-up model first
    service = models.service("other", progress)                 # loads it on first use
    service.reconstruct(service.request(video="clip.mp4"))      # one model: `DemoService`

Each `DemoService` keeps its own caches, so every cache key includes the model; a clip is read
and tokenized again at the chosen model's size.

Which models are offered: `--models` / $VIDEOFLEXTOK_MODELS when given; else, on a GPU, the
start-up model, both released models and the demo model; on a CPU only the start-up model (a
released model takes minutes per decode there, and the queue runs one model call at a time, so
one visitor would hold the page for everyone; `--models` offers them anyway, with a warning).
"""

import gc
import inspect
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from videoflextok_core.loading import load_model
from videoflextok_core.progress import Progress

from . import views, zerogpu
from .paths import DEMO_MODEL
from .service import DemoService
from .startup import HUB_MODEL, SMALLER_HUB_MODEL, Loader, ModelChoice, display_name
from .views import PageSetup

MODELS_ENV = "VIDEOFLEXTOK_MODELS"  # comma-separated, like --models
RELEASED = (HUB_MODEL, SMALLER_HUB_MODEL)  # 256x256 and 128x128
MAX_LOADED = 2  # models kept on the device at once
CPU_WARNING = "runs on this CPU: expect minutes per decode (it is made for a GPU)"


@dataclass(frozen=True)
class ModelOption:
    """One entry of the model selector."""

    name: str  # what the page shows and the API's `model` takes (`startup.display_name`)
    ref: str  # a checkpoint directory, .safetensors file or Hub id
    note: str  # "" or a warning shown when it is chosen


def parse_refs(text: str) -> list[str]:
    """ "a, b,,c" -> ["a", "b", "c"]: the refs of --models / $VIDEOFLEXTOK_MODELS."""
    return [r.strip() for r in text.split(",") if r.strip()]


def model_refs(
    start_ref: str, device: str, refs: Sequence[str] | None = None, env: Mapping | None = None
) -> list[str]:
    """The refs the selector offers, the start-up model first, without repeats: `refs`
    (--models), else `$VIDEOFLEXTOK_MODELS`, else the default for the device (module docstring)."""
    env = os.environ if env is None else env
    if refs is None and env.get(MODELS_ENV):
        refs = parse_refs(env[MODELS_ENV])
    if refs is None:
        refs = [*RELEASED, str(DEMO_MODEL)] if device.startswith("cuda") else []
    out: list[str] = []
    for ref in [start_ref, *refs]:
        if display_name(ref) not in map(display_name, out):
            out.append(str(ref))
    return out


class Models:
    """The model choices and the loaded `DemoService`s (lazy, LRU of `max_loaded`,
    thread-safe)."""

    def __init__(
        self,
        first: DemoService,
        refs: Sequence[str] = (),
        loader: Loader = load_model,
        max_loaded: int = MAX_LOADED,
        precision: str = "auto",
    ):
        """`first`: the start-up model's service; `refs`: the other choices; `loader(ref,
        device, precision)` loads one on first use, in `precision` ("auto", "fp32", "bf16")."""
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be >= 1, got {max_loaded}")
        self.device = first.choice.device
        self.queue = first.queue  # every model here shares the device: one call at a time
        cpu = not self.device.startswith("cuda")
        options = [ModelOption(display_name(first.choice.ref), first.choice.ref, "")]
        for ref in refs:
            name = display_name(ref)
            if name not in [o.name for o in options]:
                note = CPU_WARNING if cpu and str(ref) in RELEASED else ""
                options.append(ModelOption(name, str(ref), note))
        self.options = {o.name: o for o in options}
        self.default = options[0].name  # the start-up model: the API's default
        self.max_loaded, self.precision = max_loaded, precision
        self._load = loader
        self._loaded: OrderedDict[str, DemoService] = OrderedDict({self.default: first})
        self._setups = {self.default: first.page_setup()}  # kept after an eviction
        self._lock = threading.Lock()  # the LRU
        self._loading = threading.Lock()  # one load at a time

    @classmethod
    def start(
        cls,
        ref: str | None = None,
        refs: Sequence[str] | None = None,
        device: str | None = None,
        precision: str = "auto",
        **kw,
    ) -> "Models":
        """The start-up model by `startup.choose_model`'s policy (`ref`, else the first of
        `refs`), the choices by `model_refs`; every model runs in `precision` ("auto", "fp32",
        "bf16")."""
        if ref is None and refs:
            ref = refs[0]
        first = DemoService.start(ref, device, precision=precision)
        refs = model_refs(first.choice.ref, first.choice.device, refs)
        return cls(first, refs, precision=precision, **kw)

    @property
    def names(self) -> list[str]:
        return list(self.options)

    @property
    def first(self) -> DemoService:
        """A loaded service (the most recently used), for what needs no particular model."""
        with self._lock:
            return next(reversed(self._loaded.values()))

    def option(self, name: str | None) -> ModelOption:
        """The option called `name` (None: the start-up model); ValueError if there is none."""
        name = self.default if name is None else name
        if name not in self.options:
            raise ValueError(f"unknown model {name!r}: choose one of {', '.join(self.options)}")
        return self.options[name]

    def loaded(self, name: str | None) -> DemoService | None:
        """The model's service if it is loaded (never loads)."""
        with self._lock:
            return self._loaded.get(self.option(name).name)

    def setup(self, name: str | None) -> PageSetup | None:
        """The page setup of a model loaded at least once (never loads), else None."""
        return self._setups.get(self.option(name).name)

    def load_seconds(self, name: str | None) -> int:
        """ZeroGPU: the extra reservation of a call that loads the model first."""
        try:
            return 0 if self.loaded(name) is not None else zerogpu.GPU_SECONDS_LOAD
        except ValueError:
            return 0

    def on_gpu(self, estimate: zerogpu.Estimate):
        """Decorator for a page handler: on a ZeroGPU Space the handler runs as a GPU task
        reserved for `gpu_seconds(estimate, ...)` of the values it is called with, read by its
        own parameter names (`model`, the page's values; `tokens_file` and `progress` aside);
        elsewhere it is the handler itself."""

        def wrap(handler):
            signature = inspect.signature(handler)

            def duration(*args, **kwargs) -> int:
                values = signature.bind(*args, **kwargs).arguments
                values.pop("progress", None), values.pop("tokens_file", None)
                return self.gpu_seconds(estimate, **values)

            return zerogpu.gpu_task(duration)(handler)

        return wrap

    def gpu_seconds(
        self,
        estimate: zerogpu.Estimate,
        model: str | None = None,
        video=None,
        start=None,
        length=None,
        k=None,
        guidance=None,
        steps=None,
        seed=None,
        apg=None,
        seeds=None,
    ) -> int:
        """ZeroGPU: what a handler called with the page's values reserves, by its row of the
        `zerogpu` table, on the model's service (the start-up model's until it is loaded), plus
        the load time of a model not loaded yet. Never fails: an unknown model or bad values
        reserve the defaults' time (the handler then answers with the message)."""
        try:
            service = self.loaded(model) or self.first
        except ValueError:
            service = self.first
        try:
            sampler = service.sampler(guidance=guidance, steps=steps, seed=seed, apg=apg)
            request = service.request(
                video=video, start=start, length=length, k=k, sampler=sampler, seeds=seeds
            )
        except (ValueError, TypeError):
            request = service.request()
        return estimate(service, request) + self.load_seconds(model)

    def service(self, name: str | None = None, progress: Progress | None = None) -> DemoService:
        """The model's service, loaded on first use (with progress); may evict the least
        recently used one."""
        option = self.option(name)
        hit = self._touch(option.name)
        if hit is not None:
            return hit
        with self._loading:  # one load at a time; lookups of loaded models go on meanwhile
            hit = self._touch(option.name)
            if hit is not None:
                return hit
            if progress is not None:
                progress(0.0, f"loading {option.name} (first use)")
            with self.queue.turn():  # reading the weights: the warm-up waits meanwhile
                model = self._load(option.ref, self.device, self.precision)
            notice = views.selected_notice(option.name, self.device, option.note)
            choice = ModelChoice(option.ref, self.device, "selected", notice)
            service = DemoService(model, choice, queue=self.queue)
            with self._lock:
                self._loaded[option.name] = service
                self._setups[option.name] = service.page_setup()
                dropped = []
                while len(self._loaded) > self.max_loaded:
                    dropped.append(self._loaded.popitem(last=False)[1])
            _release(dropped)
        if progress is not None:
            progress(1.0, f"loaded {option.name}")
        return service

    def _touch(self, name: str) -> DemoService | None:
        """The loaded service called `name`, now the most recently used, or None."""
        with self._lock:
            if name not in self._loaded:
                return None
            self._loaded.move_to_end(name)
            return self._loaded[name]


def _release(services: list[DemoService]) -> None:
    """Drop evicted services: their caches and files now, their models' memory with the last
    reference (a request still running on one keeps it until it ends)."""
    if not services:
        return
    while services:
        services.pop().release()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["MODELS_ENV", "Models", "ModelOption", "model_refs", "parse_refs"]
