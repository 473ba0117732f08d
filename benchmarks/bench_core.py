"""Speed and memory of tokenize / detokenize (prints a table; not a test).

    python benchmarks/bench_core.py                 # tiny fixture + reduced-depth real widths
    python benchmarks/bench_core.py --skip-real     # tiny fixture only (seconds)
    python benchmarks/bench_core.py --device cuda   # on a GPU (bf16 autocast)

Models:
  tiny  the shared reference checkpoint (../shared/reference/tiny, 32x48, N=16)
  real  a random-init model with the inferred widths of EPFL-VILAB/videoflextok_d18_d28
        (encoder 1152, decoder 1792, N=256, 256x256, full VidTok) at reduced transformer
        depth (--depth, default 2 of 18/28), one 17-frame chunk.
Also times the guidance step two ways: our single batched forward for the cond + uncond
branches versus two separate forwards (what upstream does), to show what batching buys.
"""

import argparse
import copy
import json
import resource
import sys
import time
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from videoflextok_core.hardware import describe  # noqa: E402
from videoflextok_core.model import Noise, Sampler, VideoFlexTok  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, device, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def reduced_real_model(depth: int, device) -> VideoFlexTok:
    cfg = json.loads((REFERENCE / "real_config_inferred.json").read_text())
    cfg = copy.deepcopy(cfg)
    for part, name in (("encoder", "enc_transformer"), ("decoder", "dec_transformer")):
        cfg["video_flex_tok"][part]["module_dict"][name]["depth"] = depth
    torch.manual_seed(0)
    with torch.device(device):
        model = VideoFlexTok(cfg)
    return model.eval()


def bench(name, model: VideoFlexTok, frames: int, steps: list[int], budgets: list[int], repeat):
    device = model.device
    H, W = model.resolution
    N = model.n_registers
    video = torch.rand(1, 3, frames, H, W, device=device) * 2 - 1
    rows = []
    t, tokens = timed(lambda: model.tokenize(video), device, repeat)
    rows.append((name, "tokenize", f"{frames} frames", t, peak_mb(device)))
    for nb in budgets:
        ks = [max(1, N >> i) for i in range(nb)][::-1]
        for s in steps:
            for g in (1.0, 7.5):
                run = partial(
                    model.detokenize,
                    tokens * nb,
                    Sampler(steps=s, guidance=g, apg=g != 1.0),
                    keep=ks,
                    noise=Noise(generator=torch.Generator(device).manual_seed(0)),
                )

                t, _ = timed(run, device, repeat)
                what = f"{nb} budget{'s' * (nb > 1)}, {s} steps, " + (
                    "guidance off" if g == 1.0 else "APG g=7.5"
                )
                rows.append((name, "detokenize", what, t, peak_mb(device)))
    return rows


def bench_cfg_batching(name, model: VideoFlexTok, repeat):
    """One decoder step with guidance: batched cond+uncond vs two forwards."""
    device = model.device
    t, h, w = model.config.vae_video_sizes
    B, N = 2, model.n_registers
    q = model.fsq.ids_to_codes(torch.randint(0, model.codebook_size, (B, t, N), device=device))
    x = torch.randn(B, model.config.vae.arch.z_channels, t, h, w, device=device)
    tau = torch.full((B,), 0.5, device=device)
    dec = model.decoder

    @torch.inference_mode()
    def two():
        with model.precision.decoding():
            return dec(q, x, tau), dec(
                q, x, tau, uncond=torch.ones(B, dtype=torch.bool, device=device)
            )

    @torch.inference_mode()
    def one():
        with model.precision.decoding():
            u = torch.arange(2 * B, device=device) >= B
            return dec(torch.cat([q, q]), torch.cat([x, x]), tau.repeat(2), uncond=u)

    t2, _ = timed(two, device, repeat)
    t1, _ = timed(one, device, repeat)
    return [
        (name, "guided step", f"{B} samples, two forwards (upstream)", t2, peak_mb(device)),
        (name, "guided step", f"{B} samples, one batched forward", t1, peak_mb(device)),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--depth", type=int, default=2, help="transformer depth of the 'real' model")
    p.add_argument("--skip-real", action="store_true")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(describe())
    print(f"device {device}, threads {torch.get_num_threads()}")

    rows = []
    tiny = VideoFlexTok.from_pretrained(REFERENCE / "tiny", device=device)
    rows += bench("tiny", tiny, 33, [10, 25], [1, 9], args.repeat)
    rows += bench_cfg_batching("tiny", tiny, args.repeat)
    if not args.skip_real:
        real = reduced_real_model(args.depth, device)
        steps = [2] if device.type == "cpu" else [10, 25]
        rows += bench(
            f"real-d{args.depth}", real, 17, steps, [1, 9] if device.type == "cuda" else [1], 1
        )
        rows += bench_cfg_batching(f"real-d{args.depth}", real, 1)

    print(f"{'model':<9} {'op':<11} {'setting':<40} {'seconds':>9} {'peak MB':>9}")
    for name, op, what, t, mb in rows:
        print(f"{name:<9} {op:<11} {what:<40} {t:>9.3f} {mb:>9.0f}")


if __name__ == "__main__":
    main()
