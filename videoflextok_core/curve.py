"""Quality curve: how well one clip reconstructs at each token budget k (tokens per timestep).

    from videoflextok_core.curve import quality_curve
    from videoflextok_core.model.sampling import Sampler
    result = quality_curve(model, "clip.mp4", budgets=[1, 4, 16, 64, 256], sampler=Sampler(25))
    print(result.to_csv())
    curve_figure(result, selected_k=16).write_html("curve.html")   # videoflextok_core.figures
    result.reconstructions[16]          # (3, T, H, W) in [-1, 1], no second decode needed

The clip is tokenized ONCE, from the VAE posterior mean (`sample_posterior=False`), so its tokens
do not depend on any RNG. Every budget then decodes a prefix of the same tokens. Budgets are
decoded several at a time in one `detokenize` call (it batches samples and runs both guidance
branches in one forward), which is what makes a ladder fast.

Same seed, same noise: decoding a budget inside the ladder gives the video that decoding it
alone gives (`model.decode_clip`, or `model.detokenize` with `generator=sampler.generator()` after
`torch.manual_seed(sampler.seed)`). The first chunk's noise is drawn once per seed, exactly as a
single-sample call draws it, and handed to every budget through `noise_list`. Caveat, clips longer
than one chunk: `detokenize` draws the noise of later chunks per sample, in batch order, and
re-encodes decoded frames with global-RNG draws sized by the batch (VAE posterior, FSQ), so there
a batched budget does not match its single decode; `max_batch=1` restores the property (slower).

With `cache=CurveCache()` (the caller keeps it), results are kept by (clip content, model
identity, settings) in a bounded in-memory LRU (`cache.LRU`), optionally mirrored on disk
(`CurveCache(directory=...)`).

Legend: T frames, H/W pixels, t latent (token) frames, N tokens per latent frame, k budget.
"""

import csv
import hashlib
import io
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from .cache import LRU, key_of, tensor_bytes
from .media.metrics import compute_metrics
from .model import VideoFlexTok
from .model.identity import model_identity
from .model.sampling import Sampler
from .progress import Progress, silent, span, steps

GRID = (1, 4, 16, 64)  # budget grid panels below N, then N
DEFAULT_SAMPLER = Sampler(steps=25)  # guidance off: one decoder forward per step (CPU friendly)
MEMORY_FRACTION = 0.5  # share of the free memory a ladder batch may use
TOKENIZE_SHARE = 0.05  # progress fraction reported once tokenizing is done
CSV_COLUMNS = (
    "k",
    "tokens_per_timestep",
    "total_tokens",
    "bytes",
    "psnr",
    "psnr_pooled",
    "ssim",
    "seconds",
)


# ---------------------------------------------------------------------------------------------
# Settings and defaults
# ---------------------------------------------------------------------------------------------


def default_budgets(n: int) -> tuple[int, ...]:
    """1, 2, 4, ... below n, then n itself: (1, 2, 4, 8, 16) for n = 16, (1, 2, 4, 8, 12) for 12."""
    if n < 1:
        raise ValueError(f"tokens per latent frame must be >= 1, got {n}")
    return tuple(2**i for i in range(n.bit_length()) if 2**i < n) + (n,)


def grid_budgets(n: int) -> tuple[int, ...]:
    """The budgets a budget grid shows for N tokens per frame: 1, 4, 16, 64 below N, then N.
    (Here beside `default_budgets`, not in `media.compose`: the page's defaults need them where
    Pillow and PyAV are not installed.)"""
    return tuple(k for k in GRID if k < n) + (n,)


