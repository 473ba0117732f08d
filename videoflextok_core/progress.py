"""Progress: how long work tells its caller how far it has got.

One type for it, `Progress`: any callable `progress(fraction, message)` with the fraction in
[0, 1] and a short message ("decoding k=4 (step 3/16)"). The curve engine, the demo service,
the app's progress bar and the CLI's tqdm bar all speak it. The model's own loops count steps
instead (`detokenize(progress=on_step)`, `tokenize_clip(clip, on_chunk)`: `on_step(done,
total)`); `steps` turns a `Progress` into such a counter.

    from videoflextok_core.progress import TqdmProgress, span, steps
    with TqdmProgress() as bar:                              # a tqdm bar on stderr
        report = span(bar, 0.1, 0.95)                        # a share of the bar
        on_step = steps(report, lambda done, total: f"decoding (step {done}/{total})")
        model.detokenize(tokens, sampler, progress=on_step)

The library's loops never draw a bar themselves (they take these callbacks); the CLI and the
model's `verbose` mode draw one with `TqdmProgress`. tqdm is imported only then: it comes with
huggingface_hub, and the model runs without either.
"""

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


class TqdmProgress:
    """A `Progress` drawn as a tqdm bar on stderr (or `file`): percent done, the message as its
    description. The bar appears with the first report (an error before it draws nothing). A
    context manager: the bar closes, showing its last state, at the end."""

    def __init__(self, file=None, **options):
        """`options`: more of tqdm's keywords (`mininterval`, `disable`, ...)."""
        bar_format = "{desc}: {percentage:3.0f}%|{bar:24}| [{elapsed}<{remaining}]"
        # miniters=0: every update checks `mininterval` (tqdm would otherwise skip some)
        self.options = {"file": file, "bar_format": bar_format, "miniters": 0, **options}
        self.bar = None  # a tqdm, from the first report on

    def __call__(self, fraction: float, message: str) -> None:
        n = round(100 * min(max(fraction, 0.0), 1.0))
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=100, desc=message, **self.options)
        if message != self.bar.desc:  # a new message is always drawn: every stage and step shows
            self.bar.set_description_str(message)
        self.bar.update(n - self.bar.n)  # the percentage alone: at most every `mininterval`

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Progress", "StepCallback", "TqdmProgress", "silent", "span", "steps"]
