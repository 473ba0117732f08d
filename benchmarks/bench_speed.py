"""Same workload, two source trees, side by side: is this tree faster than `--baseline`, with the
same outputs?

    git -C /work/main worktree add /work/wt-baseline <commit> --detach
    python benchmarks/bench_speed.py --baseline ../wt-baseline [--repeats 3] [--size 64]

Model: random weights (seed 0) with the widths of EPFL-VILAB/videoflextok_d18_d28 inferred in
../shared/reference/real_config_inferred.json (full VidTok, 256 registers, encoder 1152, decoder
1792) at reduced transformer depth (--depth, default 1) and --size x --size frames (the latent
grid is size/8). The REPA head is left out: decoding never runs it, and its flex-attention mask
check only fits 256x256.

Each repeat runs one subprocess per tree (baseline first, then this tree, alternating), on one
torch thread (torch.set_num_threads(1), OMP_NUM_THREADS=1: timings on a shared machine are less
noisy on one thread), with the same seeds and inputs. Each subprocess times, once each:
  tokenize   --frames frames (2 chunks at 33), VAE posterior sampled from torch.manual_seed(0)
  decode     detokenize random ids of those frames, --steps steps, no guidance
  guided     the same with guidance 7.5 + APG (cond and uncond batched: twice the flow work)
  vae enc    VidTok encode of one 17-frame chunk (posterior mean)
  vae dec    VidTok decode of one chunk (5 latent frames)
after an untimed warm-up (VidTok encode and decode of one frame). The table gives the median
seconds per tree, the speed-up (baseline / this) and the max abs difference between the two
trees' outputs (ids: how many differ), from the first repeat.
"""

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
PARTS = ("tokenize", "decode", "guided", "vae enc", "vae dec")


