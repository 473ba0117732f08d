"""The released model at full size: time, memory and achieved TFLOP/s (prints a table; not a test).

    python benchmarks/bench_real.py --device cuda                    # on a GPU, float32 weights
    python benchmarks/bench_real.py --device cuda --dtype bfloat16   # bf16 weights (5.4 GB)
    python benchmarks/bench_real.py --depth 1 --resolution 64 --frames 17 --steps 2   # CPU

The model is the inferred config of EPFL-VILAB/videoflextok_d18_d28
(benchmarks/real_config_inferred.json, a copy of ../shared/reference/'s that travels with the
repository to a GPU machine: 2.7 B parameters, 256x256) with RANDOM weights
made directly on the device in the target dtype: built on the meta device like the loader does,
moved with `to_empty`, then every tensor is filled on the device from one seeded generator
(float32 draws rounded into the dtype, so bf16 weights are the float32 weights rounded). No
float32 copy is ever made on the host. `--depth` overrides every transformer's depth and
`--resolution` the frame size, for CPU runs.

Rows: materialise, tokenize (posterior mean), one reconstruction at k = N (guidance + APG), the
ladder (the curve engine's batched decode of every default budget, 9 for N = 256, metrics
included). Each with the peak memory (CUDA: max allocated during the row; CPU: the process's
peak RSS so far) and the TFLOP/s achieved on FLOPs counted with `videoflextok_core.flops`
against the device's dense bf16 peak. Precision: on CUDA the model's bf16 autocast (float32
weights) or bf16 weights; on the CPU float32 as the app runs it, or bf16 weights under CPU
autocast. Then, unless --no-compare, the same random weights once as float32 + bf16 autocast and
once as bf16 weights: token-id agreement of tokenize and the decoded video's difference.
"""

import argparse
import copy
import json
import resource
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from videoflextok_core.curve import default_budgets, quality_curve  # noqa: E402
from videoflextok_core.flops import bf16_peak_tflops, model_flops  # noqa: E402
from videoflextok_core.hardware import describe  # noqa: E402
from videoflextok_core.model import Noise, VideoFlexTok  # noqa: E402
from videoflextok_core.model.config import parse_config  # noqa: E402
from videoflextok_core.model.fsq import FSQ  # noqa: E402
from videoflextok_core.model.sampling import Sampler  # noqa: E402

REAL_CONFIG = Path(__file__).with_name("real_config_inferred.json")  # = ../shared/reference/'s
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
EMBEDDING_STD = 0.02  # registers, positional embeddings, mask and null tokens (ViT-style)
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# ---------------------------------------------------------------------------------------------
# The model, random weights made on the device
# ---------------------------------------------------------------------------------------------


