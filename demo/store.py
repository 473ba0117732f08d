"""What one model's service keeps, and the files it writes: clips (read and tokenized once),
decodes, seed views, the curve's spread series and finished ladders, each in a bounded LRU
(`videoflextok_core.cache.LRU`) whose entries take their files with them when they go.

    store = Store(workdir, model_id)
    key = store.clip_key(request)                   # file content + start + length + model
    clip = store.clips.get(key) or store.add_clip(key, video, info, tokens, seconds)
    decoded = store.add_decode(clip, k, sampler, video, seconds)
    store.decode_files(clip, decoded, k).side_by_side     # written on first use

Keys are `cache.key_of` over what an entry depends on; a clip is named by its file's content,
not its name (`file_digest`, read once per file version). Every file is written under one lock
(the warm-up decodes the examples in a thread while the page may ask for the same files), and
written again if its folder went with an evicted clip while the decode stayed cached.

Legend: T frames, H/W pixels, t latent frames (timesteps), N tokens per latent frame, k budget.
"""

import atexit
import functools
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image
from torch import Tensor

from videoflextok_core.cache import LRU, key_of, tensor_bytes
from videoflextok_core.curve import CurveCache, CurveResult, clip_hash, grid_budgets
from videoflextok_core.media.compose import budget_grid, comparison, seed_grid, spread_image
from videoflextok_core.media.read import VideoInfo
from videoflextok_core.media.write import write_video
from videoflextok_core.model.sampling import Sampler
from videoflextok_core.seeds import SeedSpread
from videoflextok_core.tokenfile import save_tokens

from .request import Request

# ---------------------------------------------------------------------------------------------
# Entries
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


@dataclass(frozen=True)
class DecodeFiles:
    side_by_side: Path  # mp4: original | reconstruction | error
    video: Path  # mp4: the reconstruction alone


@dataclass
class Decoded:
    """One decode, with its files once written."""

    video: Tensor  # (3, T, H, W) float32 CPU in [-1, 1]
    seconds: float
    folder: Path
    files: DecodeFiles | None = None


@dataclass(frozen=True)
class SeedFiles:
    grid: Path  # mp4: original, one panel per seed, the spread heatmap
    image: Path  # png: the spread averaged over the frames


@dataclass
class Seeded:
    """One seed view, with its files once written."""

    result: SeedSpread
    folder: Path
    files: SeedFiles | None = None


def file_digest(path: str | os.PathLike) -> str:
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


