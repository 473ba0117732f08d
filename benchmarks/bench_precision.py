"""float32 against bf16 autocast on this machine, side by side in one run (prints tables).

    python benchmarks/bench_precision.py                 # demo model, porsche, 4 held-out clips
    python benchmarks/bench_precision.py --clips 2 --repeat 1

On the demo model (assets/demo-model) and 33 frames of a real clip (../shared/videos/porsche.mp4
read at 12 fps): tokenize, one reconstruction at the demo defaults (k = 16, 16 steps, guidance 8
with APG) and the 7-budget ladder (`quality_curve`, k = 1..64), each in fp32 and in bf16 (best of
--repeat, the two precisions alternating); then tokenize forced under bf16 autocast (what
`precision` does not do) with its time and id agreement. Last, the held-out curve (procedural
clips with the seeds of training/evaluate.py) in both precisions: mean PSNR and SSIM per k and
their difference.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.paths import DEMO_MODEL  # noqa: E402
from synthetic import make_clip_tensor  # noqa: E402
from training.config import EVAL_SEED_BASE  # noqa: E402
from videoflextok_core.curve import quality_curve  # noqa: E402
from videoflextok_core.hardware import describe  # noqa: E402
from videoflextok_core.media.clip import load_clip  # noqa: E402
from videoflextok_core.model import Noise, VideoFlexTok  # noqa: E402
from videoflextok_core.model.precision import Precision  # noqa: E402

PRECISIONS = ("fp32", "bf16")
CLIP = ROOT.parent / "shared" / "videos" / "porsche.mp4"


def best_of(repeat: int, fn) -> float:
    """Fastest of `repeat` runs of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(model: VideoFlexTok, video: torch.Tensor, k: int, repeat: int) -> dict:
    """{(operation, precision): seconds} for tokenize / one reconstruction / the ladder, the two
    precisions alternating within each repeat so that load on the machine hits both alike."""
    sampler = model.config.demo_sampler()
    tokens = model.tokenize_clip(video)  # (1, t, N), any precision
    ops = {
        "tokenize": lambda: model.tokenize(video[None], sample_posterior=False),
        f"one reconstruction (k={k})": lambda: model.detokenize(
            [tokens[..., :k]], sampler, noise=Noise(generator=sampler.generator())
        ),
        "ladder (7 budgets)": lambda: quality_curve(model, video, sampler=sampler, cache=None),
    }
    times = {}
    for name, fn in ops.items():
        for p in PRECISIONS:  # warm-up: allocator, oneDNN kernels
            model.precision = p
            if name != "ladder (7 budgets)":
                fn()
        for _ in range(repeat):
            for p in PRECISIONS:
                model.precision = p
                t = best_of(1, fn)
                times[name, p] = min(times.get((name, p), float("inf")), t)
    return times


def bf16_tokenize(model: VideoFlexTok, video: torch.Tensor, repeat: int) -> tuple[float, float]:
    """(seconds, share of ids equal to float32's) of tokenize forced under bf16 autocast."""
    model.precision = "fp32"
    ids32 = model.tokenize(video[None], sample_posterior=False)[0]

    def forced():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model.tokenize(video[None], sample_posterior=False)[0]

    forced()
    seconds = best_of(repeat, forced)
    return seconds, (forced() == ids32).float().mean().item()


def held_out(model: VideoFlexTok, clips: int, frames: int) -> dict:
    """{precision: {k: (mean PSNR, mean SSIM)}} over `clips` held-out procedural clips."""
    sampler = model.config.demo_sampler()
    size = model.resolution[0]
    sums: dict = {p: {} for p in PRECISIONS}
    for i in range(clips):
        clip = make_clip_tensor(EVAL_SEED_BASE + i, frames, size)
        for p in PRECISIONS:
            model.precision = p
            result = quality_curve(model, clip, sampler=sampler, cache=None)
            for r in result.rows:
                psnr, ssim = sums[p].get(r.k, (0.0, 0.0))
                sums[p][r.k] = (psnr + r.psnr / clips, ssim + r.ssim / clips)
        print(f"held-out clip {i + 1}/{clips}", file=sys.stderr, flush=True)
    return sums


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=str(DEMO_MODEL))
    p.add_argument("--clip", default=str(CLIP), help="real clip (default: porsche.mp4)")
    p.add_argument("--fps", type=float, default=12.0, help="read the clip at (12: 33 frames)")
    p.add_argument("--frames", type=int, default=33)
    p.add_argument("--clips", type=int, default=4, help="held-out procedural clips (0: none)")
    p.add_argument("--repeat", type=int, default=2, help="best of N timings")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = VideoFlexTok.from_pretrained(args.model, device="cpu")
    print(describe())
    print(f"torch threads {torch.get_num_threads()}; auto here: {Precision.resolve('auto', 'cpu')}")

    video, info = load_clip(args.clip, model.config, args.fps, 0.0, args.frames)
    k = model.n_registers // 4  # the page's default k
    print(f"\n{Path(args.clip).name}: {video.shape[1]} frames at {info.target_fps:g} fps, ", end="")
    print(
        f"{model.resolution[0]}x{model.resolution[1]}; demo defaults {model.config.demo_sampler()}"
    )
    times = speed(model, video, k, args.repeat)
    print(f"\n{'operation':<26} {'fp32 s':>8} {'bf16 s':>8} {'fp32/bf16':>10}")
    for name in dict.fromkeys(n for n, _ in times):
        a, b = times[name, "fp32"], times[name, "bf16"]
        print(f"{name:<26} {a:>8.2f} {b:>8.2f} {a / b:>9.2f}x")
    seconds, agree = bf16_tokenize(model, video, args.repeat)
    print(
        f"tokenize forced to bf16    {times['tokenize', 'fp32']:>8.2f} {seconds:>8.2f} "
        f"{times['tokenize', 'fp32'] / seconds:>9.2f}x  ids equal to fp32: {100 * agree:.1f} %"
    )

    if args.clips < 1:
        return
    sums = held_out(model, args.clips, args.frames)
    print(f"\nheld-out curve, {args.clips} procedural clips of {args.frames} frames (mean):")
    print(f"{'k':>4} {'PSNR fp32':>10} {'PSNR bf16':>10} {'dPSNR':>7} {'SSIM fp32':>10} ", end="")
    print(f"{'SSIM bf16':>10} {'dSSIM':>8}")
    worst = (0.0, 0.0)
    for kk in sums["fp32"]:
        (p32, s32), (p16, s16) = sums["fp32"][kk], sums["bf16"][kk]
        worst = (max(worst[0], abs(p16 - p32)), max(worst[1], abs(s16 - s32)))
        print(
            f"{kk:>4} {p32:>10.3f} {p16:>10.3f} {p16 - p32:>+7.3f} {s32:>10.4f} {s16:>10.4f} "
            f"{s16 - s32:>+8.4f}"
        )
    print(f"largest |dPSNR| {worst[0]:.3f} dB, |dSSIM| {worst[1]:.4f}")


if __name__ == "__main__":
    main()