def real_config(depth: int | None, resolution: int) -> dict:
    """The inferred released config; `depth` overrides every transformer's depth, `resolution`
    the frame size (a multiple of 16: VAE 8x, then 2x2 patches)."""
    if resolution < 16 or resolution % 16:
        raise ValueError(f"--resolution must be a multiple of 16 (>= 16), got {resolution}")
    if depth is not None and depth < 1:
        raise ValueError(f"--depth must be >= 1, got {depth}")
    cfg = copy.deepcopy(json.loads(REAL_CONFIG.read_text()))
    if resolution != cfg["video_preprocess_args"]["size"]:
        cfg["vae_video_sizes"][1:] = [resolution // 8, resolution // 8]
        cfg["video_preprocess_args"]["size"] = resolution
        drop_repa_head(cfg["video_flex_tok"]["decoder"]["module_dict"])
    for part in ("encoder", "decoder"):
        for spec in cfg["video_flex_tok"][part]["module_dict"].values():
            if depth is not None and "depth" in spec:
                spec["depth"] = depth
                if spec.get("intermediate_layers"):  # the REPA tap must stay inside the trunk
                    spec["intermediate_layers"] = [
                        min(i, depth - 1) for i in spec["intermediate_layers"]
                    ]
    return cfg


def drop_repa_head(modules: dict) -> None:
    """Remove the decoder's REPA head (a training loss, never run at inference; same FLOPs): its
    flex-attention mask needs t x h/16 x w/16 patch tokens to be a multiple of 128, which only
    the released 256x256 gives (5 x 16 x 16 = 1,280)."""
    for name in ("dec_repa_unpacker", "dec_repa_head"):
        del modules[name]
    for key in ("repa_block_mask_write_key", "repa_mask_mode", "repa_patch_index"):
        del modules["dec_seq_packer"][key]
    for key in ("intermediate_layer_write_key", "intermediate_layers"):
        del modules["dec_transformer"][key]


@torch.no_grad()
def cast_weights(model: nn.Module, dtype: torch.dtype) -> None:
    """Every parameter to `dtype` except LayerNorm's affine ones, which stay float32: the CPU's
    layer_norm refuses bf16 parameters on float32 inputs (issue 10, item 4), and autocast runs
    norms in float32 anyway. They are the VAE's 184 vectors, 0.1 MB."""
    for module in model.modules():
        if not isinstance(module, nn.LayerNorm):
            for p in module.parameters(recurse=False):
                p.data = p.data.to(dtype)


@torch.no_grad()
def materialise(cfg: dict, device: torch.device, dtype: torch.dtype, seed: int) -> VideoFlexTok:
    """Random-weight model made on `device` in `dtype`, the same values for any dtype: linear and
    conv weights N(0, 1/fan_in), biases 0, LayerNorm 1 and 0, embeddings N(0, 0.02)."""
    with torch.device("meta"):
        model = VideoFlexTok(cfg)
    cast_weights(model, dtype)  # on meta: free
    model.to_empty(device=device)
    generator = torch.Generator(device).manual_seed(seed)
    for module in model.modules():
        layer = isinstance(module, LAYERS)
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, nn.LayerNorm):
                p.fill_(1.0 if name == "weight" else 0.0)
            elif layer and name == "bias":
                p.zero_()
            else:
                std = p[0].numel() ** -0.5 if layer else EMBEDDING_STD  # 1 / sqrt(fan_in)
                draw = torch.randn(p.shape, generator=generator, device=device)  # float32
                p.copy_(draw * std)  # rounded to nearest in bf16
    model.fsq = FSQ(list(model.config.fsq.levels)).to(device)  # non-persistent buffers
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device: torch.device) -> float:
    """CUDA: max allocated since `reset_peak`; CPU: the process's peak RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def timed(device: torch.device, fn):
    """(seconds, fn()) with the device synchronised on both sides."""
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def cpu_autocast(device: torch.device, dtype: torch.dtype):
    """bf16 weights on the CPU need autocast (the model autocasts on CUDA only)."""
    if device.type == "cpu" and dtype == torch.bfloat16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def clip(frames: int, resolution: int, device: torch.device) -> torch.Tensor:
    """A seeded random clip (1, 3, T, H, W) in [-1, 1] (random weights: content is irrelevant)."""
    g = torch.Generator().manual_seed(0)
    return (torch.rand(1, 3, frames, resolution, resolution, generator=g) * 2 - 1).to(device)


class Table:
    """Rows of (what, seconds, counted FLOPs, peak memory), printed with the achieved TFLOP/s."""

    def __init__(self, peak_tflops: float | None, memory: str):
        self.peak = peak_tflops
        peak = "peak n/a" if peak_tflops is None else f"% of {peak_tflops:.0f}"
        print(f"{'what':<46} {'seconds':>9} {'TFLOP':>9} {'TFLOP/s':>9} {peak:>10} {memory:>10}")

    def row(self, what: str, seconds: float, flops: int | None, memory_gb: float) -> None:
        tflop = "" if flops is None else f"{flops / 1e12:.2f}"
        rate = "" if flops is None else f"{flops / 1e12 / seconds:.3f}"
        share = (
            "n/a"
            if flops is None or self.peak is None
            else f"{100 * flops / 1e12 / seconds / self.peak:.1f}"
        )
        print(
            f"{what:<46} {seconds:>9.3f} {tflop:>9} {rate:>9} {share:>10} {memory_gb:>10.2f}",
            flush=True,
        )


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------


def bench(model: VideoFlexTok, args, sampler: Sampler, table: Table) -> None:
    """Tokenize, one reconstruction and the ladder, each a row of `table`."""
    device, dtype = model.device, next(model.parameters()).dtype
    flops = model_flops(model.config)
    video = clip(args.frames, args.resolution, device)
    N, T = model.n_registers, args.frames
    budgets = default_budgets(N)[-args.budgets :] if args.budgets else default_budgets(N)
    with cpu_autocast(device, dtype):
        if device.type == "cuda":  # kernels load, allocator warms up (not counted)
            chunk = video[:, :, : model.chunking.chunk]
            warm = replace(sampler, steps=1)
            seconds, _ = timed(device, lambda: model.detokenize(model.tokenize(chunk), warm))
            table.row("warm-up (1 chunk, 1 step)", seconds, None, peak_gb(device))

        reset_peak(device)
        seconds, tokens = timed(device, lambda: model.tokenize(video, sample_posterior=False))
        table.row(f"tokenize {T} frames", seconds, flops.tokenize(T), peak_gb(device))

        reset_peak(device)
        generator = sampler.generator(device)
        seconds, _ = timed(
            device, lambda: model.detokenize(tokens, sampler, noise=Noise(generator=generator))
        )
        what = f"reconstruct k={N}, {sampler.steps} steps, g={sampler.guidance:g} APG"
        table.row(what, seconds, flops.detokenize(T, sampler), peak_gb(device))

        reset_peak(device)
        seconds, result = timed(
            device,
            lambda: quality_curve(
                model, video[0], budgets=budgets, sampler=sampler, tokens=tokens[0]
            ),
        )
        what = f"ladder of {len(budgets)} budgets (batches of {result.batch_size})"
        work = flops.detokenize(T, sampler, batch=len(budgets))
        table.row(what, seconds, work, peak_gb(device))


def autocast_outputs(model, video, sampler: Sampler, ids: torch.Tensor | None = None):
    """Under bf16 autocast: -> (token ids (1, t, N) of `video`, the decode (1, 3, T, H, W) of
    `ids`, default those ids), float32, from the sampler's seed."""
    with torch.autocast(model.device.type, dtype=torch.bfloat16):
        own = model.tokenize(video, sample_posterior=False)[0]
        ids = own if ids is None else ids
        decoded = model.detokenize(
            [ids], sampler, noise=Noise(generator=sampler.generator(model.device))
        )
    return own, decoded[0].float()


