"""One model call at a time on a device, visitors first: the page's requests and the background
warm-up (`warm_up.py`) share the device through one `DeviceQueue`.

    queue = DeviceQueue(model.device)
    with queue.visit():                   # a visitor's whole request (`visiting` on a method)
        with queue.turn():                # one model call: waits while the device is busy
            model.decode_clip(ids, [k], sampler, on_step)
    with queue.background() as work:      # starts once no visitor waits or is being served
        ...                               # model calls (their `turn()` passes straight through)
        queue.pause_point()               # between two steps: visitors go first
    work.paused                           # seconds it handed to visitors

A visitor's model call takes the device as soon as it is free. Background work takes it only
while no visitor's request runs, and at each `pause_point` (the service calls one at every step
of a model loop: a tokenized chunk, a sampler step, and before each model call) it gives way to
any visitor's request that has begun and resumes once none runs. So a visitor waits for at most
one step of background work, and nothing of the background's runs beside a visitor's request:
neither its torch threads nor its Python (which would slow the visitor's reading and mp4
writing, holding the GIL).

Pausing a model call midway is safe: nothing the model keeps on itself belongs to one call (its
caches of masks, index tensors and bf16 weights are keyed by their inputs, the same whoever
fills them); autocast and inference mode are per thread; every decode draws its noise from its
own generator (`VideoFlexTok.decode_clip`, `seeds.seed_spread`). The one shared thing is the
global torch RNG, which a decode reads to re-encode the frames of later chunks and which a
visitor's calls move on: a pause saves it and puts it back before resuming, so the paused call
gives exactly what it gives uninterrupted (tests/demo/test_device_queue.py).
"""

import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from videoflextok_core.model.noise import rng_state, set_rng_state


@dataclass
class BackgroundWork:
    """What one `DeviceQueue.background()` block has handed over so far."""

    paused: float = 0.0  # seconds the device spent on visitors while this work held it
    pauses: int = 0  # times it handed the device over


class DeviceQueue:
    """One model call at a time on `device`; visitors before background work (thread-safe)."""

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self._lock = threading.Condition()
        self._holder: int | None = None  # the thread that has the device
        self._work: BackgroundWork | None = None  # set while background work has it
        self._waiting = 0  # visitors' model calls waiting for the device
        self._visits = 0  # visitors' requests running

    @property
    def waiting(self) -> int:
        """Visitors' model calls waiting for the device now."""
        with self._lock:
            return self._waiting

    @property
    def visits(self) -> int:
        """Visitors' requests running now."""
        with self._lock:
            return self._visits

    def _visitors(self) -> bool:
        return self._waiting > 0 or self._visits > 0  # under the lock

    @contextlib.contextmanager
    def visit(self) -> Iterator[None]:
        """A visitor's whole request, its reading and file writing too: background work stays
        off the device while one runs. In background work's own thread it changes nothing."""
        me = threading.get_ident()
        with self._lock:
            own = self._holder == me and self._work is not None
            if not own:
                self._visits += 1
        if own:
            yield
            return
        try:
            yield
        finally:
            with self._lock:
                self._visits -= 1
                self._lock.notify_all()

    @property
    def busy_in_background(self) -> bool:
        """Whether background work holds the device now (not paused)."""
        with self._lock:
            return self._work is not None and self._holder is not None

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """The device for one model call of a visitor: waits until it is free. In a thread that
        holds it already (background work, or a nested call) it passes straight through, after
        a `pause_point`."""
        me = threading.get_ident()
        with self._lock:
            held = self._holder == me
            if not held:
                self._waiting += 1
                try:
                    self._lock.wait_for(lambda: self._holder is None)
                finally:
                    self._waiting -= 1
                self._holder = me
        if held:
            self.pause_point()
            yield
            return
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def background(self) -> Iterator[BackgroundWork]:
        """The device for background work: waits until it is free and no visitor's request
        runs; holds it to the end of the block except while `pause_point` gives way."""
        me = threading.get_ident()
        work = BackgroundWork()
        with self._lock:
            self._lock.wait_for(lambda: self._holder is None and not self._visitors())
            self._holder, self._work = me, work
        try:
            yield work
        finally:
            self._release()

    def pause_point(self) -> None:
        """Between two steps of background work: while a visitor's request runs (or a model
        call waits), give the device up and take it back (with the global torch RNG state it
        had) once none does. Does nothing for a visitor, or when no visitor is there."""
        me = threading.get_ident()
        with self._lock:
            work = self._work
            if self._holder != me or work is None or not self._visitors():
                return
            state = rng_state(self.device)
            t0 = time.perf_counter()
            self._holder, self._work = None, None
            self._lock.notify_all()
            self._lock.wait_for(lambda: self._holder is None and not self._visitors())
            self._holder, self._work = me, work
            work.paused += time.perf_counter() - t0
            work.pauses += 1
        set_rng_state(state, self.device)

    def _release(self) -> None:
        with self._lock:
            self._holder, self._work = None, None
            self._lock.notify_all()


def visiting(method):
    """Decorator for a method of an object with a `queue` (`DeviceQueue`): each call is a
    visitor's request (`queue.visit()`); a generator's lasts from its first step to its end."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generate(self, *args, **kwargs):
            with self.queue.visit():
                yield from method(self, *args, **kwargs)

        return generate

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self.queue.visit():
            return method(self, *args, **kwargs)

    return call


__all__ = ["BackgroundWork", "DeviceQueue", "visiting"]
