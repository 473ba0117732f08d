"""The demo app's logic without the UI: one clip's tokens, cached decodes, the quality ladder and
the files the page offers, for one loaded model.

    from demo.service import DemoService
    service = DemoService.start()                        # model policy: see `startup.load_model`
    request = service.request(video="clip.mp4", k=16)   # the page's values; defaults for the rest
    out = service.reconstruct(request)
    out.side_by_side, out.stats                          # an mp4 path and one line of text
    for view in service.curve(request):                  # partial curves as budgets finish
        view.figure

`app.py` is a thin Gradio layer over `DemoService`: each handler calls one method here. What the
page sends (Gradio gives floats for sliders and numbers) is read once into a `request.Request`
(`service.request`), which every method takes whole; bad values, files and settings raise
`ValueError` (or its subclasses `VideoReadError`, `TokenFileError`, `CheckpointError`) with a
message for a person; anything else is a bug. Which model runs, the page's defaults and the
ZeroGPU reservations are in `startup.py`; the stats line and what the page gets back in
`views.py`; the plots in `figures.py`.

Caching: a clip (file content, start, length) is read and tokenized once per model (`clips`, an
LRU); decodes are kept by (clip, k, steps, guidance, APG, seed) in a bounded LRU (`decodes`) with
their mp4 files, so going back to a decoded k answers at once. The ladder (`curve`) fills the
decode cache too: a budget decoded there is the video a single decode gives (same seed, shared
noise, see `VideoFlexTok.decode_clip`).

Legend: T frames, H/W pixels, t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import atexit
import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from videoflextok_core.cache import LRU, tensor_bytes
from videoflextok_core.curve import (
    CurveCache,
    CurveResult,
    CurveSettings,
    cache_key,
    clip_hash,
    default_budgets,
    iter_quality_curve,
)
from videoflextok_core.figures import ladder_figure
from videoflextok_core.media.clip import load_clip
from videoflextok_core.media.compose import (
    budget_grid,
    comparison,
    grid_budgets,
    seed_grid,
    spread_image,
)
from videoflextok_core.media.video import VideoInfo, write_video
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.identity import config_hash, model_identity, weights_fingerprint
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.paths import EXAMPLES
from videoflextok_core.progress import Progress, silent, span, steps
from videoflextok_core.seeds import SeedSpread, seed_spread
from videoflextok_core.tokenfile import (
    TokenLimits,
    check_same_model,
    read_tokens,
    save_tokens,
    token_metadata,
)

from .examples import example_paths
from .request import Request, page_request
from .startup import (
    ModelChoice,
    app_defaults,
    display_name,
    estimate_gpu_seconds,
    estimate_tokenize_seconds,
    load_model,
    on_zero_gpu,
)
from .views import (
    CurveView,
    PageSetup,
    PageViews,
    Reconstruction,
    SeedView,
    SpreadStats,
    Stats,
    k_line,
    ladder_eta,
    token_stats,
)

LADDER_BATCH = {"cuda": 4, "cpu": 1}  # ladder budgets per decode call: partial curves on a CPU


# ---------------------------------------------------------------------------------------------
# Cache entries and keys (the caches: `cache.LRU`)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """A clip as the model sees it, tokenized once."""

    key: str  # file content + start + length + model
    video: Tensor  # (3, T, H, W) float32 CPU in [-1, 1]
    info: VideoInfo
    tokens: Tensor  # (1, t, N) int64 CPU
    tokenize_seconds: float
    folder: Path  # where this clip's files go
    decode_seconds: list = field(default_factory=list)  # each single decode's time: the ETA

    @functools.cached_property
    def content_hash(self) -> str:
        """`curve.clip_hash(video)`, the ladder cache's name for this clip, computed once."""
        return clip_hash(self.video)


@dataclass
class Decoded:
    """One decode, kept with the files made from it (written on first use)."""

    video: Tensor  # (3, T, H, W) float32 CPU in [-1, 1]
    seconds: float
    folder: Path
    files: dict  # name -> Path


@dataclass
class Seeded:
    """One seed view, kept with the files made from it (written on first use)."""

    result: SeedSpread
    folder: Path
    files: dict  # name -> Path


