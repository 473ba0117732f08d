"""Train the demo model from scratch on procedural clips and save it in the Hub layout.

    python -m training.train_demo --out assets/demo-model          # the shipped model
    python -m training.train_demo --out /tmp/smoke --quick          # a 2-minute smoke run
    python -m training.train_demo --out DIR --device cuda --profile gpu   # the resampler on a GPU

Stages (all hyperparameters in training/config.py):
  1. VidTok VAE on synthetic clips            -> work/vae.safetensors
  2. VAE posterior of the training clips      -> work/latents.safetensors
  3. resampler (encoder + FSQ + flow decoder) -> work/resampler_state.safetensors (resumable)
  4. guidance scale tuned on held-out clips, then config.json + model.safetensors in --out,
     with `demo_defaults` (steps, guidance) that the app reads, and training_log.json.
Re-running with the same --work resumes where it stopped; a finished stage 3 leaves
work/resampler.safetensors (the EMA weights), so stage 4 can run on another machine.
"""

import os

# Threads sleep instead of spinning when they wait: on a shared 2-core machine spinning OpenMP
# threads made training steps several times slower. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from synthetic import make_batch
from videoflextok_core.model import Noise, Sampler, VideoFlexTok
from videoflextok_core.model.checkpoint import save_pretrained
from videoflextok_core.model.config import parse_config

from .config import EVAL_SEED_BASE, GPU_PROFILE, QUICK, DemoConfig, hub_config
from .train_resampler import encode_dataset, load_resampler, save_resampler, train_resampler
from .train_vae import (
    DECODER_FILE,
    finetune_decoder,
    load_decoder_finetune,
    train_vae,
    vae_psnr,
    vae_spec,
)

GUIDANCE_GRID = (1.0, 2.0, 4.0, 6.0, 8.0)
DEMO_STEPS = 16  # sampler steps of the app's default on CPU


class Logger:
    def __init__(self, path: Path):
        self.path = path
        self.records = []

    def __call__(self, **record):
        record["time"] = round(time.time(), 1)
        self.records.append(record)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(
            " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in record.items()
                if k != "time"
            ),
            flush=True,
        )


