"""Command line: tokenize a video, decode tokens at a budget, measure a quality curve.

    python -m videoflextok_core tokenize clip.mp4 --model M --out clip.tokens.safetensors
    python -m videoflextok_core detokenize clip.tokens.safetensors --model M --out recon.mp4 --k 16
    python -m videoflextok_core curve clip.mp4 --model M --out-dir curve/ --budgets 1,4,16,64,256
    python -m videoflextok_core tokenize-dataset clips/ --model M --out tokens/ --segments all

Installed with pip, the same commands run as `videoflextok tokenize ...`. Every command needs
--model: a checkpoint directory, a .safetensors file or a Hub id (the library knows no default
model; in a checkout of the repository the small demo model is assets/demo-model). Sampler flags
left unset take the checkpoint's "demo_defaults" (config.json), else 25 steps with guidance off.
Errors print one line and exit 2.
"""

import argparse
import importlib
import sys
from pathlib import Path

from . import tokenfile
from .tokenfile import TOKENS_KIND, VERSION, read_tokens, save_tokens, token_metadata

__all__ = ["TOKENS_KIND", "VERSION", "main"]  # TOKENS_KIND: the tokens file format, re-exported

from .loading import load_model
from .model.precision import PRECISION_HELP, PRECISIONS
from .progress import TqdmProgress, steps

EXIT_ERROR = 2

EPILOG = """\
examples:
  python -m videoflextok_core tokenize clip.mp4 --model assets/demo-model \\
      --out clip.tokens.safetensors --max-frames 33
  python -m videoflextok_core detokenize clip.tokens.safetensors --model assets/demo-model \\
      --out recon.mp4 --k 16 --side-by-side clip.mp4
  python -m videoflextok_core curve clip.mp4 --model assets/demo-model --out-dir curve/ \\
      --budgets 1,4,16,64 --seed 0
  python -m videoflextok_core curve clip.mp4 --model EPFL-VILAB/videoflextok_d18_d28 \\
      --out-dir curve/ --steps 25 --guidance 7.5 --apg --device cuda

--model is needed by every command: a checkpoint directory, a .safetensors file or a Hub id
(assets/demo-model is the small model in a checkout of the repository). Unset --steps/--guidance/
--apg take the checkpoint's demo defaults, else 25 steps and guidance 1.0 (off). Installed with
pip, `videoflextok` is the same command.
"""


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


# ---------------------------------------------------------------------------------------------
# Helpers: model, sampler, tokens
# ---------------------------------------------------------------------------------------------


def model_ref(args) -> str:
    if args.model:
        return args.model
    raise CliError(
        "no model: pass --model, a checkpoint directory (assets/demo-model in a checkout of the "
        "repository), a .safetensors file or a Hub id (EPFL-VILAB/videoflextok_d18_d28)"
    )


def require(modules: tuple[str, ...], what: str) -> None:
    """A CliError that says how to install the optional packages `what` needs, if one is missing
    (the library's own dependencies do not include the figures' and captions' packages)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise CliError(
            f'{what} needs {" and ".join(missing)}: pip install "videoflextok-core[curve]" '
            "(in the repository: pip install -r requirements.txt)"
        )


def load_config(ref: str):
    """The model's config without its weights (fast: bad refs fail before any loading)."""
    from .model.checkpoint import resolve
    from .model.config import parse_config

    return parse_config(resolve(ref)[0])


def sampler_settings(args, model):
    """The `Sampler` of --steps, --guidance, --apg and --seed (the flags are its field names);
    unset flags take the checkpoint's demo defaults."""
    from dataclasses import replace

    given = {
        f: getattr(args, f) for f in ("steps", "guidance", "apg") if getattr(args, f) is not None
    }
    return replace(model.config.demo_sampler(), seed=args.seed, **given)


def check_same_model(meta: dict, path: str, ref: str, key: str, ours: str, what: str) -> None:
    """`tokenfile.check_same_model` worded for the command line."""
    tokenfile.check_same_model(
        meta,
        Path(path).name,
        key,
        ours,
        what,
        f"--model {ref}",
        "Decode with the model that made the tokens, or pass --force to try anyway",
    )