def _drop_folder(entry) -> None:
    shutil.rmtree(entry.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


class Store:
    """The caches and files of one model (`model_id`, part of every clip key) under `workdir`
    (None: a temporary folder).

    Bounded memory: clips, decodes, seed views and curves each hold at most `max_bytes` of
    tensors (a ladder's reconstructions are shared with the decode cache, not copied)."""

    def __init__(
        self,
        workdir: str | Path | None,
        model_id: str,
        max_clips: int = 8,
        max_decodes: int = 64,
        max_bytes: int = 2**30,
    ):
        if workdir is None:  # a temporary folder, gone when the process ends
            workdir = tempfile.mkdtemp(prefix="videoflextok-demo-")
            atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        self.workdir, self.model_id = Path(workdir), model_id
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.clips = LRU(max_clips, max_bytes, lambda c: tensor_bytes(c.video), _drop_folder)
        self.decodes = LRU(max_decodes, max_bytes, lambda d: tensor_bytes(d.video), _drop_folder)
        self.seed_views = LRU(16, max_bytes, lambda s: tensor_bytes(s.result.videos), _drop_folder)
        self.spreads = LRU(32)  # spread key -> {k: mean spread}: the curve's "seed spread"
        self.curves = CurveCache(max_entries=4, max_bytes=max_bytes)
        self._lock = threading.Lock()  # one writer of files at a time

    # -- keys -----------------------------------------------------------------------------------

    def clip_key(self, request: Request) -> str:
        """The clip's key: file content (not name), start, length, model."""
        if request.video is None:
            raise ValueError("No video: upload one or pick an example first.")
        r = request
        return key_of(file_digest(r.video), r.start, r.frames, self.model_id)

    def cached_clip(self, request: Request) -> Clip | None:
        """The request's clip if it is cached (None without a video or for a file gone)."""
        try:
            return self.clips.get(self.clip_key(request))
        except (ValueError, OSError):
            return None

    @staticmethod
    def decode_key(clip: Clip, k: int, sampler: Sampler) -> str:
        s = sampler
        return key_of(clip.key, k, s.steps, s.guidance, s.apg, s.seed)

    @staticmethod
    def spread_key(clip: Clip, sampler: Sampler, seeds: int) -> str:
        """The seed views of one clip, sampler and number of seeds (any k)."""
        s = sampler
        return key_of(clip.key, s.steps, s.guidance, s.apg, s.seed, seeds)

    def seed_key(self, clip: Clip, sampler: Sampler, seeds: int, k: int) -> str:
        """One seed view: the spread key and k."""
        return key_of(self.spread_key(clip, sampler, seeds), k)

    # -- entries --------------------------------------------------------------------------------

    def add_clip(self, key: str, video: Tensor, info: VideoInfo, tokens: Tensor, seconds: float):
        """A clip just read and tokenized, with a folder for its files -> `Clip`."""
        folder = self.workdir / key
        folder.mkdir(parents=True, exist_ok=True)
        clip = Clip(key, video, info, tokens, seconds, folder)
        self.clips.put(key, clip)
        return clip

    def add_decode(self, clip: Clip, k: int, sampler: Sampler, video: Tensor, seconds: float):
        """A decode of `clip` at k with `sampler` -> its `Decoded` (the one already cached, if
        another path decoded it first)."""
        key = self.decode_key(clip, k, sampler)
        decoded = self.decodes.get(key)
        if decoded is None:
            decoded = Decoded(video, seconds, clip.folder / key)
            self.decodes.put(key, decoded)
        return decoded

    def add_ladder(self, clip: Clip, sampler: Sampler, result: CurveResult) -> None:
        """A ladder's budgets as decodes: each is the video a single decode gives."""
        for row in result.rows:
            self.add_decode(clip, row.k, sampler, result.reconstructions[row.k], row.seconds)

    def add_seed_view(self, clip: Clip, key: str, sampler: Sampler, result: SeedSpread):
        """A seed view -> its `Seeded`; each seed's video is also the decode of that seed (the
        video a single decode with it gives)."""
        seeded = Seeded(result, clip.folder / key)
        self.seed_views.put(key, seeded)
        for seed, video in zip(result.seeds, result.videos, strict=True):
            self.add_decode(clip, result.k, replace(sampler, seed=seed), video, result.seconds)
        return seeded

    def add_spread(self, clip: Clip, sampler: Sampler, seeds: int, k: int, mean: float) -> None:
        key = self.spread_key(clip, sampler, seeds)
        self.spreads.put(key, {**(self.spreads.get(key) or {}), k: mean})

    def spreads_of(self, clip: Clip, sampler: Sampler, seeds: int) -> dict[int, float]:
        """{k: mean spread} of the seed views measured so far (the curve's series)."""
        return self.spreads.get(self.spread_key(clip, sampler, seeds)) or {}

    def clear(self) -> None:
        """Forget every entry and delete every file."""
        for cache in (self.clips, self.decodes, self.seed_views, self.spreads, self.curves):
            cache.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- files ----------------------------------------------------------------------------------

    def decode_files(self, clip: Clip, decoded: Decoded, k: int) -> DecodeFiles:
        """The decode's mp4s, written on first use (again if the clip's folder was dropped)."""
        with self._lock:
            files = decoded.files
            if files is not None and files.side_by_side.exists() and files.video.exists():
                return files
            decoded.folder.mkdir(parents=True, exist_ok=True)
            fps = clip.info.target_fps
            caption = f"reconstruction · k={k} · {k * clip.tokens.shape[1]} tokens"
            frames = comparison(clip.video, decoded.video, caption)
            decoded.files = DecodeFiles(
                write_video(frames, decoded.folder / f"side_by_side_k{k}.mp4", fps),
                write_video(decoded.video, decoded.folder / f"reconstruction_k{k}.mp4", fps),
            )
            return decoded.files

    def seed_files(self, clip: Clip, seeded: Seeded) -> SeedFiles:
        """The seed view's grid mp4 and spread png, written on first use (again if dropped)."""
        with self._lock:
            files = seeded.files
            if files is not None and files.grid.exists() and files.image.exists():
                return files
            r, folder = seeded.result, seeded.folder
            folder.mkdir(parents=True, exist_ok=True)
            frames = seed_grid(clip.video, list(r.videos), r.seeds, r.spread)
            grid = write_video(frames, folder / f"seeds_k{r.k}.mp4", clip.info.target_fps)
            image = folder / f"spread_k{r.k}.png"
            Image.fromarray(spread_image(r.spread)).save(image)
            seeded.files = SeedFiles(grid, image)
            return seeded.files

    def tokens_file(self, clip: Clip, settings: dict, meta: dict) -> Path:
        """The clip's tokens file for these decode settings (`meta`: its metadata, the settings
        among them), written once."""
        path = clip.folder / key_of(settings) / f"{Path(clip.info.path).stem}.tokens.safetensors"
        with self._lock:
            if not path.exists():
                save_tokens(path, clip.tokens, meta)
        return path

    def curve_csv(self, clip: Clip, result: CurveResult) -> Path:
        """A complete ladder's CSV in the clip's folder."""
        path = clip.folder / f"curve_{key_of(repr(result.settings))[:12]}.csv"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_text(result.to_csv())
        return path

    def grid_file(self, folder: Path, result: CurveResult, fps: float) -> Path:
        """The budget grid mp4 of a complete ladder: the original, then k = 1, 4, 16, 64, N
        (`curve.grid_budgets`)."""
        if not result.complete:
            raise ValueError("the quality ladder has not finished yet")
        path = folder / f"grid_{key_of(repr(result.settings))[:12]}.mp4"
        with self._lock:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                N = result.tokens.shape[2]
                ks = [k for k in grid_budgets(N) if k in result.reconstructions]
                videos = {k: result.reconstructions[k] for k in ks}
                write_video(budget_grid(videos, result.original, ncols=3), path, fps)
        return path

    def decoded_file(self, tokens_file: str, key: str, name: str, video: Tensor, fps: float):
        """The mp4 of a decoded tokens file, in a folder named by the file's content and `key`
        (k and the sampler)."""
        folder = self.workdir / "decoded" / key_of(file_digest(tokens_file), key)
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            return write_video(video, folder / f"{name}.mp4", fps)


__all__ = [
    "Clip",
    "DecodeFiles",
    "Decoded",
    "SeedFiles",
    "Seeded",
    "Store",
    "file_digest",
]
