"""The Space's main path on a GPU, in one command for a bare machine: python3 with torch,
safetensors and numpy; no PyAV, gradio, plotly, Pillow or virtual environment.

    python3 benchmarks/gpu_check.py                    # CUDA: the whole check, <= 8 min (H100)
    python3 benchmarks/gpu_check.py --device cpu --depth 1 --resolution 16   # the suite's CPU run

Prints one table, a row as each figure is measured, and rewrites it as JSON after every row
(`--json`, default $OUT/gpu_check.json when $OUT is set). Sections, in this order:

  baseline  an n^3 bf16 matmul (n = 8192 on CUDA): what this card does; every rate is also
            given as a ratio to it ("x mm")
  app       the released config (benchmarks/real_config_inferred.json, random weights made on the
            device, 256x256) as the app runs it, float32 weights and precision "auto" (bf16
            autocast on CUDA): materialise, tokenize 33 frames, one reconstruction (25 steps,
            guidance 20 + APG, 2 chunks) and the ladder of 9 budgets, each with its peak memory
            and achieved TFLOP/s (counted FLOPs) against the card's dense bf16 peak
  seeds     the seed view: n seeds at k = N/4 in one batch (`seeds.seed_spread`); the first and
            the last seed decoded alone (`curve.decode_tokens`) must give the same videos
  zerogpu   `demo.startup.estimate_gpu_seconds` of each handler against the time measured above
            (also scaled to ZeroGPU's half-H200 slice), and the TFLOP/s the estimate should assume
  fallback  `demo.startup.load_model` after a real CUDA out-of-memory (a model whose float32
            weights are 1.25x the card's memory); the app must fall back to the demo model and
            serve with it; the demo model's token ids on this device against the CPU's
  bf16      the same random weights as bf16 weights (rounded from float32): the app rows, then how
            far they land from float32 weights + autocast (token ids, the decoded video)
  k600      the app rows for a d18_d18_k600-like config (decoder depth 18, 128x128), if time allows

Time: `--budget` seconds (default 420 on CUDA, which leaves a 15-minute device lease room for
the machine's start and a short rerun; 1800 on a CPU, shared and slow). Before each row its time
is predicted from the slowest rate measured so far (x1.5); a row that would not fit is skipped
and the JSON says why. A watchdog writes what was measured and ends the process at `--watchdog`
seconds (default budget + 45), whatever is running. An error ends its section only: it becomes
a row, and the next section runs.

Random weights: the figures are time, memory and agreement, never quality.
"""

import argparse
import json
import math
import os
import platform
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

START = time.monotonic()  # the budget counts from here (imports included)
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

import torch  # noqa: E402
from bench_real import clip, materialise, peak_gb, real_config, reset_peak, timed  # noqa: E402

from demo.paths import DEMO_MODEL  # noqa: E402
from demo.startup import (  # noqa: E402
    ZEROGPU_EFFICIENCY,
    ZEROGPU_PEAK_TFLOPS,
    app_defaults,
    estimate_gpu_seconds,
    estimate_tokenize_seconds,
    load_model,
)
from synthetic import make_clip_tensor  # noqa: E402
from videoflextok_core.curve import decode_tokens, default_budgets, quality_curve  # noqa: E402
from videoflextok_core.flops import bf16_peak_tflops, model_flops  # noqa: E402
from videoflextok_core.hardware import describe  # noqa: E402
from videoflextok_core.model import VideoFlexTok  # noqa: E402
from videoflextok_core.model.sampling import Sampler  # noqa: E402
from videoflextok_core.seeds import seed_spread  # noqa: E402

F32 = torch.float32
SECTIONS = ("baseline", "app", "seeds", "zerogpu", "fallback", "bf16", "k600")
# Per device: (frames, steps, ladder budgets (None: all), seeds, matmul n, budget s). The CPU's
# are the suite's run (tests/test_gpu_check.py): the same code paths in about a minute.
DEFAULTS = {"cuda": (33, 25, None, 4, 8192, 420.0), "cpu": (17, 1, 2, 2, 1024, 1800.0)}
SAFETY = 1.5  # predicted row time = SAFETY x FLOPs / slowest rate so far + 1 s
OVERSIZE = "oversize-released-model"  # the hub ref the fallback check asks for
OVERSIZE_FACTOR = 1.25  # its float32 weights, against the card's memory
EQUAL = 1e-3  # max |diff| of two decodes that differ by float rounding only
NOMINAL_CARD_BYTES = 80e9  # for the oversize depth printed on a CPU (an H100's memory)