def _frames_of(video, fps: float) -> str:
    return f"{video.shape[1]} frames at {fps:g} fps"


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def cmd_tokenize(args) -> None:
    from .media.clip import load_clip

    ref = model_ref(args)
    config = load_config(ref)
    video, info = load_clip(args.video, config, args.fps, args.start, args.max_frames)
    model = load_model(ref, args.device, args.precision)
    with TqdmProgress() as bar:
        bar(0.0, "tokenize")
        on_chunk = steps(bar, lambda i, n: f"tokenize (chunk {i}/{n})")
        tokens = model.tokenize_clip(video, on_chunk)  # (1, t, N)
        bar(1.0, "tokenize done")
    out = Path(args.out)
    save_tokens(out, tokens, token_metadata(model, ref, info, video.shape[1], tokens))
    t, N = tokens.shape[1:]
    note = f" ({info.note})" if info.note else ""
    print(
        f"{out}: {t} x {N} tokens from {_frames_of(video, info.target_fps)}{note}, "
        f"tokenized in {model.precision.tokenize_runs}"
    )


def cmd_detokenize(args) -> None:
    from .media.clip import load_clip
    from .media.write import write_video
    from .model.identity import config_hash, weights_fingerprint

    if args.side_by_side:
        require(("PIL",), "--side-by-side")
    tokens, meta = read_tokens_arg(args)
    ref = model_ref(args)
    config = load_config(ref)
    if not args.force:
        check_same_model(meta, args.tokens, ref, "model_config_hash", config_hash(config), "config")
    if args.side_by_side and not Path(args.side_by_side).is_file():
        raise CliError(f"{args.side_by_side}: no such video file")
    model = load_model(ref, args.device, args.precision)
    if not args.force:
        check_same_model(
            meta,
            args.tokens,
            ref,
            "model_weights_fingerprint",
            weights_fingerprint(model),
            "weights",
        )
    N = model.n_registers
    k = min(tokens.shape[2], N) if args.k is None else args.k
    if not 1 <= k <= min(N, tokens.shape[2]):
        raise CliError(
            f"--k must be in 1..{min(N, tokens.shape[2])} (tokens per latent frame in "
            f"{Path(args.tokens).name}), got {k}"
        )
    s = sampler_settings(args, model)
    with TqdmProgress() as bar:
        on_step = steps(bar, lambda done, total: f"decoding k={k} (step {done}/{total})")
        recon = model.decode_clip(tokens, [k], s, on_step)[0]
    fps = float(meta.get("fps", config.fps))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_video(recon, out, fps)
    total = k * tokens.shape[1]
    guidance = "off" if s.guidance == 1 else f"{s.guidance:g}" + (" (APG)" if s.apg else "")
    print(
        f"{out}: {_frames_of(recon, fps)}, k={k} ({total} tokens), {s.steps} steps, "
        f"guidance {guidance}, seed {s.seed}, {model.precision}"
    )
    if args.side_by_side:
        from .media.compose import comparison

        start = float(meta.get("start", 0.0))
        frames = int(meta.get("frames", recon.shape[1]))
        original, _ = load_clip(args.side_by_side, config, fps, start, max(frames, 2))
        if original.shape != recon.shape:
            raise CliError(
                f"{args.side_by_side} gives {original.shape[1]} frames at {fps:g} fps from "
                f"{start:g} s, the tokens decode to {recon.shape[1]}: is it the tokenized video?"
            )
        path = out.with_name(out.stem + "_side_by_side.mp4")
        write_video(comparison(original, recon, f"k={k} · {total} tokens"), path, fps)
        print(f"{path}: original | reconstruction | error")


def read_tokens_arg(args):
    """`detokenize`'s input: a tokens file, or one row of a tokenize-dataset folder."""
    if not Path(args.tokens).is_dir():
        if args.path is not None or args.row is not None or args.start is not None:
            raise CliError("--path, --start and --row select a row of a tokenize-dataset folder")
        return read_tokens(args.tokens)
    from .dataset import load_tokens

    if (args.path is None) == (args.row is None):
        raise CliError(
            f"{args.tokens} is a dataset folder: pass --path VIDEO [--start S] or --row I"
        )
    return load_tokens(args.tokens, args.path, args.start, args.row)