@dataclass(frozen=True)
class CurveSettings:
    """What a curve depends on besides the clip and the model (part of the cache key)."""

    budgets: tuple[int, ...]  # ascending, unique, each in 1..N
    sampler: Sampler = DEFAULT_SAMPLER  # a numeric guidance and no cfg_rescaler: a cache key

    @classmethod
    def make(
        cls, n_registers: int, budgets: Sequence[int] | None = None, sampler: Sampler | None = None
    ) -> "CurveSettings":
        """Validated settings; `budgets=None` gives `default_budgets(n_registers)`,
        `sampler=None` `DEFAULT_SAMPLER` (25 steps, guidance off, seed 0)."""
        N = n_registers
        if budgets is None:
            budgets = default_budgets(N)
        if isinstance(budgets, (str, bytes, int)) or not isinstance(budgets, Sequence):
            raise ValueError(f"budgets must be a list of ints in 1..{N}, got {budgets!r}")
        if len(budgets) == 0:
            raise ValueError(f"budgets is empty; give at least one k in 1..{N}")
        for k in budgets:
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= N:
                raise ValueError(
                    f"budgets must be ints in 1..{N} (tokens per latent frame), got {k!r}"
                )
        sampler = DEFAULT_SAMPLER if sampler is None else sampler
        if not isinstance(sampler, Sampler):
            raise ValueError(f"sampler must be a Sampler, got {type(sampler).__name__}")
        if callable(sampler.guidance) or sampler.cfg_rescaler is not None:
            raise ValueError(
                "a curve's sampler needs a numeric guidance and no cfg_rescaler (they key its "
                f"cache), got guidance {sampler.guidance!r}, cfg_rescaler {sampler.cfg_rescaler!r}"
            )
        return cls(tuple(sorted(set(budgets))), sampler)

    def key(self) -> dict:
        """The settings as JSON values (cache key, disk copy)."""
        return {"budgets": list(self.budgets), "sampler": asdict(self.sampler)}

    @classmethod
    def from_key(cls, key: dict) -> "CurveSettings":
        return cls(tuple(key["budgets"]), Sampler(**key["sampler"]))


# ---------------------------------------------------------------------------------------------
# Identity of a clip (the model's: model/identity.py)
# ---------------------------------------------------------------------------------------------