class OutOfTime(Exception):
    """A row that would not fit in what is left of the budget (the rest of its section)."""


# ---------------------------------------------------------------------------------------------
# The table and its JSON copy
# ---------------------------------------------------------------------------------------------


class Report:
    """The one table: printed row by row; its JSON copy rewritten after every row (atomically,
    so a reader or a killed run always finds a whole file)."""

    HEAD = (
        f"{'section':<9}{'what':<46}{'s':>9}{'TFLOP':>9}{'TFLOP/s':>9}{'% pk':>6}{'x mm':>6}"
        f"{'GB':>7}  result"
    )

    def __init__(self, path: Path | None, facts: dict, peak: float | None, memory: str):
        self.path, self.peak = path, peak
        self.matmul: float | None = None  # TFLOP/s of the baseline, once measured
        self.lock = threading.Lock()
        self.doc = {**facts, "status": "running", "memory": memory, "rows": [], "skipped": []}
        self.current = "start"  # what runs now (the watchdog names it)
        print(self.HEAD, flush=True)
        self.write()

    def row(self, section, what, seconds=None, flops=None, memory_gb=None, result="", **extra):
        rate = None if flops is None or not seconds else flops / 1e12 / seconds
        share = None if rate is None or self.peak is None else 100 * rate / self.peak
        vs_mm = None if rate is None or not self.matmul else rate / self.matmul
        row = {
            "section": section,
            "what": what,
            "seconds": seconds,
            "tflop": None if flops is None else flops / 1e12,
            "tflops": rate,
            "pct_peak": share,
            "x_matmul": vs_mm,
            "peak_gb": memory_gb,
            "result": result,
            **extra,
        }
        cells = [
            _cell(seconds, 9, ".3f"),
            _cell(row["tflop"], 9, ".3f"),
            _cell(rate, 9, ".2f"),
            _cell(share, 6, ".1f"),
            _cell(vs_mm, 6, ".2f"),
            _cell(memory_gb, 7, ".2f"),
        ]
        print(f"{section:<9}{what:<46}{''.join(cells)}  {result}", flush=True)
        with self.lock:
            self.doc["rows"].append(row)
        self.write()
        return row

    def skip(self, section: str, why: str) -> None:
        print(f"{section:<9}{'skipped: ' + why}", flush=True)
        with self.lock:
            self.doc["skipped"].append({"section": section, "why": why})
        self.write()

    def error(self, section: str, e: BaseException) -> None:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
        message = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        print(f"{section:<9}{'ERROR in ' + self.current + ': ' + message}", flush=True)
        with self.lock:
            self.doc["rows"].append({"section": section, "what": self.current, "error": message})
        self.write()

    def write(self, status: str | None = None) -> None:
        with self.lock:
            if status is not None:
                self.doc["status"] = status
            self.doc["elapsed_s"] = round(time.monotonic() - START, 1)
            if self.path is None:
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.doc, indent=1, default=str) + "\n")
            os.replace(tmp, self.path)


def _cell(x: float | None, width: int, fmt: str) -> str:
    return f"{'' if x is None else format(x, fmt):>{width}}"


def start_watchdog(report: Report, seconds: float) -> threading.Timer:
    """At `seconds` after START: write the JSON as it stands, say where it stopped, and end the
    process (exit 3), so a run never outlives its device call without leaving its figures."""

    def fire() -> None:
        where = report.current
        report.write(status=f"stopped by the watchdog at {seconds:.0f} s, in {where}")
        print(f"WATCHDOG: {seconds:.0f} s reached in {where}; JSON written, exiting", flush=True)
        os._exit(3)

    timer = threading.Timer(max(0.0, seconds - (time.monotonic() - START)), fire)
    timer.daemon = True
    timer.start()
    return timer


# ---------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------


def k600_config(depth: int | None, resolution: int) -> dict:
    """A d18_d18_k600-like config: the released d18_d28 config with an 18-layer decoder, at
    `resolution` (the app's 128 for it). Its own config is not in this repository; what the
    README says of it (18 decoder layers, 128x128) is all this reproduces."""
    cfg = real_config(depth, resolution)
    if depth is None:
        cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_transformer"]["depth"] = 18
    return cfg