def cmd_tokenize_dataset(args) -> None:
    import signal

    from .dataset.runner import DatasetJob, run_dataset

    job = DatasetJob(
        inputs=tuple(args.inputs),
        out=Path(args.out),
        model_ref=model_ref(args),
        fps=args.fps,
        max_frames=args.max_frames,
        segments=args.segments,
        workers=args.workers,
        ray_address=args.ray_address,
        rows_per_shard=args.rows_per_shard,
        precision=args.precision,
    )

    def interrupt(signum, frame):  # SIGTERM like Ctrl-C: finished rows are written first
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        r = run_dataset(job)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(
        f"{job.out}: {r.written} segments written ({r.errors} unreadable), {r.skipped} already "
        f"there, {r.total} in all; {r.seconds:.1f} s, tokenized in {r.precision}"
    )


def parse_budgets(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise CliError(f"--budgets takes comma-separated ints like 1,4,16, not {text!r}") from None


def cmd_curve(args) -> None:
    require(("PIL", "plotly"), "curve")
    from .curve import quality_curve
    from .figures import curve_figure
    from .media.clip import load_clip
    from .media.compose import budget_grid, comparison
    from .media.write import write_video

    budgets = parse_budgets(args.budgets)
    ref = model_ref(args)
    config = load_config(ref)
    video, info = load_clip(args.video, config, args.fps, args.start, args.max_frames)
    model = load_model(ref, args.device, args.precision)
    with TqdmProgress() as bar:
        result = quality_curve(
            model,
            video,
            budgets=budgets,
            sampler=sampler_settings(args, model),
            max_batch=args.max_batch,
            progress=bar,
        )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fps, k = info.target_fps, result.budgets[-1]
    curve_figure(result, selected_k=k).write_html(out / "curve.html", include_plotlyjs=True)
    (out / "curve.csv").write_text(result.to_csv())
    save_tokens(
        out / "tokens.safetensors",
        result.tokens,
        token_metadata(model, ref, info, video.shape[1], result.tokens),
    )
    write_video(budget_grid(result.reconstructions, result.original), out / "budget_grid.mp4", fps)
    recon = result.reconstructions[k]
    caption = f"k={k} · {result.row(k).total_tokens} tokens"
    write_video(comparison(result.original, recon, caption), out / "side_by_side.mp4", fps)
    print(
        f"{_frames_of(video, fps)}, tokenized in {result.tokenize_seconds:.2f} s "
        f"({model.precision.tokenize_runs}); decoded in {model.precision}"
    )
    print(f"{'k':>5} {'tokens':>8} {'bytes':>9} {'PSNR':>7} {'SSIM':>7} {'s':>7}")
    for r in result.rows:
        print(
            f"{r.k:5d} {r.total_tokens:8d} {r.bytes:9.0f} {r.psnr:7.2f} {r.ssim:7.4f} "
            f"{r.seconds:7.2f}"
        )
    print(f"wrote {out}/: curve.html curve.csv tokens.safetensors budget_grid.mp4 side_by_side.mp4")


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        help="checkpoint dir, .safetensors or Hub id (needed; this repository's small model: "
        "assets/demo-model)",
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: cuda if available)")
    _add_precision(p)


def _add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)


def _add_video(p: argparse.ArgumentParser, max_frames: int) -> None:
    p.add_argument("video", help="input video (any format FFmpeg reads)")
    p.add_argument("--fps", type=float, help="frame rate to sample at (default: the model's, 8)")
    p.add_argument("--start", type=float, default=0.0, help="start time in seconds (default 0)")
    p.add_argument(
        "--max-frames",
        type=int,
        default=max_frames,
        help=f"frame cap, rounded down to 1 + 16K (default {max_frames})",
    )


def _add_sampler(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, help="Euler steps (default: demo defaults, else 25)")
    p.add_argument(
        "--guidance", type=float, help="guidance scale, 1 = off (default: demo defaults, else 1.0)"
    )
    p.add_argument(
        "--apg",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="adaptive projected guidance instead of plain CFG",
    )
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")


