"""Throughput of `tokenize-dataset` on this CPU: segments/s with 1 and 2 model workers on a local
Ray, and where a segment's time goes (decode + resize vs the model), with the demo model.

    python benchmarks/bench_dataset.py [--copies 8] [--max-frames 17] [--model DIR]

The input is --copies copies of ../shared/videos/porsche.mp4 (640x640, 24 fps, 3 s: two segments
of 17 frames at 8 fps each with --segments all). Printed: the machine (`hardware.describe`: CPU
model and units, torch's CPU capability), per-segment decode and model times on one thread in
this process, then for each worker count the wall time, the startup (until the first row: Ray
workers, model loads) and the steady rate after it.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker; also for the Ray workers
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VIDEOS = ROOT.parent / "shared" / "videos"


def per_segment_costs(files, model_ref: str, max_frames: int) -> tuple[float, float, int]:
    """Mean seconds per segment of reading (decode + pick + resize) and of the model, 1 thread."""
    import torch

    from videoflextok_core.dataset import ReaderSettings, plan_segments
    from videoflextok_core.dataset.plan import load_segment
    from videoflextok_core.model import VideoFlexTok

    torch.set_num_threads(1)
    model = VideoFlexTok.from_pretrained(model_ref, device="cpu")
    reader = ReaderSettings.for_model(model.config, None, max_frames, "all")
    segments = plan_segments(files, reader)
    read_s = model_s = 0.0
    for s in segments:
        t0 = time.perf_counter()
        video, _ = load_segment(s.path, model.config, reader, s.start)
        t1 = time.perf_counter()
        with torch.inference_mode():
            model.tokenize(video[None], sample_posterior=False)
        read_s, model_s = read_s + t1 - t0, model_s + time.perf_counter() - t1
    return read_s / len(segments), model_s / len(segments), len(segments)


def main() -> None:
    import ray

    from demo.paths import DEMO_MODEL
    from videoflextok_core.dataset.runner import DatasetJob, run_dataset

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--max-frames", type=int, default=17)
    ap.add_argument("--model", default=str(DEMO_MODEL))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_dataset_"))
    files = []
    for i in range(args.copies):  # copies, not links: a segment's key is the resolved file
        files.append(Path(shutil.copy(VIDEOS / "porsche.mp4", work / f"clip{i:03d}.mp4")))
    from videoflextok_core.hardware import describe

    print(describe())
    read_s, model_s, n = per_segment_costs(files, args.model, args.max_frames)
    print(
        f"{n} segments of {args.max_frames} frames from {args.copies} x porsche.mp4 (640x640 "
        f"24 fps) at the model's 8 fps, one thread: decode + resize {read_s * 1e3:.0f} ms, "
        f"model {model_s * 1e3:.0f} ms per segment ({read_s / (read_s + model_s):.0%} decode)"
    )

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="WARNING")
    try:
        for workers in (1, 2):
            job = DatasetJob(
                inputs=tuple(map(str, files)),
                out=work / f"out{workers}",
                model_ref=args.model,
                max_frames=args.max_frames,
                segments="all",
                workers=workers,
                progress_every_s=1e9,
            )
            r = run_dataset(job)
            steady = (r.written - 1) / max(r.seconds - r.startup_seconds, 1e-9)
            print(
                f"workers={workers}: {r.written} segments in {r.seconds:.1f} s = "
                f"{r.written / r.seconds:.2f} segments/s overall; "
                f"startup {r.startup_seconds:.1f} s, "
                f"then {steady:.2f} segments/s ({r.precision})"
            )
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