def _file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read once per (file, size, modification time): every page
    event names its video again, and a large upload should not be re-read each time."""
    st = os.stat(path)
    return _digest_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        h = hashlib.sha256()  # hashlib.file_digest is Python 3.11+; ZeroGPU runs 3.10
        while block := f.read(1 << 20):
            h.update(block)
        return h.hexdigest()[:24]


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------


class DemoService:
    """One loaded model and everything the page does with it (thread-safe; the app's queue runs
    one heavy event at a time per device)."""

    def __init__(
        self,
        model: VideoFlexTok,
        choice: ModelChoice | None = None,
        workdir: str | Path | None = None,
        max_clips: int = 8,
        max_decodes: int = 64,
        max_bytes: int = 2**30,
    ):
        self.model = model.eval()
        device = model.device.type
        self.choice = choice or ModelChoice(
            "(in memory)", device, "flag", f"Running a model given in code on {device}."
        )
        self.defaults = app_defaults(model)
        self.model_id = model_identity(model)
        self.config_hash = config_hash(model.config)
        self.fingerprint = weights_fingerprint(model)
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="videoflextok-demo-")
            atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Bounded memory: clips, decodes and curves each hold at most `max_bytes` of tensors
        # (a ladder's reconstructions are shared with the decode cache, not copied).
        self.clips = LRU(
            max_clips,
            max_bytes,
            lambda c: tensor_bytes(c.video),
            lambda c: shutil.rmtree(c.folder, ignore_errors=True),
        )
        self.decodes = LRU(
            max_decodes,
            max_bytes,
            lambda d: tensor_bytes(d.video),
            lambda d: shutil.rmtree(d.folder, ignore_errors=True),
        )
        self.curves = CurveCache(max_entries=4, max_bytes=max_bytes)
        self.seed_views = LRU(
            16,
            max_bytes,
            lambda v: tensor_bytes(v.result.videos),
            lambda v: shutil.rmtree(v.folder, ignore_errors=True),
        )
        self.spreads = LRU(32)  # (clip, sampler, seeds) -> {k: mean spread}: the curve's series
        self.ladder_batch = LADDER_BATCH["cuda" if device == "cuda" else "cpu"]
        self._device = threading.Lock()  # one model call at a time
        self._writing = threading.Lock()  # one mp4 writer per file (warm-up runs in a thread)

    @contextlib.contextmanager
    def _on_device(self):
        """One model call at a time; running out of GPU memory becomes a message, not a crash."""
        with self._device:
            try:
                yield
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                raise ValueError(
                    "out of GPU memory: try a shorter clip, or wait for other requests to finish"
                ) from None

    @classmethod
    def start(
        cls, ref: str | None = None, device: str | None = None, precision: str = "auto", **kw
    ) -> "DemoService":
        """Load the model by `load_model`'s policy, in `precision` ("auto", "fp32", "bf16"),
        and wrap it."""
        model, choice = load_model(ref, device, precision=precision)
        return cls(model, choice, **kw)

    # -- facts ----------------------------------------------------------------------------------

    def model_info(self) -> str:
        """Markdown: name, device and precision, resolution, tokens per frame, chunking,
        codebook."""
        m, c = self.model, self.model.chunking
        H, W = m.resolution
        levels = "·".join(map(str, m.config.fsq.levels))
        t = c.tokens_per_chunk
        p = m.precision
        return (
            f"**{display_name(self.choice.ref)}** on {self.choice.device}, {p} "
            f"(tokenize in {p.tokenize_runs})  \n"
            f"{H}×{W} pixels at {self.model.config.fps:g} fps · **{m.n_registers} tokens per "
            f"timestep** (registers per latent frame)  \n"
            f"chunks of {c.chunk} frames overlapping by {c.overlap}, {c.time_factor}× temporal "
            f"compression: {t} timesteps per chunk  \n"
            f"codebook {m.codebook_size:,} (FSQ levels {levels}) = "
            f"{math.log2(m.codebook_size):.2f} bits per token"
        )

    def length_choices(self) -> list[tuple[str, int]]:
        """(label, frames) for the clip length control."""
        fps = self.model.config.fps
        return [(f"{n} ({n / fps:.1f} s)", n) for n in self.defaults.frame_choices]

    def request(self, **page_values) -> Request:
        """The page's raw values (the keywords of `request.page_request`: video, start, length,
        k, guidance, steps, seed, apg, seeds) -> a checked `Request`; a missing one takes the
        page's default."""
        return page_request(self.defaults, self.model.n_registers, **page_values)

    def page_setup(self) -> PageSetup:
        """What the page's controls show for this model."""
        lengths = tuple(self.length_choices())
        timesteps = {n: self.timesteps(n) for _, n in lengths}
        N = self.model.n_registers
        return PageSetup(
            N, self.defaults, lengths, timesteps, self.ladder_budgets(), self.model_info()
        )

    def timesteps(self, frames: int) -> int:
        """Latent frames t (timesteps) of a clip of `frames` frames."""
        c = self.model.chunking
        return c.valid_token_frames(c.num_chunks_for_frames(frames))

    def k_line(self, request: Request) -> str:
        """Markdown next to the player: k and its token count for the request's clip length."""
        return k_line(request.k, self.timesteps(request.frames))

    def release(self) -> None:
        """Forget every cached clip, decode and curve and delete the files (the model goes with
        the last reference to this service)."""
        for cache in (self.clips, self.decodes, self.seed_views, self.spreads, self.curves):
            cache.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- clips ----------------------------------------------------------------------------------

    def _clip_key(self, request: Request) -> str:
        """The clip's cache key: file content (not name), start, length, model."""
        if request.video is None:
            raise ValueError("No video: upload one or pick an example first.")
        r = request
        return _key(_file_digest(r.video), r.start, r.frames, self.model_id)

    def clip(self, request: Request, progress: Progress | None = None) -> Clip:
        """Read and tokenize the request's clip, or take it from the cache (same file content,
        start, length and model)."""
        key = self._clip_key(request)
        hit = self.clips.get(key)
        if hit is not None:
            return hit
        report = progress or silent
        report(0.0, "reading the video")
        video_t, info = load_clip(request.video, self.model, None, request.start, request.frames)
        report(0.3, "tokenizing")
        t0 = time.perf_counter()
        with self._on_device():
            tokens = self.model.tokenize_clip(video_t)
        report(1.0, "tokenized")
        folder = self.workdir / key
        folder.mkdir(parents=True, exist_ok=True)
        clip = Clip(key, video_t, info, tokens, time.perf_counter() - t0, folder)
        self.clips.put(key, clip)
        return clip

    def tokenize(self, request: Request, progress=None) -> tuple[Path, str]:
        """-> (tokens .safetensors, Markdown about them). The file records the model, the clip
        and the request's decode settings (k and sampler)."""
        clip = self.clip(request, progress)
        settings = request.metadata()
        path = clip.folder / _key(settings) / f"{Path(clip.info.path).stem}.tokens.safetensors"
        if not path.exists():
            meta = token_metadata(
                self.model, self.choice.ref, clip.info, clip.video.shape[1], clip.tokens, settings
            )
            save_tokens(path, clip.tokens, meta)
        return path, self.clip_summary(clip)

    def clip_summary(self, clip: Clip) -> str:
        _, T, H, W = clip.video.shape
        t, N = clip.tokens.shape[1:]
        note = f" ({clip.info.note})" if clip.info.note else ""
        return (
            f"{T} frames at {clip.info.target_fps:g} fps from {clip.info.start:g} s, {H}×{W}"
            f"{note} → **{t} timesteps × {N} tokens** (tokenized in "
            f"{clip.tokenize_seconds:.2f} s)"
        )

    # -- decodes --------------------------------------------------------------------------------

    @staticmethod
    def _decode_key(clip: Clip, k: int, sampler: Sampler) -> str:
        s = sampler
        return _key(clip.key, k, s.steps, s.guidance, s.apg, s.seed)

    def decode(self, request: Request, progress=None) -> tuple[Decoded, bool]:
        """Decode the first k tokens of every timestep of the request's clip; -> (decode,
        whether it was cached)."""
        return self._decode(self.clip(request), request.k, request.sampler, progress)

    def _decode(self, clip: Clip, k: int, sampler: Sampler, progress=None):
        key = self._decode_key(clip, k, sampler)
        hit = self.decodes.get(key)
        if hit is not None:
            return hit, True
        video, seconds = self._decode_ids(clip.tokens, k, sampler, progress)
        decoded = Decoded(video, seconds, clip.folder / key, {})
        self.decodes.put(key, decoded)
        clip.decode_seconds.append(seconds)
        return decoded, False

    def _decode_ids(self, tokens: Tensor, k: int, sampler: Sampler, progress=None):
        """Token ids (1, t, N) decoded at k on the device -> ((3, T, H, W) video, seconds)."""
        on_step = steps(progress, lambda done, total: f"decoding k={k} (step {done}/{total})")
        t0 = time.perf_counter()
        with self._on_device():
            video = self.model.decode_clip(tokens, [k], sampler, on_step)[0]
        return video, time.perf_counter() - t0

    def reconstruct(self, request: Request, progress=None) -> Reconstruction:
        """Tokenize (once) and decode at k: side-by-side mp4 original | reconstruction | error,
        the reconstruction mp4 and the stats line."""
        clip = self.clip(request, span(progress, 0.0, 0.1))
        k = request.k
        decoded, cached = self._decode(clip, k, request.sampler, span(progress, 0.1, 0.95))
        files = self._files(clip, decoded, k)
        _, T, H, W = clip.video.shape
        t = clip.tokens.shape[1]
        stats = token_stats(t, k, self.model.codebook_size, T, H, W, decoded.seconds, cached)
        return Reconstruction(files["side_by_side"], files["video"], stats, clip.tokens, k)

    def _files(self, clip: Clip, decoded: Decoded, k: int) -> dict:
        """The decode's mp4s, written on first use (again if the clip's folder was dropped)."""
        with self._writing:
            if decoded.files and all(p.exists() for p in decoded.files.values()):
                return decoded.files
            folder = decoded.folder
            folder.mkdir(parents=True, exist_ok=True)
            fps = clip.info.target_fps
            total = k * clip.tokens.shape[1]
            frames = comparison(
                clip.video, decoded.video, f"reconstruction · k={k} · {total} tokens"
            )
            sbs = write_video(frames, folder / f"side_by_side_k{k}.mp4", fps)
            rec = write_video(decoded.video, folder / f"reconstruction_k{k}.mp4", fps)
            decoded.files.update(side_by_side=sbs, video=rec)
            return decoded.files

    # -- the ladder -----------------------------------------------------------------------------

    def ladder_budgets(self) -> tuple[int, ...]:
        N = self.model.n_registers
        return tuple(sorted(set(default_budgets(N)) | set(grid_budgets(N))))

    def curve(self, request: Request, progress=None) -> Iterator[CurveView]:
        """Decode the clip at every ladder budget; yields the curve so far after each batch
        (marking the request's k if decoded, with its ETA), the last one complete with its CSV.
        Fills the decode cache."""
        clip = self.clip(request, span(progress, 0.0, 0.05))
        budgets = self.ladder_budgets()
        eta = [self.ladder_eta(request)]  # the progress messages end with it

        def report(fraction: float, message: str) -> None:
            progress(0.05 + 0.95 * fraction, f"{message} · {eta[0]}")

        steps_iter = iter_quality_curve(
            self.model,
            clip.video,
            budgets,
            request.sampler,
            self.ladder_batch,
            None if progress is None else report,
            self.curves,
            clip.tokens,
        )
        t0 = time.perf_counter()
        while True:
            with self._on_device():  # per batch: not held while the caller has a partial curve
                result = next(steps_iter, None)
            if result is None:
                return
            self._remember_ladder(clip, result, request.sampler)
            done = len(result.budgets)
            eta[0] = ladder_eta(len(budgets), (time.perf_counter() - t0) / done, done)
            yield self._curve_view(clip, result, request, eta[0])

    def _remember_ladder(self, clip: Clip, result: CurveResult, sampler: Sampler) -> None:
        for row in result.rows:
            key = self._decode_key(clip, row.k, sampler)
            if key not in self.decodes:
                video = result.reconstructions[row.k]
                self.decodes.put(key, Decoded(video, row.seconds, clip.folder / key, {}))

    def _curve_view(self, clip: Clip, result: CurveResult, request: Request, eta: str):
        spread = self.spreads.get(self._spread_key(clip, request)) or {}
        fig = ladder_figure(result, request.k, spread)
        csv = None
        if result.complete:
            csv = clip.folder / f"curve_{_key(repr(result.settings))[:12]}.csv"
            with self._writing:
                csv.parent.mkdir(parents=True, exist_ok=True)
                if not csv.exists():
                    csv.write_text(result.to_csv())
        return CurveView(fig, csv, eta, result, clip.folder, clip.info.target_fps)

    def finished_curve(self, request: Request) -> CurveView | None:
        """The complete ladder for the request if it has run (k marked, the seed spreads
        measured so far as a series), else None (never decodes or reads a video; None without
        a video or for a file that is gone)."""
        try:
            clip = self.clips.get(self._clip_key(request))
        except (ValueError, OSError):
            return None
        if clip is None:
            return None
        settings = CurveSettings.make(
            self.model.n_registers, self.ladder_budgets(), request.sampler
        )
        hit = self.curves.get(cache_key(clip.content_hash, self.model_id, settings))
        if hit is None:
            return None
        budgets = len(self.ladder_budgets())
        return self._curve_view(clip, hit, request, ladder_eta(budgets, None, budgets))

    def ladder_eta(self, request: Request) -> str:
        """Markdown: how long the ladder of the request's clip takes, from the decodes of this
        clip measured so far (the median; a ladder budget costs about one decode)."""
        try:
            clip = self.clips.get(self._clip_key(request))
        except (ValueError, OSError):  # no video, or a file that is gone
            clip = None
        times = sorted(clip.decode_seconds) if clip is not None else []
        seconds = times[len(times) // 2] if times else None
        return ladder_eta(len(self.ladder_budgets()), seconds)

    def grid(self, view: CurveView) -> Path:
        """The budget grid mp4 (original, then k = 1, 4, 16, 64, N) of a complete ladder."""
        r = view.result
        if not r.complete:
            raise ValueError("the quality ladder has not finished yet")
        path = view.folder / f"grid_{_key(repr(r.settings))[:12]}.mp4"
        with self._writing:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                ks = [k for k in grid_budgets(self.model.n_registers) if k in r.reconstructions]
                frames = budget_grid({k: r.reconstructions[k] for k in ks}, r.original, ncols=3)
                write_video(frames, path, view.fps)
        return path

    def views(self, request: Request) -> PageViews:
        """Token view, downloads, curve marker and ladder ETA for a reconstruction (decodes
        only if it is not cached, e.g. evicted)."""
        r = self.reconstruct(request)
        tokens, _ = self.tokenize(request)
        curve = self.finished_curve(request)
        eta = curve.eta if curve is not None else self.ladder_eta(request)
        return PageViews(r.tokens, r.k, (tokens, r.video), curve, eta)

    # -- what the decoder invents ---------------------------------------------------------------

    @staticmethod
    def _spread_key(clip: Clip, request: Request) -> str:
        s = request.sampler
        return _key(clip.key, s.steps, s.guidance, s.apg, s.seed, request.seeds)

    def seed_view(self, request: Request, progress=None) -> SeedView:
        """Decode the request's k with seeds seed .. seed + seeds - 1 in one batched call (or
        take it from the cache): the grid mp4 (original, each seed, spread heatmap), the spread
        image and its stats. Feeds the decode cache (one decode per seed) and the curve's
        spread series."""
        clip = self.clip(request, span(progress, 0.0, 0.1))
        k, s, n = request.k, request.sampler, request.seeds
        spread_key = self._spread_key(clip, request)
        key = _key(spread_key, k)
        hit = self.seed_views.get(key)
        cached = hit is not None
        if not cached:
            on_step = steps(
                span(progress, 0.1, 0.95),
                lambda done, total: f"decoding {n} seeds at k={k} (step {done}/{total})",
            )

            with self._on_device():
                result = seed_spread(self.model, clip.tokens, k, s, n, on_step)
            hit = Seeded(result, clip.folder / key, {})
            self.seed_views.put(key, hit)
            for seed, video in zip(result.seeds, result.videos, strict=True):
                one = self._decode_key(clip, k, replace(s, seed=seed))
                if one not in self.decodes:  # the video a single decode with that seed gives
                    self.decodes.put(one, Decoded(video, result.seconds, clip.folder / one, {}))
        spreads = self.spreads.get(spread_key) or {}
        self.spreads.put(spread_key, {**spreads, k: hit.result.mean})
        files = self._seed_files(clip, hit)
        r = hit.result
        stats = SpreadStats(k, r.seeds, clip.tokens.shape[1], r.mean, r.seconds, cached)
        return SeedView(files["grid"], files["image"], stats)

    def _seed_files(self, clip: Clip, seeded: Seeded) -> dict:
        """The seed view's grid mp4 and spread png, written on first use (again if dropped)."""
        with self._writing:
            if seeded.files and all(p.exists() for p in seeded.files.values()):
                return seeded.files
            r, folder = seeded.result, seeded.folder
            folder.mkdir(parents=True, exist_ok=True)
            frames = seed_grid(clip.video, list(r.videos), r.seeds, r.spread)
            grid = write_video(frames, folder / f"seeds_k{r.k}.mp4", clip.info.target_fps)
            image = folder / f"spread_k{r.k}.png"
            Image.fromarray(spread_image(r.spread)).save(image)
            seeded.files.update(grid=grid, image=image)
            return seeded.files

    # -- start-up and ZeroGPU -------------------------------------------------------------------

    def can_warm_up(self) -> bool:
        """Warming up in a thread needs the model outside a ZeroGPU task."""
        return not on_zero_gpu()

    def warm_up(self, examples: str | Path = EXAMPLES) -> int:
        """Tokenize and decode every example clip at the page's defaults (fills the caches, so
        clicking an example answers at once). Returns the number of clips done."""
        done = 0
        for path in example_paths(examples):
            try:
                self.reconstruct(self.request(video=path))
                done += 1
            except ValueError:
                continue  # a broken example shows its message when clicked
        return done

    def gpu_seconds(self, request: Request, budgets: int = 1) -> int:
        """`estimate_gpu_seconds` of decoding `budgets` budgets of the request's clip."""
        return estimate_gpu_seconds(self.model.config, request.frames, request.sampler, budgets)

    def tokenize_seconds(self, request: Request) -> int:
        """ZeroGPU duration of a tokenize handler: the VAE and encoder only."""
        return estimate_tokenize_seconds(self.model.config, request.frames)

    def decode_seconds(self, request: Request) -> int:
        """ZeroGPU duration of a reconstruct handler."""
        return self.gpu_seconds(request)

    def seeds_seconds(self, request: Request) -> int:
        """ZeroGPU duration of a seed view: one budget per seed (one batched call)."""
        return self.gpu_seconds(request, request.seeds)

    def ladder_seconds(self, request: Request) -> int:
        """ZeroGPU duration of a ladder handler: every ladder budget."""
        return self.gpu_seconds(request, len(self.ladder_budgets()))

    def file_seconds(self, request: Request) -> int:
        """ZeroGPU duration of a tokens-file decode: its length is unknown, so the longest clip."""
        return self.gpu_seconds(replace(request, frames=self.defaults.frame_choices[-1]))

    # -- tokens files ---------------------------------------------------------------------------

    def token_limits(self) -> TokenLimits:
        """What a tokens-file upload may hold: the timesteps of the page's longest clip."""
        longest = self.timesteps(self.defaults.frame_choices[-1])
        return TokenLimits(longest, self.model.n_registers)

    def decode_file(self, tokens_file, request: Request, progress=None) -> tuple[Path, Stats]:
        """Decode a tokens file made by the app or the CLI at the request's k (capped by the
        tokens in the file) and sampler; refuses one from another model.
        -> (reconstruction mp4, stats)."""
        if not tokens_file:
            raise ValueError("No tokens file: upload a .safetensors made by the app or the CLI.")
        tokens, meta = read_tokens(tokens_file, self.token_limits())
        name = Path(tokens_file).name
        here = f"this app's model ({display_name(self.choice.ref)})"
        advice = "Decode it with the model that made it: python -m videoflextok_core detokenize."
        check_same_model(meta, name, "model_config_hash", self.config_hash, "config", here, advice)
        check_same_model(
            meta, name, "model_weights_fingerprint", self.fingerprint, "weights", here, advice
        )
        t, n = tokens.shape[1:]  # ids and lengths are checked by detokenize (ValueError)
        k, sampler = min(request.k, n), request.sampler
        video, seconds = self._decode_ids(tokens, k, sampler, progress)
        fps = float(meta.get("fps", self.model.config.fps))
        folder = self.workdir / "decoded" / _key(_file_digest(tokens_file), k, repr(sampler))
        folder.mkdir(parents=True, exist_ok=True)
        path = write_video(video, folder / f"{Path(name).stem.split('.')[0]}_k{k}.mp4", fps)
        _, T, H, W = video.shape
        return path, token_stats(t, k, self.model.codebook_size, T, H, W, seconds)


__all__ = ["DemoService"]
