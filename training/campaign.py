"""Demo model v2: a training campaign on a 2-core CPU, over several sessions.

    python -m training.campaign precision-check          # bf16 vs float32, 200 steps each
    python -m training.campaign vae --session-minutes 300
    python -m training.campaign latents                  # scale the latents, cache them
    python -m training.campaign resampler --session-minutes 300
    python -m training.campaign decoder --session-minutes 60   # the VAE decoder on its outputs
    python -m training.campaign finish --out assets/demo-model  # tune, export fp16, round trip
    python -m training.campaign milestone --stage vae    # fp16 EMA weights -> training/milestones
    python -m training.campaign status                   # where the run stands

Every stage resumes from its state under RUN (default ~/.cache/videoflextok-train/v2, outside
the work tree), saves at least every 8 minutes and when the session's minutes are spent or it
gets SIGTERM, and follows the same schedule as an uninterrupted run. A stage that stopped
before its end exits with status 75 (0 when it ended), so that a chain of stages stops there
too (training/reproduce_v2.sh). If RUN is gone (a new
machine), `--from-milestone` restarts the stage from the weights committed in
training/milestones (one per session: fp16, no optimiser state).
"""

import os

# Threads sleep instead of spinning when they wait (a shared 2-core machine). Before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from synthetic import make_batch  # noqa: E402
from videoflextok_core.hardware import cpu_info, describe  # noqa: E402
from videoflextok_core.media.read import read_video  # noqa: E402
from videoflextok_core.model import Sampler, VideoFlexTok  # noqa: E402
from videoflextok_core.model.vidtok import VidTok  # noqa: E402

from .config import EVAL_SEED_BASE, DemoConfig, hub_config  # noqa: E402
from .data import TrainingClips  # noqa: E402
from .latent_cache import LatentCache, build_cache  # noqa: E402
from .photos import load_photos  # noqa: E402
from .precision_check import precision_check  # noqa: E402
from .stage_decoder import DecoderRecipe, DecoderTrainer  # noqa: E402
from .stage_finish import FinishRecipe, demo_defaults, export_fp16, round_trip_db, tune  # noqa: E402
from .stage_resampler import ResamplerRecipe, ResamplerTrainer, ladder_psnr  # noqa: E402
from .stage_vae import (  # noqa: E402
    VaeRecipe,
    VaeTrainer,
    fold_latent_scale,
    latent_scale,
    load_milestone_weights,
)
from .state import SessionClock, read_meta, write_milestone  # noqa: E402
from .vae_eval import REAL_CLIPS, VaeEval, clip_psnr  # noqa: E402

DEFAULT_RUN = Path.home() / ".cache" / "videoflextok-train" / "v2"
MILESTONES = Path(__file__).resolve().parent / "milestones"
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "demo-model"  # v1: the warm start
V2 = DemoConfig(vae_ch_mult=(1, 2, 4, 8))  # the v1 resampler's shapes, the v2 VAE
LATENT_STREAM = 2  # TrainingClips stream of the resampler's clips
LATENT_CLIPS = 16_000
TUNE_STREAM = 998  # TrainingClips base of the finish stage's tuning clips (never trained on)
LADDER = (1, 4, 16, 64)  # the mini-ladder's budgets
STAGES = ("vae", "resampler", "decoder")  # stages with a state (and a milestone)
STOPPED = 75  # exit status of a stage that saved and stopped before its end (EX_TEMPFAIL)


