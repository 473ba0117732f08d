"""Measure the demo model with the quality-curve engine and write the figures for the README.

    python -m training.evaluate                       # assets/demo-model, 16 held-out clips
    python -m training.evaluate --model DIR --clips 4

Prints the mean PSNR / SSIM per budget k over held-out procedural clips (33 frames, seeds never
used in training), whether the curve rises, the time of one 33-frame reconstruction and of the
whole ladder at the demo defaults, the curves of the real clips (the two in ../shared/videos, if
present, and the Big Buck Bunny examples), then the demo-model issue's table of targets with
what this model measured against each. Writes docs/demo_model_grid.png (input and
reconstructions at several k), docs/demo_model_curves.png (PSNR against k; with --compare,
another evaluation's curves dashed beside them) and docs/demo_model_eval.json.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from synthetic import make_clip_tensor  # noqa: E402
from videoflextok_core.curve import grid_budgets, quality_curve  # noqa: E402
from videoflextok_core.media.write import to_uint8_frames  # noqa: E402
from videoflextok_core.model import Noise, VideoFlexTok  # noqa: E402

from .config import EVAL_SEED_BASE  # noqa: E402
from .vae_eval import REAL_CLIPS, clip_psnr  # noqa: E402

VAE_FRAMES = 17  # "VAE alone" is measured on one chunk of each held-out clip


@dataclass(frozen=True)
class Target:
    """One row of the demo-model issue's table: `value` measured, `bound` the target, met when
    value >= bound (`at_least`) or value <= bound."""

    figure: str
    value: float
    bound: float
    at_least: bool
    unit: str

    @property
    def met(self) -> bool:
        return self.value >= self.bound if self.at_least else self.value <= self.bound

    def as_row(self) -> str:
        sign = ">=" if self.at_least else "<="
        met = "yes" if self.met else "no"
        value, bound = f"{self.value:.2f} {self.unit}", f"{sign} {self.bound:g} {self.unit}"
        return f"| {self.figure} | {value.strip()} | {bound.strip()} | {met} |"


def targets(
    vae_alone: float,
    table: dict[int, dict],
    real: dict[str, dict[int, dict]],
    one_reconstruction_s: float,
    checkpoint_mb: float,
) -> list[Target]:
    """The issue's targets against the measured figures (real: per clip, per k)."""
    ks = list(table)
    psnr = [table[k]["psnr"] for k in ks]
    worst_dip = max([0.0] + [a - b for a, b in zip(psnr, psnr[1:])])
    rows = [
        Target("VAE alone, held-out procedural", vae_alone, 28.0, True, "dB"),
        Target("PSNR at full k, procedural", psnr[-1], 25.0, True, "dB"),
        Target("gain, full k minus k=1", psnr[-1] - psnr[0], 6.0, True, "dB"),
        Target("SSIM at full k", table[ks[-1]]["ssim"], 0.80, True, ""),
    ]
    for name, curve in real.items():
        full = curve[max(curve)]["psnr"]
        rows.append(Target(f"real clip {name} at full k", full, 22.0, True, "dB"))
    rows += [
        Target("curve over powers of two: worst dip", worst_dip, 0.2, False, "dB"),
        Target("one 33-frame reconstruction, defaults", one_reconstruction_s, 2.0, False, "s"),
        Target("checkpoint", checkpoint_mb, 40.0, False, "MB"),
    ]
    return rows


@torch.inference_mode()
def vae_alone_psnr(model: VideoFlexTok, clips: list[torch.Tensor]) -> float:
    """Mean PSNR (dB) of the VAE alone (posterior mean, decode) on the first chunk of each clip."""
    video = torch.stack([c[:, :VAE_FRAMES] for c in clips])
    return float(clip_psnr(model.vae.decode(model.vae.encode(video, sample=False)), video).mean())


def curve_of(model, clip, sampler):
    return quality_curve(model, clip, sampler=sampler, cache=None)


def mean_table(results) -> dict[int, dict]:
    ks = results[0].budgets
    out = {}
    for k in ks:
        rows = [r.row(k) for r in results]
        out[k] = {
            "psnr": float(np.mean([r.psnr for r in rows])),
            "ssim": float(np.mean([r.ssim for r in rows])),
            "total_tokens": rows[0].total_tokens,
            "bytes": rows[0].bytes,
        }
    return out


