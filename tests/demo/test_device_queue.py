"""`demo.device_queue.DeviceQueue`: one model call at a time, visitors first; background work
hands the device over between steps and resumes as if never paused. Orders of events, not
times: these hold on any machine, however busy."""

import threading
import time
from dataclasses import replace

import pytest
import torch
from paths import EXAMPLE, EXAMPLES

from demo.device_queue import DeviceQueue, visiting
from demo.service import DemoService
from videoflextok_core.model.sampling import Sampler

pytestmark = pytest.mark.usefixtures("one_thread")

WAIT = 60.0  # seconds a test waits for another thread before it fails


def until(condition) -> None:
    """Wait (polling) until `condition()` holds; fail after WAIT seconds."""
    end = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < end, "the other thread never got there"
        time.sleep(0.005)


def visitor(queue: DeviceQueue, events: list, name: str, work=None) -> threading.Thread:
    """A thread that takes a turn on `queue`, logs `name`, runs `work()` and gives it back."""

    def run():
        with queue.turn():
            events.append(name)
            if work is not None:
                work()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_waiting_visitor_goes_at_the_next_pause_point():
    queue, events = DeviceQueue(), []
    with queue.background() as work:
        events.append("background 1")
        queue.pause_point()  # nobody waits: nothing happens
        v = visitor(queue, events, "visitor")
        until(lambda: queue.waiting == 1)
        assert events == ["background 1"]  # the visitor waits for the step to end
        queue.pause_point()  # hands over, resumes once the visitor is done
        events.append("background 2")
    v.join(WAIT)
    assert events == ["background 1", "visitor", "background 2"]
    assert work.pauses == 1 and work.paused > 0


def test_background_work_starts_only_when_no_visitor_waits():
    queue, events = DeviceQueue(), []
    first_in, release = threading.Event(), threading.Event()

    def hold():
        first_in.set()
        release.wait(WAIT)

    first = visitor(queue, events, "visitor 1", hold)
    first_in.wait(WAIT)

    def background():
        with queue.background():
            events.append("background")

    bg = threading.Thread(target=background)
    bg.start()
    time.sleep(0.05)  # the background waits for the device now (the order holds either way)
    second = visitor(queue, events, "visitor 2")
    until(lambda: queue.waiting == 1)
    release.set()  # visitor 1 done: visitor 2 goes before the background that waited longer
    for t in (first, second, bg):
        t.join(WAIT)
    assert events == ["visitor 1", "visitor 2", "background"]


def test_background_work_gives_way_to_a_whole_visit():
    """A visitor's request, not only its model calls: the background stays off the device
    between them too (where the visitor reads or writes files), and does not start meanwhile."""
    queue, events = DeviceQueue(), []
    started = threading.Event()

    def request():
        with queue.visit():
            events.append("visit starts")
            started.set()
            until(lambda: len(events) > 1)  # the background reached its pause point
            with queue.turn():
                events.append("visitor call 1")
            events.append("visitor writes its files")
            with queue.turn():
                events.append("visitor call 2")
            events.append("visit ends")

    with queue.background():
        v = threading.Thread(target=request)
        v.start()
        started.wait(WAIT)
        events.append("background step")
        queue.pause_point()  # gives way until the visit ends
        events.append("background resumes")
    v.join(WAIT)
    assert events == [
        "visit starts",
        "background step",
        "visitor call 1",
        "visitor writes its files",
        "visitor call 2",
        "visit ends",
        "background resumes",
    ]

    def background():
        with queue.background():
            events.append("background after the visit")

    with queue.visit():
        bg = threading.Thread(target=background)
        bg.start()
        bg.join(0.05)
        events.append("second visit ends")
    bg.join(WAIT)
    assert events[-2:] == ["second visit ends", "background after the visit"]


def test_visiting_methods_and_generators():
    class Service:
        queue = DeviceQueue()

        @visiting
        def call(self):
            return self.queue.visits

        @visiting
        def steps(self):
            yield self.queue.visits
            yield self.queue.visits

    service = Service()
    assert service.call() == 1 and Service.queue.visits == 0
    steps = service.steps()
    assert next(steps) == 1 and Service.queue.visits == 1  # between steps: still a visit
    assert list(steps) == [1] and Service.queue.visits == 0


def test_model_calls_inside_background_work_pass_through_and_pause_first():
    queue, events = DeviceQueue(), []
    with queue.background():
        with queue.visit(), queue.turn():  # the holder's own request and call: no deadlock
            events.append("background call 1")
        v = visitor(queue, events, "visitor")
        until(lambda: queue.waiting == 1)
        with queue.turn():  # a visitor waits: it goes first
            events.append("background call 2")
    v.join(WAIT)
    assert events == ["background call 1", "visitor", "background call 2"]


def test_a_visitor_never_pauses():
    queue, events = DeviceQueue(), []
    with queue.turn():
        v = visitor(queue, events, "visitor 2")
        until(lambda: queue.waiting == 1)
        queue.pause_point()  # a visitor's step: does not hand over
        events.append("visitor 1")
    v.join(WAIT)
    assert events == ["visitor 1", "visitor 2"]


def test_a_pause_keeps_the_global_rng_of_the_paused_work():
    torch.manual_seed(7)
    expected = [torch.randn(3), torch.randn(3)]
    queue, events = DeviceQueue(), []
    with queue.background():
        torch.manual_seed(7)
        got = [torch.randn(3)]
        v = visitor(queue, events, "visitor", lambda: torch.randn(100))  # moves the RNG on
        until(lambda: queue.waiting == 1)
        queue.pause_point()
        got.append(torch.randn(3))
    v.join(WAIT)
    assert events == ["visitor"] and all(torch.equal(a, b) for a, b in zip(got, expected))


def test_a_decode_paused_for_a_visitor_equals_it_uninterrupted(tiny_model, tmp_path):
    """Two chunks (33 frames): the second re-encodes decoded frames from the global RNG. A
    visitor tokenizes and decodes another clip (and draws from the global RNG) while the
    background's decode is paused at its third step; the background's video is the one an
    uninterrupted decode gives, bit for bit."""
    sampler = Sampler(steps=3, guidance=2.0, apg=True)
    queue = DeviceQueue()
    background = DemoService(tiny_model, workdir=tmp_path / "background", queue=queue)
    other = DemoService(tiny_model, workdir=tmp_path / "visitor", queue=queue)
    request = background.request(video=str(EXAMPLE), length=33, k=8, sampler=sampler)
    events = []

    def visit():
        torch.randn(10)
        clip = str(EXAMPLES / "scene_2_seed1000008.mp4")
        other.reconstruct(replace(request, video=clip, sampler=replace(sampler, seed=5)))

    def progress(fraction: float, message: str) -> None:
        events.append(message)
        if message == "decoding k=8 (step 3/6)":  # mid-way: chunk 2 is still to come
            threads.append(visitor(queue, events, "visitor", visit))
            until(lambda: queue.waiting == 1)

    threads = []
    with queue.background() as work:
        background.reconstruct(request, progress)
    threads[0].join(WAIT)
    assert work.pauses == 1
    assert events.index("visitor") == events.index("decoding k=8 (step 3/6)") + 1
    alone = DemoService(tiny_model, workdir=tmp_path / "alone").decode(request)[0]
    assert torch.equal(background.decode(request)[0].video, alone.video)