class Log:
    """JSON lines in RUN/log.jsonl, echoed to stdout."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def __call__(self, **record) -> None:
        record = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), **record}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(
            " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
            ),
            flush=True,
        )


def with_length(recipe, steps: int | None):
    """The stage's recipe at `steps` (--steps): a longer stage keeps its warm-up and decay (so
    the schedule is the same until the decay: an extension); a short test run scales them."""
    if not steps:
        return recipe
    warmup = min(recipe.warmup, steps // 10)
    return replace(recipe, steps=steps, warmup=warmup, decay=min(recipe.decay, max(1, steps // 5)))


def restart_or_resume(trainer, state_path: Path, milestone: Path | None, batch: int) -> str | None:
    """Resume the stage from its saved state, or restart it from a committed milestone (`batch`
    samples per step so far); returns how, or None if neither is there (a fresh start)."""
    if state_path.is_file():
        trainer.resume(state_path)
        return f"resumed at step {trainer.state.step}"
    if milestone:
        step = read_meta(milestone)["counters"]["step"]
        trainer.state.restart(load_file(str(milestone)), step, step * batch)
        return f"restarted from milestone {milestone} at step {step}"
    return None


def use_bf16(run: Path, asked: str) -> tuple[bool, str]:
    """Whether the VAE trains under bf16 autocast, and why (logged)."""
    cpu = cpu_info()
    if asked == "fp32":
        return False, "asked for fp32"
    if not cpu.bf16_matmul:
        if asked == "bf16":
            raise SystemExit(f"--precision bf16: this CPU has no bf16 units ({describe()})")
        return False, "no bf16 units on this CPU"
    check = run / "precision_check.json"
    if asked == "bf16":
        return True, "asked for bf16"
    if not check.is_file():
        raise SystemExit(
            "--precision auto needs the precision check first: "
            "python -m training.campaign precision-check (or pass --precision fp32/bf16)"
        )
    verdict = json.loads(check.read_text())
    return verdict["bf16_safe"], f"precision check: {verdict['reason']}"


def cmd_vae(args, log: Log) -> int:
    r = with_length(VaeRecipe(), args.steps)
    bf16, why = use_bf16(args.run, args.precision)
    torch.set_num_threads(args.threads)
    clock = SessionClock(args.session_minutes, args.save_minutes)
    clock.handle_signals()
    photos = load_photos()
    trainer = VaeTrainer(r, photos, bf16)
    state_path = args.run / "vae" / "state.safetensors"
    if state_path.is_file():
        trainer.resume(state_path)
        how = f"resumed at step {trainer.state.step}"
    elif args.from_milestone:
        step = read_meta(args.from_milestone)["counters"]["step"]
        load_milestone_weights(trainer, args.from_milestone, step)
        how = f"restarted from milestone {args.from_milestone} at step {step}"
    else:
        how = "started"
    log(
        stage="vae_session",
        how=how,
        bf16=bf16,
        why=why,
        photos=len(photos),
        cpu=describe(),
        steps=r.steps,
        session_minutes=args.session_minutes,
    )
    evaluator = VaeEval(photos)
    done = trainer.run_session(args.run, clock, log, evaluator, args.eval_every)
    log(stage="vae_session_end", step=trainer.state.step, done=done)
    return 0 if done else STOPPED


def scaled_vae(run: Path, log: Log) -> VidTok:
    """The v2 VAE (the VAE stage's EMA weights) with its latent scale folded in, made once."""
    path = run / "vae" / "scaled.safetensors"
    vae = VidTok(VaeRecipe().spec)
    if path.is_file():
        vae.load_state_dict(load_file(str(path)))
        return vae.eval()
    vae.load_state_dict(load_file(str(run / "vae" / "final.safetensors")))
    clips = TrainingClips(LATENT_STREAM, load_photos())
    scale = latent_scale(vae.eval(), clips, count=256, frames=V2.chunk, size=V2.size)
    fold_latent_scale(vae, scale)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(path))
    log(stage="latent_scale", scale=[round(float(s), 4) for s in scale])
    return vae


def cmd_latents(args, log: Log) -> int:
    torch.set_num_threads(args.threads)
    vae = scaled_vae(args.run, log)
    clock = SessionClock(args.session_minutes, args.save_minutes)
    clock.handle_signals()
    clips = TrainingClips(LATENT_STREAM, load_photos())
    count = args.clips or LATENT_CLIPS
    done = build_cache(
        args.run / "latents", vae, clips, count, 512, V2.chunk, V2.size, lambda: clock.stopping, log
    )
    log(stage="latents_session_end", done=done)
    return 0 if done else STOPPED


def v2_model(run: Path, log: Log) -> VideoFlexTok:
    """A v2 VideoFlexTok: the scaled v2 VAE and trunks of the v1 resampler's shapes."""
    torch.manual_seed(V2.seed)
    model = VideoFlexTok(hub_config(V2))
    model.vae.load_state_dict(scaled_vae(run, log).state_dict())
    return model


def warm_start(model: VideoFlexTok) -> None:
    """The shipped v1 resampler's trunks (same shapes; v1's latent space was another)."""
    v1 = VideoFlexTok.from_pretrained(SHIPPED, device="cpu")
    model.encoder.load_state_dict(v1.encoder.state_dict())
    model.decoder.load_state_dict(v1.decoder.state_dict())