def frame_grid(clip, result, ks, path: Path, frames=(0, 8, 16, 24, 32)):
    """Rows: input, then reconstructions at each k; columns: frames."""
    rows = [clip] + [result.reconstructions[k] for k in ks]
    tiles = []
    for video in rows:
        tiles.append(np.concatenate(list(to_uint8_frames(video[:, list(frames)])), axis=1))
    image = np.concatenate(tiles, axis=0)
    image = image.repeat(2, axis=0).repeat(2, axis=1)  # 64 px frames are small
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def curves_figure(summary: dict, path: Path, baseline: dict | None = None) -> None:
    """PSNR against k (log2 axis) from an evaluation's summary (demo_model_eval.json's
    content): left the held-out procedural mean, right each real clip; `baseline`, another
    summary (the model it replaces), dashed in grey for comparison."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    def curve(rows: dict) -> tuple[list[int], list[float]]:  # rows: JSON's {"k": {"psnr"}}
        ks = sorted(int(k) for k in rows)
        return ks, [rows[str(k)]["psnr"] for k in ks]

    fig, (held, real) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100, sharey=True)
    runs = [(baseline, "--", 0.5)] if baseline else []
    for run, style, alpha in runs + [(summary, "-", 1.0)]:
        name = run.get("label") or run["model"]
        held.plot(*curve(run["table"]), style, marker="o", alpha=alpha, label=name)
        for i, (clip, rows) in enumerate(run["real_clips"].items()):
            colour = f"C{i}"
            label = clip if run is summary else None
            real.plot(*curve(rows), style, color=colour, alpha=alpha, marker=".", label=label)
    held.set_title(f"held-out procedural clips ({summary['clips']}, {summary['frames']} frames)")
    dashed = f"; dashed: {baseline.get('label') or baseline['model']}" if baseline else ""
    real.set_title(f"real clips (never trained on){dashed}")
    for ax in (held, real):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%d"))
        ax.set_xlabel("k, tokens per latent frame")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    held.set_ylabel("PSNR (dB)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="assets/demo-model")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=33)
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--compare", type=Path, default=None, help="another demo_model_eval.json, dashed"
    )
    p.add_argument("--label", default=None, help="the model's name in the figure (default: path)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = VideoFlexTok.from_pretrained(args.model, device="cpu")
    sampler = model.config.demo_sampler()  # seed 0
    settings = sampler.official("steps", "guidance", "apg")  # as the checkpoint spells them
    size = model.resolution[0]
    print(f"model {args.model}: {settings}", flush=True)

    # One reconstruction of a 33-frame clip at the demo defaults, and the whole ladder.
    clip = make_clip_tensor(EVAL_SEED_BASE, args.frames, size)
    tokens = model.tokenize(clip[None], sample_posterior=False)
    t0 = time.perf_counter()
    model.detokenize(tokens, sampler, noise=Noise(generator=sampler.generator()))
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    first = curve_of(model, clip, sampler)
    ladder = time.perf_counter() - t0
    print(f"one 33-frame reconstruction: {one:.1f} s; whole ladder: {ladder:.1f} s", flush=True)

    results, clips = [first], [clip]
    for i in range(1, args.clips):
        clips.append(make_clip_tensor(EVAL_SEED_BASE + i, args.frames, size))
        results.append(curve_of(model, clips[-1], sampler))
        print(f"clip {i + 1}/{args.clips}", flush=True)
    table = mean_table(results)
    ks = list(table)
    psnr = [table[k]["psnr"] for k in ks]
    rises = all(b >= a - 0.3 for a, b in zip(psnr, psnr[1:]))
    print(f"{'k':>4} {'tokens':>7} {'bytes':>7} {'PSNR':>7} {'SSIM':>7}")
    for k in ks:
        r = table[k]
        print(
            f"{k:>4} {r['total_tokens']:>7} {r['bytes']:>7.0f} {r['psnr']:>7.2f} {r['ssim']:>7.3f}"
        )
    gain = psnr[-1] - psnr[0]
    print(f"PSNR gain full k over k=1: {gain:.2f} dB; non-decreasing within 0.3 dB: {rises}")

    real = {}
    for path in REAL_CLIPS:
        if not path.is_file():
            continue
        r = curve_of(model, str(path), sampler)
        real[path.name] = {k: {"psnr": r.row(k).psnr, "ssim": r.row(k).ssim} for k in r.budgets}
        print(path.name, {k: round(v["psnr"], 2) for k, v in real[path.name].items()})

    vae_alone = vae_alone_psnr(model, clips)
    weights = Path(args.model) / "model.safetensors"
    mb = weights.stat().st_size / 1e6 if weights.is_file() else float("nan")
    rows = targets(vae_alone, table, real, one, mb)
    print("\n| figure | measured | target | met |\n|---|---:|---:|---|")
    print("\n".join(r.as_row() for r in rows))

    grid_ks = [k for k in grid_budgets(model.n_registers) if k in first.reconstructions]
    frame_grid(clip, first, grid_ks, args.out / "demo_model_grid.png")
    summary = {
        "model": args.model,
        "label": args.label or args.model,
        "settings": settings,
        "clips": args.clips,
        "frames": args.frames,
        "seeds": [EVAL_SEED_BASE + i for i in range(args.clips)],
        "table": table,
        "gain_db": gain,
        "non_decreasing_within_0.3db": rises,
        "seconds_one_reconstruction_33_frames": one,
        "seconds_ladder_33_frames": ladder,
        "real_clips": real,
        "vae_alone_psnr_17_frames": vae_alone,
        "checkpoint_mb": mb,
        "targets": [
            {"figure": r.figure, "value": r.value, "target": r.bound, "met": r.met} for r in rows
        ],
        "grid_rows": ["input"] + [f"k={k}" for k in grid_ks],
    }
    baseline = json.loads(args.compare.read_text()) if args.compare else None
    (args.out / "demo_model_eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    curves_figure(json.loads(json.dumps(summary)), args.out / "demo_model_curves.png", baseline)


if __name__ == "__main__":
    main()