def compare(cfg: dict, args, sampler: Sampler) -> None:
    """The same random weights as float32 + bf16 autocast and then as bf16 weights (rounded
    from them): token-id agreement of tokenize, and how far the decodes of the same tokens are."""
    device = torch.device(args.device)
    video = clip(args.frames, args.resolution, device)
    model = materialise(cfg, device, torch.float32, args.seed)
    ids32, video32 = autocast_outputs(model, video, sampler)
    cast_weights(model, torch.bfloat16)
    ids16, video16 = autocast_outputs(model, video, sampler, ids=ids32)
    diff = (video16 - video32).abs()
    agree = (ids16 == ids32).float().mean().item()
    T = args.frames
    print(f"bf16 weights vs float32 weights + bf16 autocast, same random weights, {T} frames:")
    print(f"  token ids equal: {100 * agree:.2f} % of {ids32.numel()}")
    print(
        f"  decoded video (same tokens, same noise): max abs diff {diff.max().item():.4f}, "
        f"mean abs diff {diff.mean().item():.5f} (reference std {video32.std().item():.4f})"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="weights dtype")
    p.add_argument("--depth", type=int, default=None, help="every transformer's depth (CPU runs)")
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--frames", type=int, default=33)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=20.0)
    p.add_argument("--budgets", type=int, default=None, help="only the largest n ladder budgets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads on the CPU")
    p.add_argument("--no-compare", action="store_true", help="skip bf16 vs float32 weights")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    sampler = Sampler(steps=args.steps, guidance=args.guidance, apg=True, seed=args.seed)
    try:
        cfg = real_config(args.depth, args.resolution)
        parse_config(cfg)  # the overrides must make a config the port runs
    except ValueError as e:
        p.error(str(e))

    print(describe())
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    peak = None if gpu is None else bf16_peak_tflops(gpu)
    autocast = device.type == "cuda" or dtype == torch.bfloat16
    print(
        f"device {device} ({gpu or 'CPU'}); weights {args.dtype}, "
        f"{'bf16 autocast' if autocast else 'float32 compute'}; bf16 peak "
        + ("n/a" if peak is None else f"{peak:.0f} TFLOP/s")
    )
    depth = "released depths 18/28" if args.depth is None else f"depth {args.depth} (reduced)"
    R = args.resolution
    print(f"model: inferred d18_d28 with random weights, {depth}, {R}x{R}, {args.frames} frames")
    seconds, flops = timed(torch.device("cpu"), lambda: model_flops(parse_config(cfg)))
    print(
        f"FLOPs counted on meta in {seconds:.1f} s, TFLOP per sample and chunk: tokenize "
        f"{(flops.vae_encode + flops.encoder) / 1e12:.2f}, decoder forward "
        f"{flops.decoder_forward / 1e12:.2f}, VAE decode {flops.vae_decode / 1e12:.2f}"
    )

    table = Table(peak, "peak GB" if device.type == "cuda" else "RSS GB")
    reset_peak(device)
    seconds, model = timed(device, lambda: materialise(cfg, device, dtype, args.seed))
    params = sum(p.numel() for p in model.parameters()) / 1e9
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e9
    table.row(
        f"materialise {params:.2f} B params, {weights:.2f} GB", seconds, None, peak_gb(device)
    )
    bench(model, args, sampler, table)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if not args.no_compare:
        compare(cfg, args, sampler)


if __name__ == "__main__":
    main()
