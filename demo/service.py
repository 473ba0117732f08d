"""Everything the page does with one loaded model: read and tokenize a clip once, decode it at k,
run the quality ladder, decode several seeds, decode a tokens file.

    from demo.service import DemoService
    service = DemoService.start()                        # model policy: `startup.choose_model`
    request = service.request(video="clip.mp4", k=16)   # the page's values; defaults for the rest
    out = service.reconstruct(request)
    out.side_by_side, out.stats                          # an mp4 path and the stats
    for view in service.curve(request):                  # partial curves as budgets finish
        view.figure

This module orchestrates: what is kept and its files are `store.py`'s, every text `views.py`'s.
What the page sends is read once into a `request.Request` (`service.request`), which every
method takes whole. Bad values, files and settings raise `ValueError` (or its subclasses
`VideoReadError`, `TokenFileError`, `CheckpointError`) with a message for a person; anything
else is a bug.

A clip (file content, start, length) is read and tokenized once per model; decodes are kept by
(clip, k, steps, guidance, APG, seed), so going back to a decoded k answers at once. The ladder
and the seed view fill the decode cache too: a budget or a seed decoded there is the video a
single decode gives (`VideoFlexTok.decode_clip`, `seeds.seed_spread`).

Each request is a visit and each model call a turn on the device's `DeviceQueue` (shared by the
services of a `models.Models`): background work (the warm-up) gives way at every model step.

Legend: T frames, H/W pixels, t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from videoflextok_core import tokenfile
from videoflextok_core.curve import CurveResult, CurveSettings, cache_key, iter_quality_curve
from videoflextok_core.figures import ladder_figure
from videoflextok_core.media.clip import load_clip
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.identity import config_hash, model_identity, weights_fingerprint
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.progress import Progress, silent, span, steps
from videoflextok_core.seeds import seed_spread

from . import views
from .defaults import app_defaults
from .device_queue import DeviceQueue, visiting
from .request import Request, page_request, page_sampler
from .startup import ModelChoice, choose_model, display_name
from .store import Clip, Store
from .views import CurveView, PageSetup, PageViews, Reconstruction, SeedView, SpreadStats, Stats

LADDER_BATCH = {"cuda": 4, "cpu": 1}  # ladder budgets per decode call: partial curves on a CPU


class DemoService:
    """One loaded model and everything the page does with it (thread-safe: `queue`)."""

    def __init__(
        self,
        model: VideoFlexTok,
        choice: ModelChoice | None = None,
        workdir: str | Path | None = None,
        max_clips: int = 8,
        max_decodes: int = 64,
        max_bytes: int = 2**30,
        queue: DeviceQueue | None = None,  # the device's, shared by its services (default new)
    ):
        self.model = model.eval()
        device = model.device.type
        self.choice = choice or ModelChoice(
            "(in memory)", device, "flag", f"Running a model given in code on {device}."
        )
        self.defaults = app_defaults(model)
        self.config_hash = config_hash(model.config)
        self.fingerprint = weights_fingerprint(model)
        self.store = Store(workdir, model_identity(model), max_clips, max_decodes, max_bytes)
        self.workdir = self.store.workdir
        self.ladder_batch = LADDER_BATCH["cuda" if device == "cuda" else "cpu"]
        self.queue = queue or DeviceQueue(model.device)

    @classmethod
    def start(
        cls, ref: str | None = None, device: str | None = None, precision: str = "auto", **kw
    ) -> "DemoService":
        """Load the model by `startup.choose_model`'s policy, in `precision` ("auto", "fp32",
        "bf16"), and wrap it."""
        model, choice = choose_model(ref, device, precision=precision)
        return cls(model, choice, **kw)

    @contextlib.contextmanager
    def _on_device(self):
        """One model call at a time (`queue`); out of GPU memory is a message, not a crash."""
        with self.queue.turn():
            try:
                yield
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                raise ValueError(
                    "out of GPU memory: try a shorter clip, or wait for other requests to finish"
                ) from None

    def _steps(self, progress: Progress | None, describe: Callable[[int, int], str]):
        """A model loop's `on_step(done, total)`: `describe(done, total)` to `progress`, then a
        `pause_point` (background work gives way to visitors)."""
        report = steps(progress, describe)

        def on_step(done: int, total: int) -> None:
            if report is not None:
                report(done, total)
            self.queue.pause_point()

        return on_step

    # -- facts ----------------------------------------------------------------------------------

    def request(self, **page_values) -> Request:
        """The page's raw values (the keywords of `request.page_request`: video, start, length,
        k, sampler, seeds) -> a checked `Request`; a missing one takes the page's default."""
        return page_request(self.defaults, self.model.n_registers, **page_values)

    def sampler(self, **page_values) -> Sampler:
        """The page's sampler controls (guidance, steps, seed, apg) -> a checked `Sampler`; a
        missing one takes the page's default."""
        return page_sampler(self.defaults, **page_values)

    def page_setup(self) -> PageSetup:
        """What the page's controls show for this model."""
        m = self.model
        lengths = tuple(views.length_choices(self.defaults.frame_choices, m.config.fps))
        timesteps = {n: m.chunking.timesteps(n) for _, n in lengths}
        info = views.model_info(m, display_name(self.choice.ref), self.choice.device)
        return PageSetup(
            m.n_registers, self.defaults, lengths, timesteps, self.defaults.ladder, info
        )

    def token_limits(self) -> tokenfile.TokenLimits:
        """What a tokens-file upload may hold: the timesteps of the page's longest clip."""
        longest = self.model.chunking.timesteps(self.defaults.frame_choices[-1])
        return tokenfile.TokenLimits(longest, self.model.n_registers)

    def release(self) -> None:
        """Forget every cached clip, decode and curve and delete the files (the model goes with
        the last reference to this service)."""
        self.store.clear()

    # -- a clip and its decodes -----------------------------------------------------------------

    def clip(self, request: Request, progress: Progress | None = None) -> Clip:
        """Read and tokenize the request's clip, or take it from the cache (same file content,
        start, length and model)."""
        key = self.store.clip_key(request)
        hit = self.store.clips.get(key)
        if hit is not None:
            return hit
        report = progress or silent
        report(0.0, "reading the video")
        video, info = load_clip(request.video, self.model, None, request.start, request.frames)
        report(0.3, "tokenizing")
        on_chunk = self._steps(span(report, 0.3, 1), lambda i, n: f"tokenizing (chunk {i}/{n})")
        t0 = time.perf_counter()
        with self._on_device():
            tokens = self.model.tokenize_clip(video, on_chunk)
        report(1.0, "tokenized")
        return self.store.add_clip(key, video, info, tokens, time.perf_counter() - t0)

    @visiting
    def tokenize(self, request: Request, progress: Progress | None = None) -> tuple[Path, str]:
        """-> (tokens .safetensors, Markdown about them). The file records the model, the clip
        and the request's decode settings (k and sampler)."""
        clip = self.clip(request, progress)
        summary = views.clip_summary(clip.video, clip.info, clip.tokens, clip.tokenize_seconds)
        return self._tokens_file(clip, request), summary

    def _tokens_file(self, clip: Clip, request: Request) -> Path:
        settings = request.metadata()
        T, ref = clip.video.shape[1], self.choice.ref
        meta = tokenfile.token_metadata(self.model, ref, clip.info, T, clip.tokens, settings)
        return self.store.tokens_file(clip, settings, meta)

    def decode(self, request: Request, progress: Progress | None = None):
        """Decode the first k tokens of every timestep of the request's clip; -> (`Decoded`,
        whether it was cached)."""
        clip = self.clip(request)
        key = self.store.decode_key(clip, request.k, request.sampler)
        hit = self.store.decodes.get(key)
        if hit is not None:
            return hit, True
        video, seconds = self._decode_ids(clip.tokens, request.k, request.sampler, progress)
        clip.decode_seconds.append(seconds)
        return self.store.add_decode(clip, request.k, request.sampler, video, seconds), False

    def _decode_ids(self, tokens, k: int, sampler, progress: Progress | None = None):
        """Token ids (1, t, N) decoded at k on the device -> ((3, T, H, W) video, seconds)."""
        on_step = self._steps(progress, lambda done, n: f"decoding k={k} (step {done}/{n})")
        t0 = time.perf_counter()
        with self._on_device():
            video = self.model.decode_clip(tokens, [k], sampler, on_step)[0]
        return video, time.perf_counter() - t0

    @visiting
    def reconstruct(self, request: Request, progress: Progress | None = None) -> Reconstruction:
        """Tokenize (once) and decode at k: the side-by-side mp4 original | reconstruction |
        error, the reconstruction mp4, the tokens file and the stats."""
        clip = self.clip(request, span(progress, 0.0, 0.1))
        decoded, cached = self.decode(request, span(progress, 0.1, 0.95))
        files = self.store.decode_files(clip, decoded, request.k)
        stats = self._stats(clip.tokens.shape[1], request.k, clip.video, decoded.seconds, cached)
        tokens_file = self._tokens_file(clip, request)
        return Reconstruction(
            files.side_by_side, files.video, tokens_file, stats, clip.tokens, request.k
        )

    def _stats(self, t: int, k: int, video, seconds: float, cached: bool = False) -> Stats:
        _, T, H, W = video.shape
        return views.token_stats(t, k, self.model.codebook_size, T, H, W, seconds, cached)

    def views(self, request: Request, r: Reconstruction) -> PageViews:
        """Token view, downloads, curve marker and ladder ETA around a reconstruction `r` (reads
        the caches; never decodes)."""
        curve = self.finished_curve(request)
        eta = curve.eta if curve is not None else self.ladder_eta(request)
        return PageViews(r.tokens, r.k, (r.tokens_file, r.video), curve, eta)

    # -- the ladder -----------------------------------------------------------------------------

    @visiting
    def curve(self, request: Request, progress: Progress | None = None) -> Iterator[CurveView]:
        """Decode the clip at every ladder budget; yields the curve so far after each batch
        (marking the request's k if decoded, with its ETA), the last one complete with its CSV.
        Fills the decode cache."""
        clip = self.clip(request, span(progress, 0.0, 0.05))
        budgets = self.defaults.ladder
        eta = [self.ladder_eta(request)]  # the progress messages end with it

        def report(fraction: float, message: str) -> None:
            progress(0.05 + 0.95 * fraction, f"{message} · {eta[0]}")

        steps_iter = iter_quality_curve(
            self.model,
            clip.video,
            budgets=budgets,
            sampler=request.sampler,
            max_batch=self.ladder_batch,
            progress=None if progress is None else report,
            cache=self.store.curves,
            tokens=clip.tokens,
        )
        t0 = time.perf_counter()
        while True:
            with self._on_device():  # per batch: not held while the caller has a partial curve
                result = next(steps_iter, None)
            if result is None:
                return
            self.store.add_ladder(clip, request.sampler, result)
            done = len(result.budgets)
            eta[0] = views.ladder_eta(len(budgets), (time.perf_counter() - t0) / done, done)
            yield self._curve_view(clip, result, request, eta[0])

    def _curve_view(self, clip: Clip, result: CurveResult, request: Request, eta: str):
        spreads = self.store.spreads_of(clip, request.sampler, request.seeds)
        figure = ladder_figure(result, request.k, spreads)
        csv = self.store.curve_csv(clip, result) if result.complete else None
        return CurveView(figure, csv, eta, result, clip.folder, clip.info.target_fps)

    def finished_curve(self, request: Request) -> CurveView | None:
        """The complete ladder for the request if it has run (k marked, the seed spreads
        measured so far as a series), else None (never decodes or reads a video; None without
        a video or for a file that is gone)."""
        clip = self.store.cached_clip(request)
        if clip is None:
            return None
        budgets = self.defaults.ladder
        settings = CurveSettings.make(self.model.n_registers, budgets, request.sampler)
        hit = self.store.curves.get(cache_key(clip.content_hash, self.store.model_id, settings))
        if hit is None:
            return None
        done = views.ladder_eta(len(budgets), None, len(budgets))
        return self._curve_view(clip, hit, request, done)

    def ladder_eta(self, request: Request) -> str:
        """Markdown: how long the ladder of the request's clip takes, from the decodes of this
        clip measured so far (the median; a ladder budget costs about one decode)."""
        clip = self.store.cached_clip(request)
        times = sorted(clip.decode_seconds) if clip is not None else []
        seconds = times[len(times) // 2] if times else None
        return views.ladder_eta(len(self.defaults.ladder), seconds)

    def grid(self, view: CurveView) -> Path:
        """The budget grid mp4 (original, then k = 1, 4, 16, 64, N) of a complete ladder."""
        return self.store.grid_file(view.folder, view.result, view.fps)

    # -- what the decoder invents ---------------------------------------------------------------

    @visiting
    def seed_view(self, request: Request, progress: Progress | None = None) -> SeedView:
        """Decode the request's k with seeds seed .. seed + seeds - 1 in one batched call (or
        take it from the cache): the grid mp4 (original, each seed, spread heatmap), the spread
        image and its stats. Feeds the decode cache (one decode per seed) and the curve's
        spread series."""
        clip = self.clip(request, span(progress, 0.0, 0.1))
        k, s, n = request.k, request.sampler, request.seeds
        key = self.store.seed_key(clip, s, n, k)
        hit = self.store.seed_views.get(key)
        cached = hit is not None
        if not cached:
            on_step = self._steps(
                span(progress, 0.1, 0.95),
                lambda done, total: f"decoding {n} seeds at k={k} (step {done}/{total})",
            )
            with self._on_device():
                result = seed_spread(self.model, clip.tokens, k, s, n, on_step)
            hit = self.store.add_seed_view(clip, key, s, result)
        r = hit.result
        self.store.add_spread(clip, s, n, k, r.mean)
        files = self.store.seed_files(clip, hit)
        stats = SpreadStats(k, r.seeds, clip.tokens.shape[1], r.mean, r.seconds, cached)
        return SeedView(files.grid, files.image, stats)

    # -- tokens files ---------------------------------------------------------------------------

    @visiting
    def decode_file(
        self, tokens_file: str | None, request: Request, progress: Progress | None = None
    ) -> tuple[Path, Stats]:
        """Decode a tokens file made by the app or the CLI at the request's k (capped by the
        tokens in the file) and sampler; refuses one from another model.
        -> (reconstruction mp4, stats)."""
        if not tokens_file:
            raise ValueError("No tokens file: upload a .safetensors made by the app or the CLI.")
        tokens, meta = tokenfile.read_tokens(tokens_file, self.token_limits())
        name = Path(tokens_file).name
        here = f"this app's model ({display_name(self.choice.ref)})"
        advice = "Decode it with the model that made it: python -m videoflextok_core detokenize."
        for key, ours, what in (
            ("model_config_hash", self.config_hash, "config"),
            ("model_weights_fingerprint", self.fingerprint, "weights"),
        ):
            tokenfile.check_same_model(meta, name, key, ours, what, here, advice)
        t, n = tokens.shape[1:]  # ids and lengths are checked by detokenize (ValueError)
        k, sampler = min(request.k, n), request.sampler
        video, seconds = self._decode_ids(tokens, k, sampler, progress)
        fps = float(meta.get("fps", self.model.config.fps))
        stem = f"{Path(name).stem.split('.')[0]}_k{k}"
        path = self.store.decoded_file(tokens_file, f"{k}-{sampler!r}", stem, video, fps)
        return path, self._stats(t, k, video, seconds)


__all__ = ["DemoService"]