def held_out_videos(n_procedural: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Mini-ladder clips: (procedural (n, 3, 17, 64, 64), real (2, ...): ../shared/videos)."""
    procedural = make_batch(range(EVAL_SEED_BASE, EVAL_SEED_BASE + n_procedural), V2.chunk, V2.size)
    real = [
        read_video(p, fps=8.0, size=V2.size, max_frames=V2.chunk)[0]
        for p in REAL_CLIPS[:2]
        if p.is_file()
    ]
    return procedural, torch.stack(real) if real else procedural[:0]


def mini_ladder(model: VideoFlexTok, procedural, real, steps: int = 8) -> dict:
    """{"procedural": {k: dB}, "real": {k: dB}} of `ladder_psnr` at 8 Euler steps, no guidance."""
    sampler = Sampler(steps=steps)

    def ladder(videos):
        return {k: round(v, 2) for k, v in ladder_psnr(model, videos, LADDER, sampler).items()}

    return {"procedural": ladder(procedural), "real": ladder(real) if len(real) else {}}


def stage_counters(run: Path, stage: str) -> dict | None:
    """The counters ({"step", "samples", "seconds"}) of a stage's saved state, if any."""
    path = run / stage / "state.safetensors"
    return read_meta(path)["counters"] if path.is_file() else None


def trained_model(run: Path, log: Log, with_decoder: bool = True) -> VideoFlexTok:
    """The v2 model as trained so far: the scaled VAE, the resampler stage's EMA trunks and,
    if the decoder stage has ended (and `with_decoder`), its EMA VAE decoder."""
    path = run / "resampler" / "state.safetensors"
    if not path.is_file():
        raise SystemExit(f"no resampler state in {path.parent}: run the resampler stage first")
    model = v2_model(run, log)
    ema = {k[4:]: v for k, v in load_file(str(path)).items() if k.startswith("ema.")}
    for name, trunk in (("encoder", model.encoder), ("decoder", model.decoder)):
        n = len(name) + 1
        trunk.load_state_dict({k[n:]: v for k, v in ema.items() if k.startswith(name + ".")})
    final = run / "decoder" / "final.safetensors"
    if with_decoder and final.is_file():
        model.vae.load_state_dict(model.vae.state_dict() | load_file(str(final)))
    return model.eval()


def cmd_resampler(args, log: Log) -> int:
    r = with_length(ResamplerRecipe(), args.steps)
    bf16, why = use_bf16(args.run, args.precision)
    torch.set_num_threads(args.threads)
    model = v2_model(args.run, log)
    cache = LatentCache(args.run / "latents", model.vae)
    trainer = ResamplerTrainer(model, r, cache, bf16)
    state_path = args.run / "resampler" / "state.safetensors"
    how = restart_or_resume(trainer, state_path, args.from_milestone, r.batch)
    if how is None:
        warm_start(model)
        trainer.state.ema = {k: p.detach().float().clone() for k, p in trainer.state.params.items()}
        how = "started from the shipped v1 resampler"
    log(stage="resampler_session", how=how, bf16=bf16, why=why, clips=len(cache), cpu=describe())
    procedural, real = held_out_videos()
    shadow = v2_model(args.run, log)

    def evaluate(step: int) -> None:
        ema = trainer.ema_model(shadow)
        log(stage="resampler_eval", step=step, **mini_ladder(ema, procedural, real))

    clock = SessionClock(args.session_minutes, args.save_minutes)
    clock.handle_signals()
    done = trainer.run_session(args.run, clock, log, evaluate, args.eval_every)
    log(stage="resampler_session_end", step=trainer.state.step, done=done)
    return 0 if done else STOPPED


def cmd_decoder(args, log: Log) -> int:
    r = with_length(DecoderRecipe(), args.steps)
    bf16, why = use_bf16(args.run, args.precision)
    torch.set_num_threads(args.threads)
    photos = load_photos()
    trainer = DecoderTrainer(trained_model(args.run, log, with_decoder=False), r, photos, bf16)
    state_path = args.run / "decoder" / "state.safetensors"
    how = restart_or_resume(trainer, state_path, args.from_milestone, r.batch)
    fresh = how is None
    how = how or "started from the VAE stage's decoder"
    log(stage="decoder_session", how=how, bf16=bf16, why=why, cpu=describe(), steps=r.steps)
    procedural, real = held_out_videos()
    shadow = trained_model(args.run, log, with_decoder=False)

    def evaluate(step: int) -> None:
        shadow.vae.load_state_dict(shadow.vae.state_dict() | trainer.state.ema_state())
        with torch.inference_mode():  # the decoder's own job, which the fine-tune may trade
            alone = clip_psnr(shadow.vae.decode(shadow.vae.encode(procedural, sample=False)),
                              procedural).mean()  # fmt: skip
        ladder = mini_ladder(shadow, procedural, real, r.flow_steps)
        log(stage="decoder_eval", step=step, vae_alone=round(float(alone), 2), **ladder)

    if fresh:
        evaluate(0)  # the baseline: the VAE stage's decoder
    clock = SessionClock(args.session_minutes, args.save_minutes)
    clock.handle_signals()
    done = trainer.run_session(args.run, clock, log, evaluate, args.eval_every)
    log(stage="decoder_session_end", step=trainer.state.step, done=done)
    return 0 if done else STOPPED


def cmd_finish(args, log: Log) -> int:
    """Tune the demo sampler, export the model in fp16 to --out, check the round trip, and
    write training_log.json (each stage's steps and hours, where they ran)."""
    torch.set_num_threads(args.threads)
    if args.out is None:
        raise SystemExit("finish needs --out DIR (for example assets/demo-model)")
    r = FinishRecipe()
    if args.tune_steps:
        r = replace(r, steps_grid=tuple(args.tune_steps))
    if args.tune_guidance:
        r = replace(r, guidance_grid=tuple(args.tune_guidance))
    model = trained_model(args.run, log)
    videos = TrainingClips(TUNE_STREAM, load_photos()).batch(0, args.tune_clips, V2.chunk, V2.size)
    tuning = tune(model, videos, r, log)
    hub = hub_config(V2, demo_defaults(tuning.sampler))
    export_fp16(model, hub, args.out)
    ours, theirs = round_trip_db(model, args.out, videos, tuning.sampler)
    records = [json.loads(x) for x in (args.run / "log.jsonl").read_text().splitlines()]
    stages = {}
    for stage in STAGES:
        counters = stage_counters(args.run, stage)
        if counters is not None:
            hours = round(counters["seconds"] / 3600, 3)
            stages[stage] = {"steps": counters["step"], "hours": hours}
    latent_s = sum(x.get("seconds", 0.0) for x in records if x.get("stage") == "latents")
    stages["latents"] = {"hours": round(latent_s / 3600, 3)}
    cpus = sorted({x["cpu"] for x in records if x.get("stage", "").endswith("_session")})
    summary = {
        "command": "python -m training.campaign finish " + " ".join(sys.argv[2:]),
        "model": "demo model v2 (training/campaign.py)",
        "config": V2.as_dict(),
        "stages": stages,
        "where": cpus,
        "demo_defaults": demo_defaults(tuning.sampler),
        "tuning": tuning.as_log(),
        "tuning_clips": {"stream": TUNE_STREAM, "count": args.tune_clips},
        "fp16_round_trip_db": {"float32": round(ours, 4), "exported": round(theirs, 4)},
    }
    (args.out / "training_log.json").write_text(json.dumps(summary, indent=2) + "\n")
    ok = abs(ours - theirs) <= r.fp16_tol_db
    log(stage="finish", out=str(args.out), **tuning.as_log()["chosen"], float32_db=ours,
        exported_db=theirs, round_trip_ok=ok)  # fmt: skip
    if not ok:
        print(f"fp16 round trip off by {abs(ours - theirs):.3f} dB (> {r.fp16_tol_db})")
        return 1
    return 0


def cmd_precision_check(args, log: Log) -> int:
    torch.set_num_threads(args.threads)
    result = precision_check(VaeRecipe(), load_photos(), args.check_steps, log)
    (args.run / "precision_check.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


def cmd_milestone(args, log: Log) -> int:
    """A stage's EMA weights in fp16 with its counters, for committing (--stage, default vae)."""
    out = args.milestones / f"v2_{args.stage}.safetensors"
    counters = write_milestone(args.run / args.stage / "state.safetensors", out, args.stage)
    log(stage="milestone", path=str(out), counters=counters, mb=out.stat().st_size / 1e6)
    return 0


def ladder_table(title: str, evals: list[dict], hours: dict[int, float]) -> list[str]:
    """Markdown rows of mini-ladder evaluations: PSNR (dB) at each k, procedural then real."""
    ks = [str(k) for k in LADDER]
    head = " | ".join(f"k={k}" for k in ks)
    lines = [
        f"| {title} step | training hours | procedural {head} | real {head} |",
        "|---:|---:|" + "---:|" * 2 * len(ks),
    ]
    for r in evals:
        cells = [f"{r['step']:,}", f"{hours.get(r['step'], 0.0):.2f}"]
        for part in ("procedural", "real"):
            cells += [f"{r[part][k]:.2f}" if k in r[part] else "-" for k in ks]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def cmd_status(args, log: Log) -> int:
    """Where the run stands: each stage's saved states and their counters, then the
    evaluations as Markdown tables (the README's progress tables): the VAE's, then the
    mini-ladders of the resampler and decoder stages."""
    for stage in STAGES:
        for path in sorted((args.run / stage).glob("*.safetensors")):
            counters = read_meta(path).get("counters")
            print(path, counters if counters else "(weights only)")
    log_path = args.run / "log.jsonl"
    records = (
        [json.loads(x) for x in log_path.read_text().splitlines()] if log_path.exists() else []
    )
    hours = {}
    for r in records:
        if r.get("stage") == "vae" and "hours" in r:
            hours[r["step"]] = r["hours"]
    evals = [r for r in records if r.get("stage") == "vae_eval"]
    if evals:
        print()
        print("| VAE step | training hours | procedural | natural | photo | real (mean) | porsche "
              "| orig_clip | Big Buck Bunny (4) |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in evals:
            bbb = [v for k, v in r.items() if k.startswith("real_bbb")]
            h = hours.get(r["step"], float("nan"))
            print(
                f"| {r['step']:,} | {h:.2f} | {r['procedural']:.2f} | {r['natural']:.2f} | "
                f"{r['photo']:.2f} | {r['real_mean']:.2f} | {r.get('real_porsche', 0):.2f} | "
                f"{r.get('real_orig_clip', 0):.2f} | {sum(bbb) / max(1, len(bbb)):.2f} |"
            )
    for stage, title in (("resampler", "Resampler"), ("decoder", "Decoder")):
        evals = [r for r in records if r.get("stage") == f"{stage}_eval"]
        hours = {r["step"]: r["hours"] for r in records if r.get("stage") == stage}
        if evals:
            print()
            print("\n".join(ladder_table(title, evals, hours)))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "command",
        choices=(
            "vae", "latents", "resampler", "decoder", "finish", "precision-check", "milestone",
            "status",
        ),
    )  # fmt: skip
    p.add_argument("--run", type=Path, default=DEFAULT_RUN, help="run state (outside the tree)")
    p.add_argument("--session-minutes", type=float, default=None, help="stop cleanly after M")
    p.add_argument("--save-minutes", type=float, default=8.0, help="save at least this often")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="stage length (extend before decay)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--check-steps", type=int, default=200)
    p.add_argument("--from-milestone", type=Path, default=None)
    p.add_argument("--clips", type=int, default=None, help="latents: clips to cache")
    p.add_argument("--stage", choices=STAGES, default="vae", help="milestone: whose weights")
    p.add_argument("--milestones", type=Path, default=MILESTONES, help="milestone: where to")
    p.add_argument("--out", type=Path, default=None, help="finish: the Hub-layout directory")
    p.add_argument("--tune-clips", type=int, default=8, help="finish: clips the tuning decodes")
    p.add_argument("--tune-steps", type=int, nargs="+", default=None, help="finish: steps grid")
    p.add_argument(
        "--tune-guidance", type=float, nargs="+", default=None, help="finish: guidance grid"
    )
    args = p.parse_args(argv)
    args.run.mkdir(parents=True, exist_ok=True)
    log = Log(args.run / "log.jsonl")
    commands = {
        "vae": cmd_vae,
        "latents": cmd_latents,
        "resampler": cmd_resampler,
        "decoder": cmd_decoder,
        "finish": cmd_finish,
        "precision-check": cmd_precision_check,
        "milestone": cmd_milestone,
        "status": cmd_status,
    }
    return commands[args.command](args, log)


if __name__ == "__main__":
    sys.exit(main())
