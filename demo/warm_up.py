"""The start-up warm-up: the example clips decoded in the background at the page's defaults, so
that a click on one answers from the decode cache, without ever standing in a visitor's way.

    from demo.warm_up import warm_up
    threading.Thread(target=warm_up, args=(service, EXAMPLES), daemon=True).start()  # app.py
    report = warm_up(service, folder)     # -> WarmUpReport; one line per event on stdout

Out of a visitor's way: each example runs as the device queue's background work
(`device_queue.py`). It takes the device only while no visitor's request runs, and gives way at
its next step (a tokenized chunk, a sampler step) to one that begins, until it ends: a visitor
waits for at most one step, and nothing of the warm-up runs beside a request.

Only where an example is quick: on a slow model the warm-up would spend minutes of the machine
on clicks that may never come. It stops as soon as one example's time here is over `limit`
(`LIMIT_SECONDS`):
  * before the first example, estimated: its FLOPs (`flops.model_flops`, counted) at the rate
    of the device's matmuls measured now (`hardware.matmul_flops_per_second`) x `EFFICIENCY`;
  * before each later one, estimated again at the FLOP rate of the example before (its own
    time, without the pauses for visitors);
  * while one runs, when its own time passes the limit: it is abandoned at its next step.
"""

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from videoflextok_core.flops import model_flops
from videoflextok_core.hardware import matmul_flops_per_second
from videoflextok_core.model import VideoFlexTok

from .examples import example_paths
from .paths import EXAMPLES
from .request import Request
from .service import DemoService

LIMIT_SECONDS = 10.0  # an example slower than this here stops the warm-up
# The share of the matmul rate that a whole example reaches (VAE convolutions, attention and
# elementwise work, reading and mp4 writing besides). For the demo model on this repository's
# 2-core AMD EPYC in float32, measured beside a training run that owns the cores: 0.11 to 0.7
# (the probe's few milliseconds see that load otherwise than an example's seconds). The low
# end: an estimate that errs long skips a warm-up rather than run one that takes the machine.
EFFICIENCY = 0.15
log_line = functools.partial(print, flush=True)  # stdout, at once even into a pipe


class Overrun(Exception):
    """An example ran past the limit (raised from its progress callback, at a step)."""


@dataclass(frozen=True)
class ExampleTime:
    """One example the warm-up decoded."""

    name: str
    estimate: float  # seconds, estimated before it ran
    seconds: float  # its own time, without the pauses for visitors
    paused: float  # seconds it handed the device to visitors


@dataclass(frozen=True)
class WarmUpReport:
    done: tuple[ExampleTime, ...]  # the examples now in the caches, in order
    broken: tuple[str, ...]  # examples that did not read (clicked, they show their message)
    stopped: str | None  # why it stopped before the last example, or None


def device_rate(model: VideoFlexTok) -> float:
    """FLOP/s that an example is expected to reach on the model's device: the matmul rate
    measured now, in the precision the model decodes in, x `EFFICIENCY`."""
    dtype = torch.bfloat16 if model.precision.runs == "bf16" else torch.float32
    return matmul_flops_per_second(model.device, dtype) * EFFICIENCY


def warm_up(
    service: DemoService,
    examples: str | Path = EXAMPLES,
    limit: float = LIMIT_SECONDS,
    rate: float | None = None,
    log=log_line,
) -> WarmUpReport:
    """Reconstruct every example clip in `examples` at the page's defaults, as background work,
    until one would take (or takes) longer than `limit` seconds here (module docstring).
    `rate`: the FLOP/s to estimate the first example with (default `device_rate`); `log(line)`
    gets one line per example and the reason of a stop."""
    paths = example_paths(examples)
    done: list[ExampleTime] = []
    broken: list[str] = []

    def stop(why: str) -> WarmUpReport:
        log(f"warm-up stopped: {why}; examples decode when clicked")
        return WarmUpReport(tuple(done), tuple(broken), why)

    with service.queue.background():  # the count and the probe, out of a visitor's way
        flops = model_flops(service.model.config)
        rate = rate or device_rate(service.model)
    for path in paths:
        request = service.request(video=path)
        work = flops.reconstruct(request.frames, request.sampler)
        estimate = work / rate
        if estimate > limit:
            return stop(
                f"{path.name} would take about {estimate:,.0f} s here ({work / 1e9:,.0f} GFLOP "
                f"at {rate / 1e9:,.1f} GFLOP/s), over the {limit:g} s limit"
            )
        try:
            seconds, paused = _reconstruct(service, request, limit)
        except Overrun:
            return stop(f"{path.name} ran past the {limit:g} s limit")
        except ValueError as e:  # a broken example shows its message when clicked
            broken.append(path.name)
            log(f"warm-up: {path.name} skipped: {' '.join(str(e).split())}")
            continue
        done.append(ExampleTime(path.name, estimate, seconds, paused))
        handed = f", {paused:.1f} s more for visitors" if paused else ""
        log(f"warm-up: {path.name} in {seconds:.1f} s (estimated {estimate:.1f} s{handed})")
        rate = work / max(seconds, 1e-6)  # this machine's rate, measured
    log(f"warm-up: done, {len(done)} of {len(paths)} examples in the cache")
    return WarmUpReport(tuple(done), tuple(broken), None)


def _reconstruct(service: DemoService, request: Request, limit: float) -> tuple[float, float]:
    """One example reconstructed as background work -> (its own seconds, seconds paused for
    visitors); raises `Overrun` at the first step after its own time passes `limit`."""
    with service.queue.background() as work:
        t0 = time.perf_counter()

        def own() -> float:
            return time.perf_counter() - t0 - work.paused

        def guard(fraction: float, message: str) -> None:
            if own() > limit:
                raise Overrun(f"{message} after {own():.1f} s")

        service.reconstruct(request, guard)
        return own(), work.paused


__all__ = ["EFFICIENCY", "LIMIT_SECONDS", "ExampleTime", "WarmUpReport", "device_rate", "warm_up"]
