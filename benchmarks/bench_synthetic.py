"""Throughput of the procedural clip generator, in clips per second on one process.

    python benchmarks/bench_synthetic.py [--seconds 3] [--repeats 3]

Each setting renders distinct seeds for about `--seconds`, `--repeats` times, and reports the best
run (the least disturbed by other work on the machine) and the median. The last row times
`make_batch`, which adds the conversion to a float tensor in [-1, 1].
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic import make_batch, make_clip  # noqa: E402
from videoflextok_core.hardware import describe  # noqa: E402

SETTINGS = (("make_clip", 17, 64), ("make_clip", 17, 128), ("make_clip", 33, 128))
SETTINGS += (("make_batch/16", 17, 64),)
BATCH = 16


def clips_per_second(how: str, num_frames: int, size: int, seconds: float, seed: int) -> float:
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        if how == "make_clip":
            make_clip(seed + count, num_frames, size)
            count += 1
        else:
            make_batch(range(seed + count, seed + count + BATCH), num_frames, size)
            count += BATCH
    return count / (time.perf_counter() - start)


def main(args: argparse.Namespace) -> None:
    print(describe())
    for how, num_frames, size in SETTINGS:  # warm up imports, allocator and caches
        clips_per_second(how, num_frames, size, 0.2, seed=10**6)
    print(f"{'call':>14} {'frames':>6} {'size':>5} {'best clips/s':>13} {'median':>8}")
    for how, num_frames, size in SETTINGS:
        runs = [
            clips_per_second(how, num_frames, size, args.seconds, seed=1000 * (r + 1))
            for r in range(args.repeats)
        ]
        best, median = max(runs), statistics.median(runs)
        print(f"{how:>14} {num_frames:>6} {size:>5} {best:>13.1f} {median:>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting")
    main(parser.parse_args())