def bench_config(size: int, depth: int) -> dict:
    """The inferred real config at `size` x `size` pixels and transformer `depth`, no REPA head."""
    if size % 16:
        raise ValueError(f"--size must be a multiple of 16 (latent patches of 2x2), got {size}")
    cfg = copy.deepcopy(json.loads((REFERENCE / "real_config_inferred.json").read_text()))
    cfg["vae_video_sizes"] = [5, size // 8, size // 8]
    modules = cfg["video_flex_tok"]["decoder"]["module_dict"]
    for key in ("repa_block_mask_write_key", "repa_mask_mode", "repa_patch_index"):
        del modules["dec_seq_packer"][key]
    for key in ("intermediate_layer_write_key", "intermediate_layers"):
        del modules["dec_transformer"][key]
    del modules["dec_repa_unpacker"], modules["dec_repa_head"]
    for part, name in (("encoder", "enc_transformer"), ("decoder", "dec_transformer")):
        cfg["video_flex_tok"][part]["module_dict"][name]["depth"] = depth
    return cfg


def worker(tree: Path, out: Path, args) -> None:
    """Run every part once with the source tree `tree`; write times and outputs to `out`."""
    sys.path.insert(0, str(tree))
    import torch
    from safetensors.torch import save_file

    from videoflextok_core.model import VideoFlexTok

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = VideoFlexTok(bench_config(args.size, args.depth)).eval()
    fingerprint = sum(float(p.double().abs().sum()) for p in model.state_dict().values())
    gen = torch.Generator().manual_seed(1)
    video = torch.rand(1, 3, args.frames, args.size, args.size, generator=gen) * 2 - 1
    t = 1 + (args.frames - 1) // 4
    ids = torch.randint(0, model.codebook_size, (1, t, model.n_registers), generator=gen)
    chunk = video[:, :, :17]
    latents = torch.randn(1, 16, 5, args.size // 8, args.size // 8, generator=gen)

    # upstream's keywords: `detokenize_official` here, `detokenize` in trees before it existed
    detokenize = getattr(model, "detokenize_official", model.detokenize)

    def decode(guidance: float):
        return detokenize(
            [ids],
            timesteps=args.steps,
            guidance_scale=guidance,
            perform_norm_guidance=guidance != 1.0,
            generator=torch.Generator().manual_seed(2),
        )[0]

    def tokenize():
        torch.manual_seed(0)
        return model.tokenize(video)[0]

    with torch.inference_mode():
        model.vae.decode(model.vae.encode(chunk[:, :, :1], sample=False))  # warm-up
        runs = {
            "tokenize": tokenize,
            "decode": lambda: decode(1.0),
            "guided": lambda: decode(7.5),
            "vae enc": lambda: model.vae.encode(chunk, sample=False),
            "vae dec": lambda: model.vae.decode(latents),
        }
        seconds, outputs = {}, {}
        for part in args.parts:
            run = runs[part]
            t0 = time.perf_counter()
            outputs[part] = run().contiguous()
            seconds[part] = time.perf_counter() - t0
    save_file(outputs, str(out.with_suffix(".safetensors")))
    out.write_text(json.dumps({"seconds": seconds, "fingerprint": fingerprint}))


def run_tree(tree: Path, out: Path, args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", str(tree), "--out", str(out)]
    cmd += ["--size", str(args.size), "--depth", str(args.depth)]
    cmd += ["--frames", str(args.frames), "--steps", str(args.steps)]
    cmd += ["--parts", ",".join(args.parts)]
    subprocess.run(cmd, env=env, check=True)
    return json.loads(out.read_text())


def differences(a: Path, b: Path) -> dict[str, str]:
    """Per part: max abs difference of the two trees' outputs (ids: how many differ)."""
    from safetensors.torch import load_file

    x, y = (
        load_file(str(a.with_suffix(".safetensors"))),
        load_file(str(b.with_suffix(".safetensors"))),
    )
    diffs = {}
    for part in x:
        if x[part].dtype.is_floating_point:
            diffs[part] = f"{(x[part] - y[part]).abs().max().item():.1e}"
        else:
            diffs[part] = f"{int((x[part] != y[part]).sum())}/{x[part].numel()} ids"
    return diffs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--baseline", type=Path, help="the source tree to compare with")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--size", type=int, default=64, help="frame height and width (pixels)")
    p.add_argument("--depth", type=int, default=1, help="transformer depth (released: 18 / 28)")
    p.add_argument("--frames", type=int, default=33, help="1 + 16k frames")
    p.add_argument("--steps", type=int, default=8, help="flow sampler steps")
    p.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.parts = [x.strip() for x in args.parts.split(",")]
    unknown = [x for x in args.parts if x not in PARTS]
    if unknown:
        p.error(f"unknown --parts {unknown}; choose from {', '.join(PARTS)}")
    if args.worker is not None:
        return worker(args.worker, args.out, args)
    if args.baseline is None or not (args.baseline / "videoflextok_core").is_dir():
        p.error(f"--baseline must be a source tree with videoflextok_core/, got {args.baseline}")
    if args.frames < 17 or (args.frames - 1) % 16:
        p.error(f"--frames must be 1 + 16k (k >= 1), got {args.frames}")

    sys.path.insert(0, str(ROOT))
    from videoflextok_core.hardware import describe

    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    print(describe().replace("2 torch threads", "1 torch thread"))
    print(
        f"real widths, depth {args.depth}, {args.size}x{args.size}, {args.frames} frames, "
        f"{args.steps} steps; 1 thread; median of {args.repeats} alternating runs per tree"
    )
    for name, tree in trees.items():
        print(f"  {name}: {tree}")
    times = {name: {part: [] for part in args.parts} for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            prints = {}
            for name, tree in trees.items():
                result = run_tree(tree, Path(tmp) / f"{name}-{r}.json", args)
                prints[name] = result["fingerprint"]
                for part in args.parts:
                    times[name][part].append(result["seconds"][part])
            if prints["baseline"] != prints["this"]:
                raise SystemExit(f"the trees built different random weights: {prints}")
            row = ", ".join(
                f"{part} {times['baseline'][part][-1]:.2f}/{times['this'][part][-1]:.2f}"
                for part in args.parts
            )
            print(f"repeat {r + 1} (baseline/this s): {row}", flush=True)
        diffs = differences(Path(tmp) / "baseline-0.json", Path(tmp) / "this-0.json")

    print(f"\n{'part':<10} {'baseline s':>11} {'this s':>9} {'speed-up':>9} {'max |diff|':>16}")
    for part in args.parts:
        base = statistics.median(times["baseline"][part])
        this = statistics.median(times["this"][part])
        print(f"{part:<10} {base:>11.2f} {this:>9.2f} {base / this:>8.2f}x {diffs[part]:>16}")


if __name__ == "__main__":
    main()
