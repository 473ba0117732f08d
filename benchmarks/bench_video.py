"""Speed and memory of `read_video` (decode, pick, resize) on a real clip and a long 1080p clip.

    python benchmarks/bench_video.py [--workdir DIR]

Each case runs in a fresh process so its peak RSS (`ru_maxrss`) is its own. Printed per case:
source frames decoded per second, output frames per second, wall time, RSS after imports and
peak RSS. A 1080p 60 s and a 4K 10 s clip (30 fps) are generated once with PyAV into --workdir
(default: the system temp dir) from cheap synthetic content.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "videos"


def make_clip(path: Path, seconds: int, H: int = 1080, W: int = 1920, fps: int = 30) -> Path:
    """Moving colour bars with a bouncing square: cheap to make, not trivially compressible."""
    import av

    if path.exists():
        return path
    x = np.arange(W)[None, :, None]
    bars = np.array(
        [
            [255, 255, 255],
            [255, 255, 0],
            [0, 255, 255],
            [0, 255, 0],
            [255, 0, 255],
            [255, 0, 0],
            [0, 0, 255],
        ],
        np.uint8,
    )
    tmp = path.with_suffix(".part.mp4")
    t0 = time.perf_counter()
    with av.open(str(tmp), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23", "g": str(2 * fps)}
        for i in range(seconds * fps):
            idx = ((x + 8 * i) * len(bars) // W) % len(bars)  # (1, W, 1) scrolling bars
            frame = np.broadcast_to(bars[idx[0, :, 0]][None], (H, W, 3)).copy()
            cy, cx = 200 + int(150 * np.sin(i / 20)), (13 * i) % (W - 200)
            frame[cy : cy + 200, cx : cx + 200] = (i * 7) % 256  # a moving square
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.rename(path)
    print(
        f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB) in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return path


def rss_now_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def run_case(path: str, fps: float, size: int, max_frames: int, start: float) -> dict:
    """One measurement, in this (fresh) process."""
    from videoflextok_core.media import read as video

    decoded = 0
    decode = video._decode

    def counting(*args):
        nonlocal decoded
        for frame in decode(*args):
            decoded += 1
            yield frame

    video._decode = counting
    base = rss_now_mib()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    x, info = video.read_video(path, fps=fps, size=size, start=start, max_frames=max_frames)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "source": f"{info.width}x{info.height} {info.fps:g} fps {info.duration:.1f} s {info.codec}",
        "out": list(x.shape),
        "decoded": decoded,
        "wall": wall,
        "cpu": cpu,
        "base_rss": base,
        "peak_rss": peak,
        "note": info.note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; best wall is shown")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(**json.loads(args.case))))
        return

    from videoflextok_core.hardware import describe

    print(describe())
    long_clip = make_clip(args.workdir / "vft_bench_1080p_60s_30fps.mp4", 60)
    uhd_clip = make_clip(args.workdir / "vft_bench_2160p_10s_30fps.mp4", 10, 2160, 3840)
    cases = [
        ("porsche.mp4, default cap", VIDEOS / "porsche.mp4", 129, 0.0),
        ("1080p 60 s, default cap 129", long_clip, 129, 0.0),
        ("1080p 60 s, cap 481 (all 60 s)", long_clip, 481, 0.0),
        ("1080p 60 s, start=40 s, cap 129", long_clip, 129, 40.0),
        ("4K 10 s, default cap", uhd_clip, 129, 0.0),
    ]
    print(
        f"{'case':32s} {'output':>17s} {'decoded':>7s} {'src f/s':>7s} {'out f/s':>7s} "
        f"{'wall s':>6s} {'cpu s':>6s} {'RSS0 MiB':>8s} {'peak MiB':>8s}"
    )
    for name, path, max_frames, start in cases:
        if not Path(path).exists():
            print(f"{name:32s} skipped: {path} not found")
            continue
        spec = json.dumps(
            dict(path=str(path), fps=8.0, size=256, max_frames=max_frames, start=start)
        )
        runs = []
        for _ in range(args.repeat):
            res = subprocess.run(
                [sys.executable, __file__, "--case", spec],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
        r = min(runs, key=lambda r: r["wall"])
        peak = max(r["peak_rss"] for r in runs)
        T, wall, n = r["out"][1], r["wall"], r["decoded"]
        print(
            f"{name:32s} {str(r['out']):>17s} {n:7d} {n / wall:7.1f} {T / wall:7.1f} "
            f"{wall:6.2f} {r['cpu']:6.2f} {r['base_rss']:8.0f} {peak:8.0f}"
        )
        print(f"{'':32s} source: {r['source']}; {r['note']}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