@torch.inference_mode()
def eval_psnr(model: VideoFlexTok, seeds, budgets, guidance: float, steps: int, c) -> dict:
    """Mean PSNR (dB) per budget k on 17-frame held-out clips, one seeded decode each."""
    video = make_batch(seeds, c.chunk, c.size, difficulty=c.difficulty).to(model.device)
    torch.manual_seed(0)
    tokens = model.tokenize(video, sample_posterior=False)
    out = {}
    for k in budgets:
        sampler = Sampler(steps=steps, guidance=guidance, apg=guidance != 1.0)
        noise = Noise(generator=torch.Generator(model.device).manual_seed(0))
        recon = model.detokenize(tokens, sampler, keep=[k] * len(tokens), noise=noise)
        recon = torch.cat(recon).clamp(-1, 1)
        mse = ((recon - video) / 2).pow(2).mean(dim=(1, 2, 3, 4))
        out[k] = float((-10 * torch.log10(mse)).mean())
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("assets/demo-model"))
    p.add_argument("--work", type=Path, default=None, help="scratch dir (default: runs/<out name>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny step counts, for a smoke test")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu", help="where stages 2-4 run (default cpu)")
    p.add_argument(
        "--profile",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: more clips, larger batches (config.GPU_PROFILE)",
    )
    p.add_argument(
        "--dec-steps",
        type=int,
        default=None,
        help="stage 1b: fine-tune the VAE decoder alone for this many steps",
    )
    p.add_argument("--rs-steps", type=int, default=None, help="override the resampler steps")
    p.add_argument("--rs-lr", type=float, default=None, help="override the resampler peak LR")
    p.add_argument(
        "--rs-minutes",
        type=float,
        default=None,
        help="fit the resampler run to this many minutes (the step count it fixes "
        "is logged; pass it as --rs-steps to reproduce)",
    )
    p.add_argument("--workers", type=int, default=0, help="processes rendering clips (stage 2)")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="warm start: begin stage 3 from this resampler.safetensors",
    )
    p.add_argument("--stop-after", choices=("vae", "latents", "resampler"), default=None)
    args = p.parse_args()

    c = DemoConfig(seed=args.seed)
    if args.profile == "gpu":
        c = replace(c, **GPU_PROFILE)
    if args.quick:
        c = replace(c, **QUICK)
    if args.dec_steps is not None:
        c = replace(c, dec_finetune_steps=args.dec_steps)
    if args.rs_steps is not None:
        c = replace(c, rs_steps=args.rs_steps)
    if args.rs_lr is not None:
        c = replace(c, rs_lr=args.rs_lr)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads or c.threads)
    work = args.work or Path("runs") / args.out.name
    work.mkdir(parents=True, exist_ok=True)
    log = Logger(work / "log.jsonl")
    started = time.time()
    log(stage="start", config=c.as_dict())

    # 1. VAE
    vae_path = work / "vae.safetensors"
    model = VideoFlexTok(hub_config(c))
    if vae_path.is_file():
        model.vae.load_state_dict(load_file(vae_path))
    else:
        vae = train_vae(c, log, work)
        model.vae.load_state_dict(vae.state_dict())
        save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(vae_path))
    model.eval()
    held_out = range(EVAL_SEED_BASE, EVAL_SEED_BASE + c.eval_clips)
    log(
        stage="vae_done",
        vae_psnr_heldout=vae_psnr(model.vae, c, held_out),
        minutes=(time.time() - started) / 60,
    )
    assert vae_spec(c) == model.vae.spec
    if c.dec_finetune_steps > 0:  # 1b. decoder fine-tune (encoder frozen: latents unchanged)
        if not load_decoder_finetune(model.vae, work):
            finetune_decoder(model.vae, c, log)
            state = model.vae.decoder.state_dict()
            save_file({k: v.contiguous() for k, v in state.items()}, str(work / DECODER_FILE))
        log(
            stage="vae_decoder_done",
            vae_psnr_heldout=vae_psnr(model.vae, c, held_out),
            minutes=(time.time() - started) / 60,
        )
    if args.stop_after == "vae":
        return

    model.to(device)

    # 2. latents of the training clips
    lat_path = work / "latents.safetensors"
    rs_path = work / "resampler.safetensors"
    if rs_path.is_file():
        pass  # stage 3 is done: its latents are not needed
    elif lat_path.is_file():
        lat = load_file(lat_path, device=str(device))
        mean, std = lat["mean"], lat["std"]
    else:
        mean, std = encode_dataset(model, c, log, workers=args.workers)
        save_file({"mean": mean.contiguous(), "std": std.contiguous()}, str(lat_path))
    if args.stop_after == "latents":
        return

    # 3. resampler
    for prm in model.vae.parameters():
        prm.requires_grad_(False)
    rs_steps = None  # trained in this run
    if rs_path.is_file():
        load_resampler(model, rs_path)
        log(stage="resampler_loaded", path=str(rs_path))
    else:
        if args.init is not None:
            load_resampler(model, args.init)
            log(stage="resampler_init", path=str(args.init))
        _, rs_steps = train_resampler(model, c, mean, std, work, log, minutes=args.rs_minutes)
        del mean, std
        save_resampler(model, rs_path, rs_steps)
        log(stage="resampler_done", steps=rs_steps, minutes=(time.time() - started) / 60)
    model.eval()
    if args.stop_after == "resampler":
        return

    # 4. tune guidance on held-out clips, evaluate, save
    budgets = [1 << i for i in range(int(math.log2(c.registers)) + 1)]
    tune = range(EVAL_SEED_BASE + 100, EVAL_SEED_BASE + 100 + max(2, c.eval_clips // 2))
    scores = {}
    for g in GUIDANCE_GRID:
        psnr = eval_psnr(model, tune, [1, 4, 16, c.registers], g, DEMO_STEPS, c)
        scores[g] = sum(psnr.values()) / len(psnr)
        log(stage="tune", guidance=g, psnr=psnr, mean=scores[g])
    guidance = max(scores, key=scores.get)
    curve = eval_psnr(model, held_out, budgets, guidance, DEMO_STEPS, c)
    log(stage="eval", guidance=guidance, curve=curve)

    defaults = {
        "timesteps": DEMO_STEPS,
        "guidance_scale": guidance,
        "perform_norm_guidance": guidance != 1.0,
    }
    config = parse_config(hub_config(c, defaults))
    save_pretrained(model, config, args.out)
    minutes = (time.time() - started) / 60
    summary = {
        "command": "python -m training.train_demo " + " ".join(sys.argv[1:]),
        "minutes": round(minutes, 1),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "config": c.as_dict(),
        "resampler_steps_this_session": rs_steps,
        "demo_defaults": defaults,
        "final_losses": {
            stage: next(
                r["loss"] for r in reversed(log.records) if r.get("stage") == stage and "loss" in r
            )
            for stage in ("vae", "resampler")
            if any(r.get("stage") == stage for r in log.records)
        },
        "guidance_scores": scores,
        "heldout_psnr_by_k": curve,
    }
    (args.out / "training_log.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(stage="done", minutes=minutes, out=str(args.out))


if __name__ == "__main__":
    main()