def build_parser() -> argparse.ArgumentParser:
    from .media.read import DEFAULT_MAX_FRAMES

    fmt = argparse.RawDescriptionHelpFormatter
    script = Path(sys.argv[0]).name == "videoflextok"  # the console script of `pip install .`
    parser = argparse.ArgumentParser(
        prog="videoflextok" if script else "python -m videoflextok_core",
        description="VideoFlexTok: coarse-to-fine video tokens. Tokenize a video, decode any "
        "number k of tokens per timestep, and measure quality against k.",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "tokenize",
        help="video -> tokens (.safetensors)",
        epilog=EPILOG,
        formatter_class=fmt,
        description="Tokenize a video (VAE posterior mean: deterministic) into "
        "int64 tokens [1, t, N] saved with their provenance.",
    )
    _add_video(p, DEFAULT_MAX_FRAMES)
    p.add_argument("--out", required=True, help="output .safetensors")
    _add_common(p)
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser(
        "detokenize",
        help="tokens -> reconstruction (.mp4)",
        epilog=EPILOG,
        formatter_class=fmt,
        description="Decode the first k tokens of every latent frame into an "
        "mp4; refuses tokens made by a different model.",
    )
    p.add_argument(
        "tokens", help="tokens .safetensors written by `tokenize`, or a tokenize-dataset folder"
    )
    p.add_argument("--path", help="dataset folder: the video whose tokens to decode")
    p.add_argument("--start", type=float, help="dataset folder: the segment's start (s)")
    p.add_argument("--row", type=int, help="dataset folder: a row index instead of --path")
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--k", type=int, help="tokens per latent frame to decode (default: all)")
    _add_sampler(p)
    p.add_argument(
        "--side-by-side",
        metavar="VIDEO",
        help="the tokenized video: also write "
        "OUT_side_by_side.mp4 (original | reconstruction | error)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="decode even if the tokens were made by a different model",
    )
    _add_common(p)
    p.set_defaults(func=cmd_detokenize)

    p = sub.add_parser(
        "curve",
        help="quality (PSNR, SSIM) against the token budget k",
        epilog=EPILOG,
        formatter_class=fmt,
        description="Tokenize once, decode at each budget k and write curve.html, "
        "curve.csv, tokens.safetensors, budget_grid.mp4 and side_by_side.mp4 "
        "(at the largest k) to --out-dir.",
    )
    _add_video(p, 33)
    p.add_argument("--out-dir", required=True, help="output directory")
    p.add_argument("--budgets", help="comma-separated k values (default 1,2,4,...,N)")
    p.add_argument(
        "--max-batch", type=int, help="budgets decoded per call (default: from the free memory)"
    )
    _add_sampler(p)
    _add_common(p)
    p.set_defaults(func=cmd_curve)

    p = sub.add_parser(
        "tokenize-dataset",
        help="many videos -> resumable Parquet token shards (Ray Data)",
        formatter_class=fmt,
        description="Tokenize video files, folders (recursive), globs or list files (one path "
        "a line) into Parquet shards plus manifest.json in --out, reading each segment as "
        "`tokenize` does. Rerun the same command to resume. Needs ray[data] "
        "(requirements-scale.txt).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video, folder, glob or .txt list")
    p.add_argument("--out", required=True, help="output folder (shards + manifest.json)")
    p.add_argument("--fps", type=float, help="frame rate to sample at (default: the model's, 8)")
    p.add_argument(
        "--max-frames",
        type=int,
        default=DEFAULT_MAX_FRAMES,
        help=f"frames per segment, rounded down to 1 + 16K (default {DEFAULT_MAX_FRAMES})",
    )
    p.add_argument(
        "--segments",
        choices=("first", "all"),
        default="first",
        help="first: one segment per video (default); all: consecutive segments covering it",
    )
    p.add_argument(
        "--workers", type=int, help="model actors (default: one per GPU, else 1 on the CPU)"
    )
    p.add_argument("--ray-address", help="join a cluster (auto, ray://host:10001); default local")
    p.add_argument(
        "--rows-per-shard", type=int, default=1000, help="rows per Parquet shard (default 1000)"
    )
    p.add_argument(
        "--model",
        help="checkpoint dir, .safetensors or Hub id (needed; this repository's small model: "
        "assets/demo-model)",
    )
    _add_precision(p)
    p.set_defaults(func=cmd_tokenize_dataset)
    return parser


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from safetensors import SafetensorError
    except ImportError:  # pragma: no cover - safetensors is a dependency
        SafetensorError = CliError  # noqa: N806
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, OSError, SafetensorError) as e:  # user errors, not bugs
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