def clip_hash(clip: Tensor) -> str:
    """Content hash of a clip (shape and float32 values)."""
    x = clip.detach().to("cpu", torch.float32).contiguous()
    h = hashlib.blake2b(str(tuple(x.shape)).encode(), digest_size=16)
    h.update(x.numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------


def estimate_decode_bytes(model: VideoFlexTok, num_frames: int, guided: bool) -> int:
    """Rough peak memory of decoding one budget: the VAE decoder's widest full-resolution
    activations (a few live at once) plus the flow decoder's sequence (x2 with guidance) plus
    the output video. An estimate for batching, not a bound."""
    cfg = model.config
    arch, (H, W) = cfg.vae.arch, model.resolution
    bytes_per = 2 if model.precision.runs == "bf16" else 4
    vae = 6 * arch.ch * max(arch.ch_mult[:2]) * cfg.chunk_size * H * W
    t, h, w = cfg.vae_video_sizes
    dim = getattr(cfg.decoder.spec(cfg.decoder.transformer), "dim", 1024)
    seq = t * (model.n_registers + h * w)  # registers + latent patches (an upper bound)
    flow = (2 if guided else 1) * 12 * seq * dim
    out = 3 * 3 * num_frames * H * W
    return int(bytes_per * (vae + flow) + 4 * out)


def available_memory(device: torch.device) -> int:
    """Free bytes on `device`: CUDA's free memory, else the host's available RAM (4 GiB if the
    platform does not say)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def auto_max_batch(model: VideoFlexTok, num_frames: int, guided: bool) -> int:
    """Budgets per `detokenize` call that fit in `MEMORY_FRACTION` of the free memory."""
    per = estimate_decode_bytes(model, num_frames, guided)
    return max(1, int(MEMORY_FRACTION * available_memory(model.device) // per))


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveRow:
    k: int  # tokens per latent frame (= per timestep)
    tokens_per_timestep: int
    total_tokens: int  # k * latent frames
    bytes: float  # total_tokens * log2(codebook size) / 8
    psnr: float  # mean of per-frame PSNR, dB
    psnr_pooled: float  # PSNR of the clip-wide MSE, dB
    ssim: float  # mean of per-frame SSIM
    seconds: float  # this budget's share of its batch's decode time, plus its metrics


@dataclass(frozen=True)
class CurveResult:
    """A quality curve; treat as read-only (cached results are shared)."""

    rows: tuple[CurveRow, ...]  # ascending k
    reconstructions: dict[int, Tensor]  # k -> (3, T, H, W) float32 CPU in [-1, 1]
    tokens: Tensor  # (1, t, N) int64 CPU
    original: Tensor  # (3, T, H, W) float32 CPU, the clip as tokenized
    settings: CurveSettings
    model_id: str
    clip_id: str
    batch_size: int  # budgets per detokenize call
    tokenize_seconds: float
    from_cache: bool = False
    extra: dict = field(default_factory=dict)  # e.g. {"video_note": ...} for a file input

    @property
    def budgets(self) -> tuple[int, ...]:
        return tuple(r.k for r in self.rows)

    @property
    def complete(self) -> bool:
        """False for a partial result of `iter_quality_curve` (some budgets not decoded yet)."""
        return len(self.rows) == len(self.settings.budgets)

    def row(self, k: int) -> CurveRow:
        for r in self.rows:
            if r.k == k:
                return r
        raise ValueError(f"k={k} is not in this curve's budgets {self.budgets}")

    def table(self) -> list[dict]:
        """One dict per budget, keys `CSV_COLUMNS`."""
        return [asdict(r) for r in self.rows]

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for r in self.rows:
            writer.writerow(
                [
                    r.k,
                    r.tokens_per_timestep,
                    r.total_tokens,
                    f"{r.bytes:.1f}",
                    f"{r.psnr:.4f}",
                    f"{r.psnr_pooled:.4f}",
                    f"{r.ssim:.5f}",
                    f"{r.seconds:.3f}",
                ]
            )
        return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------


def _result_bytes(r: CurveResult) -> int:
    return tensor_bytes(r.tokens, r.original, *r.reconstructions.values())


class CurveCache:
    """Bounded LRU of curve results in memory (`cache.LRU`: at most `max_entries` results and
    `max_bytes` of tensors), optionally mirrored on disk as <key>.json + <key>.safetensors in
    `directory` (the disk copy is not pruned)."""

    def __init__(
        self, max_entries: int = 8, max_bytes: int = 2 * 2**30, directory: str | Path | None = None
    ):
        if max_entries < 1 or max_bytes < 1:
            raise ValueError(
                f"need max_entries >= 1 and max_bytes >= 1, got {max_entries}, {max_bytes}"
            )
        self.directory = None if directory is None else Path(directory)
        self._memory = LRU(max_entries, max_bytes, _result_bytes)
        self._lock = threading.Lock()  # handlers run in threads: one at a time uses the disk copy

    def __len__(self) -> int:
        return len(self._memory)

    def clear(self) -> None:
        self._memory.clear()

    def get(self, key: str) -> CurveResult | None:
        with self._lock:
            result = self._memory.get(key)
            if result is None and self.directory is not None:
                result = self._load(key)
                if result is not None:
                    self._memory.put(key, result)
            return result

    def put(self, key: str, result: CurveResult) -> None:
        with self._lock:
            self._memory.put(key, result)
            if self.directory is not None:
                self._save(key, result)

    def _save(self, key: str, r: CurveResult) -> None:
        from safetensors.torch import save_file

        self.directory.mkdir(parents=True, exist_ok=True)
        tensors = {"tokens": r.tokens, "original": r.original}
        tensors.update({f"recon_k{k}": v for k, v in r.reconstructions.items()})
        meta = {
            "rows": [asdict(row) for row in r.rows],
            "settings": r.settings.key(),
            "model_id": r.model_id,
            "clip_id": r.clip_id,
            "batch_size": r.batch_size,
            "tokenize_seconds": r.tokenize_seconds,
            "extra": r.extra,
        }
        base = self.directory / key
        tmp = base.with_suffix(f".{os.getpid()}.tmp")  # other processes may share the dir
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
        os.replace(tmp, base.with_suffix(".safetensors"))
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, base.with_suffix(".json"))  # written last: marks the entry complete

    def _load(self, key: str) -> CurveResult | None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        base = self.directory / key
        try:
            meta = json.loads(base.with_suffix(".json").read_text())
            tensors = load_file(str(base.with_suffix(".safetensors")))
            rows = tuple(CurveRow(**row) for row in meta["rows"])
            settings = CurveSettings.from_key(meta["settings"])
            return CurveResult(
                rows=rows,
                reconstructions={r.k: tensors[f"recon_k{r.k}"] for r in rows},
                tokens=tensors["tokens"],
                original=tensors["original"],
                settings=settings,
                model_id=meta["model_id"],
                clip_id=meta["clip_id"],
                batch_size=meta["batch_size"],
                tokenize_seconds=meta["tokenize_seconds"],
                extra=meta.get("extra", {}),
            )
        except (OSError, ValueError, KeyError, TypeError, SafetensorError):  # missing, damaged
            return None


def cache_key(clip_id: str, model_id: str, settings: CurveSettings) -> str:
    """The key of a curve: the clip's content, the model's identity and the settings."""
    return key_of(clip_id, model_id, settings.key())


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------


def _check_clip(clip, model: VideoFlexTok) -> Tensor:
    if not isinstance(clip, Tensor):
        raise ValueError(f"clip must be a video path or a tensor, got {type(clip).__name__}")
    if clip.dim() == 5 and clip.shape[0] == 1:
        clip = clip[0]
    H, W = model.resolution
    if clip.dim() != 4 or clip.shape[0] != 3 or tuple(clip.shape[2:]) != (H, W):
        raise ValueError(f"clip must be (3, T, {H}, {W}) in [-1, 1], got {tuple(clip.shape)}")
    if not clip.is_floating_point():
        raise ValueError(f"clip must be a float tensor in [-1, 1], got {clip.dtype}")
    return clip.detach().to("cpu", torch.float32)


def _check_tokens(tokens, model: VideoFlexTok) -> Tensor:
    N = model.n_registers
    if not isinstance(tokens, Tensor) or tokens.is_floating_point():
        raise ValueError(f"tokens must be an int tensor (1, t, {N}), got {type(tokens).__name__}")
    if tokens.dim() != 3 or tokens.shape[0] != 1 or tokens.shape[2] != N:
        raise ValueError(f"tokens must be (1, t, {N}) ids, got {tuple(tokens.shape)}")
    return tokens.detach().to("cpu", torch.int64)


def quality_curve(model: VideoFlexTok, clip: Tensor | str | os.PathLike, **options) -> CurveResult:
    """Tokenize `clip` once, decode it at every budget, measure PSNR / SSIM against it: the
    complete `CurveResult` (the same object's data again, `from_cache=True`, on a repeated call
    with a cache). `options` are `iter_quality_curve`'s: budgets, sampler, max_batch, progress,
    cache, tokens."""
    return deque(iter_quality_curve(model, clip, **options), maxlen=1)[0]


def iter_quality_curve(
    model: VideoFlexTok,
    clip: Tensor | str | os.PathLike,
    budgets: Sequence[int] | None = None,
    sampler: Sampler | None = None,
    max_batch: int | None = None,
    progress: Progress | None = None,
    cache: CurveCache | None = None,
    tokens: Tensor | None = None,
) -> Iterator[CurveResult]:
    """`quality_curve` step by step: yields a partial `CurveResult` (the rows of the budgets
    decoded so far, `complete` False) after each batch of `max_batch` budgets, the last one
    complete. A cache hit yields the cached result once. An app draws the curve as it fills in:
    `for partial in iter_quality_curve(...): show(partial)`.

    Args:
        model: a loaded `VideoFlexTok`.
        clip: (3, T, H, W) or (1, 3, T, H, W) in [-1, 1] at the model's resolution, or a video
            path (read with `load_clip` at the model's resolution and frame rate).
        budgets: tokens per latent frame, each in 1..N; default `default_budgets(N)`.
        sampler: steps, guidance, APG and the seed of every budget's noise (see the module
            docstring on determinism); default `DEFAULT_SAMPLER`, 25 steps with guidance off.
        max_batch: budgets per `detokenize` call; default `auto_max_batch` (from free memory).
        progress: callback(fraction in [0, 1], message), e.g. (0.4, "decoding k=4 (step 3/16)").
        cache: where results are kept (the caller's `CurveCache`); None: always compute.
        tokens: the clip's tokens (1, t, N), if already at hand; they must be what
            `model.tokenize_clip(clip)` gives (not checked). Skips tokenizing;
            `tokenize_seconds` is then 0.
    """
    settings = CurveSettings.make(model.n_registers, budgets, sampler)
    if max_batch is not None and (
        isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1
    ):
        raise ValueError(f"max_batch must be an int >= 1 or None, got {max_batch!r}")
    extra = {}
    if isinstance(clip, (str, os.PathLike)):
        from .media.clip import load_clip  # PyAV, only for a file (the model runs without it)

        clip, info = load_clip(clip, model)
        extra = {"source": str(info.path), "fps": info.target_fps, "video_note": info.note}
    clip = _check_clip(clip, model)
    if tokens is not None:
        tokens = _check_tokens(tokens, model)
    report = progress or silent

    T = clip.shape[1]
    batch = max_batch or auto_max_batch(model, T, settings.sampler.guided)
    batch = min(batch, len(settings.budgets))
    # Results do not depend on how budgets are batched (shared noise, see model.decode_clip).
    model_id, clip_id = model_identity(model), clip_hash(clip)
    key = cache_key(clip_id, model_id, settings)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            report(1.0, "cached")
            yield replace(hit, from_cache=True)
            return

    tokenize_seconds = 0.0
    if tokens is None:
        report(0.0, "tokenize")
        t0 = time.perf_counter()
        on_chunk = steps(span(report, 0.0, TOKENIZE_SHARE), lambda i, n: f"tokenize ({i}/{n})")
        tokens = model.tokenize_clip(clip, on_chunk)  # (1, t, N)
        tokenize_seconds = time.perf_counter() - t0
    report(TOKENIZE_SHARE, "tokenize done")

    t_latent = tokens.shape[1]
    bits = math.log2(model.codebook_size)
    groups = [settings.budgets[i : i + batch] for i in range(0, len(settings.budgets), batch)]
    rows, recons = [], {}
    for g, ks in enumerate(groups):
        names = ",".join(map(str, ks))

        def on_step(done: int, total: int, g=g, names=names) -> None:
            frac = TOKENIZE_SHARE + (1 - TOKENIZE_SHARE) * (g + done / total) / len(groups)
            report(min(frac, 1.0), f"decoding k={names} (step {done}/{total})")

        t0 = time.perf_counter()
        videos = model.decode_clip(tokens, ks, settings.sampler, on_step)
        share = (time.perf_counter() - t0) / len(ks)
        for k, video in zip(ks, videos):
            t0 = time.perf_counter()
            m = compute_metrics(clip, video)
            total = k * t_latent
            rows.append(
                CurveRow(
                    k,
                    k,
                    total,
                    total * bits / 8,
                    m.psnr_mean,
                    m.psnr_pooled,
                    m.ssim_mean,
                    share + time.perf_counter() - t0,
                )
            )
            recons[k] = video
        result = CurveResult(
            rows=tuple(rows),
            reconstructions=dict(recons),
            tokens=tokens,
            original=clip,
            settings=settings,
            model_id=model_id,
            clip_id=clip_id,
            batch_size=batch,
            tokenize_seconds=tokenize_seconds,
            extra=extra,
        )
        if result.complete:
            if cache is not None:
                cache.put(key, result)
            report(1.0, "done")
        yield result


__all__ = [
    "CurveCache",
    "CurveResult",
    "CurveRow",
    "CurveSettings",
    "default_budgets",
    "grid_budgets",
    "iter_quality_curve",
    "quality_curve",
]