def weight_bytes(cfg: dict) -> int:
    """float32 bytes of a config's parameters, counted on the meta device."""
    with torch.device("meta"):
        return 4 * sum(p.numel() for p in VideoFlexTok(cfg).parameters())


def oversize_depth(capacity: float, resolution: int) -> tuple[int, int]:
    """(depth, float32 bytes): the smallest depth of every transformer at which the released
    config's float32 weights exceed OVERSIZE_FACTOR x `capacity` bytes (bytes grow linearly)."""
    one, two = weight_bytes(real_config(1, resolution)), weight_bytes(real_config(2, resolution))
    per = two - one
    depth = 1 + max(0, math.ceil((OVERSIZE_FACTOR * capacity - one) / per))
    return depth, one + per * (depth - 1)


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


class GpuCheck:
    """The sections, run in order against one clock; measured results are kept for the later
    sections (ZeroGPU uses the app's times, bf16 compares with the app's outputs)."""

    def __init__(self, args, report: Report):
        self.args, self.report = args, report
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.sampler = Sampler(steps=args.steps, guidance=args.guidance, apg=True, seed=args.seed)
        self.rates: dict[str, list[float]] = {}  # kind -> FLOP/s of its rows so far
        self.app: dict = {}  # what the app section measured and produced

    # -- time --------------------------------------------------------------------------------

    def left(self) -> float:
        return self.args.budget - (time.monotonic() - START)

    def need(self, seconds: float, what: str) -> None:
        """Raise OutOfTime unless `seconds` fit in what is left."""
        if seconds > self.left():
            raise OutOfTime(f"{what}: needs ~{seconds:.0f} s, {max(0, self.left()):.0f} s left")

    def predict(self, flops: float, kind: str = "decode") -> float:
        """Seconds for `flops` at the slowest rate measured so far for rows of `kind` ("decode"
        or "tokenize"; else of any kind; before any: a tenth of the matmul baseline, else
        1 TFLOP/s), with SAFETY."""
        rates = self.rates.get(kind) or [r for rs in self.rates.values() for r in rs]
        if rates:
            rate = min(rates)
        elif self.report.matmul:
            rate = 0.1 * self.report.matmul * 1e12
        else:
            rate = 1e12
        return SAFETY * flops / rate + 1.0

    def measure(self, section, what, fn, flops=None, need=None, kind="decode", result=""):
        """Run `fn` as one row (device synchronised, peak memory from zero) -> (its output,
        seconds). `result`: the row's text, or a function of the output giving the text or
        (text, extra JSON fields). kind: "decode" / "tokenize" (its rate predicts later rows
        of the kind), None (not a rate: warm-up, loading)."""
        self.need(self.predict(flops or 0, kind) if need is None else need, what)
        self.report.current = f"{section}: {what}"
        reset_peak(self.device)
        seconds, out = timed(self.device, fn)
        if flops and kind:
            self.rates.setdefault(kind, []).append(flops / seconds)
        memory = peak_gb(self.device)
        text = result(out) if callable(result) else result
        text, extra = text if isinstance(text, tuple) else (text, {})
        self.report.row(section, what, seconds, flops, memory, text, **extra)
        return out, seconds

    def free(self) -> None:
        if self.cuda:
            torch.cuda.empty_cache()

    # -- sections ----------------------------------------------------------------------------

    def run(self, only: set[str]) -> int:
        errors = 0
        for name in SECTIONS:
            if name not in only:
                continue
            self.report.current = name
            try:
                getattr(self, f"section_{name}")()
            except OutOfTime as e:
                self.report.skip(name, str(e))
            except Exception as e:  # one section's failure must not cost the others
                errors += 1
                self.report.error(name, e)
            finally:
                self.free()
        self.app.pop("model", None)
        return errors

    def section_baseline(self) -> None:
        """An n^3 bf16 matmul on random data: the mean of 10 timed products after 3 warm-ups
        (3 after 1 on a CPU)."""
        n = self.args.matmul
        a = torch.randn(n, n, device=self.device, dtype=torch.bfloat16)
        b = torch.randn(n, n, device=self.device, dtype=torch.bfloat16)
        warm, reps = (3, 10) if self.cuda else (1, 3)
        self.need(5 + reps * 2 * n**3 / 1e11, "matmul")  # >= 100 GFLOP/s anywhere
        for _ in range(warm):
            a @ b
        seconds, _ = timed(self.device, lambda: [a @ b for _ in range(reps)])
        flops = reps * 2 * n**3
        self.report.matmul = flops / seconds / 1e12
        self.report.doc["matmul_tflops"] = self.report.matmul
        self.report.row(
            "baseline", f"bf16 matmul {n}^3 x {reps}", seconds, flops, None, "the card's own rate"
        )

    def model_rows(self, section: str, cfg: dict, dtype: torch.dtype, out: dict, tokens=None):
        """materialise, (CUDA) warm-up, tokenize, one reconstruction at k = N and the ladder, as
        rows of `section`; what was measured and made goes into `out` as it comes (a later
        row's failure keeps the earlier ones' model, tokens and times). `tokens` (1, t, N):
        decode these instead of this model's own (two models compared on the same tokens)."""
        T, s, seed = self.args.frames, self.sampler, self.args.seed
        gb = weight_bytes(cfg) * (2 if dtype == torch.bfloat16 else 4) / 4 / 1e9
        model, _ = self.measure(
            section,
            f"materialise {gb:.2f} GB of {str(dtype).removeprefix('torch.')} weights",
            lambda: materialise(cfg, self.device, dtype, seed),
            need=5 + 2 * gb,
            kind=None,
        )
        if dtype == torch.float32:
            model.precision = "auto"  # the app's setting
        out.update(model=model, precision=str(model.precision))
        R, N, chunk = model.resolution[0], model.n_registers, model.chunking.chunk
        flops = model_flops(model.config)
        video = clip(T, R, self.device)
        if self.cuda:  # kernels load, the allocator warms up: not a rate
            one_step = replace(s, steps=1)
            self.measure(
                section,
                "warm-up (1 chunk, 1 step)",
                lambda: decode_tokens(model, model.tokenize(video[:, :, :chunk])[0], [N], one_step),
                flops=flops.tokenize(chunk) + flops.detokenize(chunk, one_step),
                kind=None,
            )
        own, out["tokenize_s"] = self.measure(
            section,
            f"tokenize {T} frames {R}x{R}",
            lambda: model.tokenize(video, sample_posterior=False)[0],
            flops=flops.tokenize(T),
            kind="tokenize",
            result=f"in {model.precision.tokenize_runs}",
        )
        out["tokens"] = own.cpu()
        tokens = out["tokens"] if tokens is None else tokens
        chunks = model.chunking.num_chunks_for_frames(T)
        out["reconstruction"], out["reconstruct_s"] = self.measure(
            section,
            f"reconstruct k={N}, {s.steps} step(s), g={s.guidance:g} APG",
            lambda: decode_tokens(model, tokens, [N], s)[0],
            flops=flops.detokenize(T, s),
            result=f"{model.precision.label}, {chunks} chunk{'s' if chunks > 1 else ''}",
        )
        budgets = default_budgets(N)[-self.args.budgets :] if self.args.budgets else None
        out["budgets"] = budgets = budgets or default_budgets(N)
        _, out["ladder_s"] = self.measure(
            section,
            f"ladder of {len(budgets)} budgets",
            lambda: quality_curve(model, video[0], budgets, s, tokens=tokens),
            flops=flops.detokenize(T, s, batch=len(budgets)),
            result=lambda r: f"batches of {r.batch_size}, PSNR/SSIM included",
        )

    def section_app(self) -> None:
        cfg = real_config(self.args.depth, self.args.resolution)
        self.model_rows("app", cfg, F32, self.app)

    def section_seeds(self) -> None:
        """seed_spread (one batch, detokenize(seeds=)) against single decodes of its seeds."""
        model, tokens = self.app.get("model"), self.app.get("tokens")
        if model is None:
            raise OutOfTime("needs the app section's model and tokens")
        n, T, s = self.args.seeds, self.args.frames, self.sampler
        k = max(1, model.n_registers // 4)  # the page's default k
        flops = model_flops(model.config)
        spread, self.app["seeds_s"] = self.measure(
            "seeds",
            f"seed view: {n} seeds at k={k}, one batch",
            lambda: seed_spread(model, tokens, k, s, n),
            flops=flops.detokenize(T, s, batch=n),
            result=lambda r: f"mean spread {r.mean:.4f}",
        )
        self.app["seeds_n"] = n

        def verdict(i: int):
            """The single decode of seed i against the batch: EQUAL (rounding), CLOSE (far
            nearer its own batch sample than any other seed's: the same draws, other kernel
            rounding, grown by the sampler) or DIFFERENT (another noise or RNG stream)."""

            def compare(single):
                own = (single - spread.videos[i]).abs()
                mean, peak = own.mean().item(), own.max().item()
                other = min(
                    (single - v).abs().mean().item() for j, v in enumerate(spread.videos) if j != i
                )
                match = (
                    "EQUAL" if peak <= EQUAL else "CLOSE" if mean <= 0.1 * other else "DIFFERENT"
                )
                text = (
                    f"{match} to batch sample {i}: max |diff| {peak:.2e}, mean {mean:.2e} "
                    f"(to other seeds {other:.2e})"
                )
                return text, {"match": match, "max_diff": peak, "mean_diff": mean, "other": other}

            return compare

        for i in sorted({0, n - 1}):
            seed = s.seed + i
            self.measure(
                "seeds",
                f"seed {seed} alone (decode_tokens)",
                lambda seed=seed: decode_tokens(model, tokens, [k], replace(s, seed=seed))[0],
                flops=flops.detokenize(T, s),
                result=verdict(i),
            )

    def section_zerogpu(self) -> None:
        """The app's ZeroGPU durations against this run's GPU times, for every handler whose
        time the app and seeds sections measured (host work is not included: the mp4s and
        metrics need PyAV, which a bare GPU machine lacks)."""
        a, T, s = self.app, self.args.frames, self.sampler
        if "reconstruct_s" not in a:
            raise OutOfTime("needs the app section's tokenize and reconstruction times")
        cfg, flops = a["model"].config, model_flops(a["model"].config)
        assumed = ZEROGPU_PEAK_TFLOPS * ZEROGPU_EFFICIENCY
        tok = flops.tokenize(T)
        handlers = {"tokenize": (estimate_tokenize_seconds(cfg, T), a["tokenize_s"], tok, 0)}
        for name, key, budgets in (
            ("reconstruct", "reconstruct_s", 1),
            ("ladder", "ladder_s", len(a.get("budgets", ()))),
            ("seeds", "seeds_s", a.get("seeds_n", 0)),
        ):
            if key in a:  # tokenize (the clip may not be cached) + the decodes
                work = tok + flops.detokenize(T, s, batch=budgets)
                reserved = estimate_gpu_seconds(cfg, T, s, budgets)
                handlers[name] = (reserved, a["tokenize_s"] + a[key], work, budgets)
        peak, rates = self.report.peak, {}
        for name, (reserved, measured, work, budgets) in handlers.items():
            gpu = work / (assumed * 1e12)
            rates[name] = work / measured / 1e12
            text = (
                f"reserves {reserved} s (GPU part {gpu:.1f} s at {assumed:.0f} TFLOP/s); "
                f"measured {measured:.1f} s here"
            )
            extra = {"reserved_s": reserved, "gpu_part_s": gpu}
            if peak:  # the same share of peak on ZeroGPU's slice of an H200
                on_slice = extra["zerogpu_s"] = measured * peak / ZEROGPU_PEAK_TFLOPS
                enough = extra["enough"] = reserved >= on_slice
                text += f", ~{on_slice:.1f} s on a slice: {'enough' if enough else 'TOO SHORT'}"
            what = f"{name} ({budgets} budgets)" if budgets > 1 else name
            self.report.row("zerogpu", what, measured, work, None, text, **extra)
        # The decode handlers set the rate: tokenize's few FLOPs run far below it, and the
        # fixed GPU_SECONDS_FIXED covers them.
        slowest = min(r for name, r in rates.items() if name != "tokenize")
        doc = {"assumed_tflops": assumed, "measured_tflops": rates, "slowest_decode": slowest}
        result = f"assumed {assumed:.0f}; slowest decode handler here {slowest:.3g} TFLOP/s"
        if peak:
            share = slowest / peak
            doc["suggested_tflops"] = share * ZEROGPU_PEAK_TFLOPS
            result += (
                f" ({100 * share:.1f} % of this card's peak): at that share of a ZeroGPU slice "
                f"({ZEROGPU_PEAK_TFLOPS:.0f} peak) assume {share * ZEROGPU_PEAK_TFLOPS:.0f}"
            )
        self.report.doc["zerogpu"] = doc
        self.report.row("zerogpu", "TFLOP/s the estimate should assume", result=result)

    def section_fallback(self) -> None:
        """load_model asked for a model larger than the card: a real OOM, then the demo model."""
        self.app.pop("model", None)  # the card must hold nothing but what this section loads
        self.free()
        R = self.args.resolution
        capacity = (
            torch.cuda.get_device_properties(self.device).total_memory
            if self.cuda
            else NOMINAL_CARD_BYTES
        )
        self.need(30, "fallback")
        depth, nbytes = oversize_depth(capacity, R)

        def loader(ref: str, device: str) -> VideoFlexTok:
            if ref == OVERSIZE:
                return materialise(real_config(depth, R), torch.device(device), F32, 0)
            return VideoFlexTok.from_pretrained(ref, device=device)

        def fell_back(loaded):
            model, choice = loaded
            facts = {"reason": choice.reason, "ref": choice.ref, "notice": choice.notice}
            if not self.cuda:
                return f"no CUDA, no OOM to catch: {choice.reason} -> {choice.ref}", facts
            after = facts["allocated_after_gb"] = torch.cuda.memory_allocated(self.device) / 1e9
            ok = choice.reason == "fallback" and "ran out of GPU memory" in choice.notice
            text = f"{'FELL BACK' if ok else 'DID NOT FALL BACK'} to {choice.ref}; "
            return text + f"{after:.2f} GB allocated after", {**facts, "fell_back": ok}

        what = f"load_model asks {nbytes / 1e9:.0f} GB (depth {depth})"
        if not self.cuda:
            what = f"load_model (on {NOMINAL_CARD_BYTES / 1e9:.0f} GB: depth {depth})"
        (model, _), _ = self.measure(
            "fallback",
            what,
            lambda: load_model(device=str(self.device), env={}, hub_ref=OVERSIZE, loader=loader),
            need=30,
            kind=None,
            result=fell_back,
        )

        defaults = app_defaults(model)
        size, T, k = model.resolution[0], defaults.frames, defaults.k
        video = make_clip_tensor(0, T, size)[None]  # a procedural scene like the page's examples
        cpu_ids = VideoFlexTok.from_pretrained(DEMO_MODEL, device="cpu").tokenize(
            video, sample_posterior=False
        )[0]

        def serve():
            tokens = model.tokenize(video, sample_posterior=False)[0]
            return tokens.cpu(), decode_tokens(model, tokens, [k], defaults.sampler)[0]

        def served(out):
            tokens, recon = out
            equal = (tokens == cpu_ids).float().mean().item()
            text = (
                f"finite: {bool(torch.isfinite(recon).all())}; token ids equal to the CPU's: "
                f"{100 * equal:.2f} % of {tokens.numel()}"
            )
            return text, {"ids_equal_to_cpu": equal}

        self.measure(
            "fallback",
            f"demo model serves: {T} frames {size}x{size}, k={k}",
            serve,
            need=30,
            kind=None,
            result=served,
        )

    def section_bf16(self) -> None:
        """The app's rows with bf16 weights (the same draws, rounded), decoding the app's tokens,
        then how far they land from the app's float32 weights + autocast (when the app section
        reconstructed in this run; a rerun with --only bf16 gives the rows alone)."""
        self.app.pop("model", None)
        self.free()
        cfg = real_config(self.args.depth, self.args.resolution)
        out: dict = {}
        self.model_rows("bf16", cfg, torch.bfloat16, out, tokens=self.app.get("tokens"))
        out.pop("model")
        if "reconstruction" not in self.app:
            raise OutOfTime("the comparison needs the app section's reconstruction in this run")
        ref, video = self.app["reconstruction"], out["reconstruction"]
        same = (out["tokens"] == self.app["tokens"]).float().mean().item()
        diff = (video - ref).abs()
        self.report.row(
            "bf16",
            "bf16 weights vs float32 + autocast",
            result=(
                f"token ids equal {100 * same:.2f} % of {out['tokens'].numel()}"
                f"; video of the same tokens: max |diff| {diff.max().item():.4f}, mean "
                f"{diff.mean().item():.5f} (reference std {ref.std().item():.4f})"
            ),
            ids_equal=same,
            max_diff=diff.max().item(),
            mean_diff=diff.mean().item(),
            reference=self.app["precision"],
        )

    def section_k600(self) -> None:
        self.app.pop("model", None)
        self.free()
        R = max(16, self.args.resolution // 2 // 16 * 16)
        self.model_rows("k600", k600_config(self.args.depth, R), F32, {})


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--depth", type=int, default=None, help="every transformer's depth (CPU runs)")
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--frames", type=int, default=None, help="default: 33 on CUDA, 17 on a CPU")
    p.add_argument("--steps", type=int, default=None, help="default: 25 on CUDA, 1 on a CPU")
    p.add_argument("--guidance", type=float, default=20.0)
    p.add_argument("--budgets", type=int, default=None, help="only the largest n ladder budgets")
    p.add_argument("--seeds", type=int, default=None, help="seed view size: 4 on CUDA, 2 on CPU")
    p.add_argument("--matmul", type=int, default=None, help="baseline n: 8192 CUDA, 1024 CPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=float, default=None, help="seconds: 420 CUDA, 1800 CPU")
    p.add_argument("--watchdog", type=float, default=None, help="default: budget + 45 s")
    p.add_argument("--only", default=",".join(SECTIONS), help="sections to run, comma-separated")
    p.add_argument("--json", type=Path, default=None, help="default: $OUT/gpu_check.json")
    p.add_argument("--threads", type=int, default=None, help="torch threads on the CPU")
    args = p.parse_args(argv)
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    frames, steps, budgets, seeds, n, budget = DEFAULTS[kind]
    args.frames = args.frames or frames
    args.steps = args.steps or steps
    args.budgets = budgets if args.budgets is None and kind == "cpu" else args.budgets
    args.seeds = args.seeds or seeds
    args.matmul = args.matmul or n
    args.budget = budget if args.budget is None else args.budget
    args.watchdog = args.budget + 45 if args.watchdog is None else args.watchdog
    if args.json is None and os.environ.get("OUT"):
        args.json = Path(os.environ["OUT"]) / "gpu_check.json"
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only - set(SECTIONS):
        p.error(f"--only: unknown sections {sorted(only - set(SECTIONS))}; know {SECTIONS}")
    args.only = only
    try:
        real_config(args.depth, args.resolution)
        if args.frames < 17 or (args.frames - 1) % 16:
            raise ValueError(f"--frames must be 17, 33, 49, ... (1 + 16K), got {args.frames}")
        if not 2 <= args.seeds <= 8:
            raise ValueError(f"--seeds must be 2..8, got {args.seeds}")
    except ValueError as e:
        p.error(str(e))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.empty(0, device=device)  # fails here, not in a section, if the device is not usable
    cuda = device.type == "cuda"
    gpu = torch.cuda.get_device_name(device) if cuda else None
    peak = bf16_peak_tflops(gpu) if gpu else None
    total = torch.cuda.get_device_properties(device).total_memory / 1e9 if cuda else None
    depth = "released depths 18/28" if args.depth is None else f"depth {args.depth} (reduced)"
    facts = {
        "script": "benchmarks/gpu_check.py",
        "host": describe(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": gpu or "CPU",
        "device_memory_gb": total,
        "peak_bf16_tflops": peak,
        "tf32": {
            "cudnn": torch.backends.cudnn.allow_tf32,
            "matmul": torch.backends.cuda.matmul.allow_tf32,
        },
        "settings": {
            k: sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
        },
    }
    print(facts["host"])
    print(
        f"python {facts['python']}, torch {facts['torch']}; device {device} ({gpu or 'CPU'}"
        + (f", {total:.0f} GB" if total else "")
        + f"); bf16 peak {'n/a' if peak is None else f'{peak:.0f} TFLOP/s'}; TF32 convs "
        f"{facts['tf32']['cudnn']}, matmuls {facts['tf32']['matmul']}"
    )
    print(
        f"model: inferred d18_d28, random weights, {depth}, {args.resolution}x{args.resolution}, "
        f"{args.frames} frames, {args.steps} step(s), guidance {args.guidance:g} + APG; budget "
        f"{args.budget:.0f} s, watchdog {args.watchdog:.0f} s; JSON {args.json or 'none'}"
    )
    report = Report(args.json, facts, peak, "peak GB" if cuda else "RSS GB")
    start_watchdog(report, args.watchdog)
    errors = GpuCheck(args, report).run(args.only)
    status = "done" if not errors else f"done, {errors} section(s) failed"
    report.write(status=status)
    skipped = len(report.doc["skipped"])
    print(f"{status}; {skipped} skipped; {time.monotonic() - START:.0f} s", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
