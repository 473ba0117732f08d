"""Progress: how long work tells its caller how far it has got.

One type for it, `Progress`: any callable `progress(fraction, message)` with the fraction in
[0, 1] and a short message ("decoding k=4 (step 3/16)"). The curve engine, the demo service,
the app's progress bar and the CLI's text bar all speak it. The model's own loops count steps
instead (`detokenize(progress=on_step)`, `on_step(done, total)`); `steps` turns a `Progress`
into such a counter.

    from videoflextok_core.progress import TextProgress, span, steps
    bar = TextProgress()                                     # the CLI's bar on stderr
    report = span(bar, 0.1, 0.95)                            # a share of the bar
    on_step = steps(report, lambda done, total: f"decoding (step {done}/{total})")
    model.detokenize(tokens, sampler, progress=on_step)

A tqdm bar is a `Progress` in three lines (`bar.n = round(100 * fraction)`,
`bar.set_description(message)`, `bar.refresh()`), so the CLI can show one.
"""

import sys
from collections.abc import Callable
from typing import Protocol

StepCallback = Callable[[int, int], None]  # on_step(done, total): steps of a model loop


class Progress(Protocol):
    """progress(fraction in [0, 1], message): how far a piece of work has got."""

    def __call__(self, fraction: float, message: str) -> None: ...


def silent(fraction: float, message: str) -> None:
    """A `Progress` that shows nothing."""


def span(progress: Progress | None, lo: float, hi: float) -> Progress | None:
    """A `Progress` that maps [0, 1] into [lo, hi] of `progress` (None stays None): the share
    of one stage in a longer piece of work."""
    if progress is None:
        return None
    return lambda fraction, message: progress(lo + (hi - lo) * fraction, message)


def steps(progress: Progress | None, describe: Callable[[int, int], str]) -> StepCallback | None:
    """A step counter `on_step(done, total)` that reports done / total to `progress` with the
    message `describe(done, total)` (None stays None)."""
    if progress is None:
        return None
    return lambda done, total: progress(done / total, describe(done, total))


class TextProgress:
    """A one-line text progress bar on stderr: redrawn in place on a terminal, otherwise a new
    line every 10 % and whenever the stage (the message's first word) changes."""

    def __init__(self, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.width, self.last_pct, self.last_stage, self.last_len = width, -100, None, 0

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        pct, stage = int(fraction * 100), message.split(" ")[0]
        filled = round(fraction * self.width)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {pct:3d}% {message}"
        if self.tty:
            end = "\n" if fraction >= 1 else ""
            self.stream.write("\r" + line.ljust(self.last_len) + end)
            self.last_len = 0 if end else len(line)
        elif pct >= self.last_pct + 10 or stage != self.last_stage or fraction >= 1:
            self.stream.write(line + "\n")
            self.last_pct, self.last_stage = pct, stage
        self.stream.flush()


__all__ = ["Progress", "StepCallback", "TextProgress", "silent", "span", "steps"]
