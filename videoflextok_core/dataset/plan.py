"""Inputs -> segments: which frames of which files a dataset run tokenizes, and their keys.

    files = expand_inputs(["clips/", "more/*.mp4", "list.txt"])
    reader = ReaderSettings.for_model(config, fps=None, max_frames=17, segments="all")
    segments = plan_segments(files, reader)      # one Segment per (file, start)

A segment is `reader.max_frames` frames from `start` seconds, read exactly as `tokenize` reads a
clip (`read_segment`: the same reader, fps, size and rounding). Its `key` names the file's bytes
(resolved path, size, mtime) and what is read from them (start, frames, reader settings): a
resumed run skips the keys already in the shards, and a changed file gets new keys.
"""

import glob
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cache import key_of

VIDEO_SUFFIXES = frozenset(
    ".mp4 .mov .m4v .mkv .webm .avi .gif .mpg .mpeg .ts .mts .m2ts .wmv .flv .3gp .ogv".split()
)  # what a directory walk picks up; a file named on the command line is taken whatever it is
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})  # a text file with one path per line
SEGMENT_MODES = ("first", "all")


@dataclass(frozen=True)
class ReaderSettings:
    """How frames are read: the same values `tokenize` passes to `read_video` for the model."""

    fps: float  # output frame rate (the model's by default)
    size: int | tuple[int, int]  # S (square model) or (H, W), as `media.clip.load_clip` passes it
    chunk: int  # the model's window (`Chunking`): T = chunk + (K - 1) * stride
    overlap: int
    max_frames: int  # frames per segment, already rounded down to a valid count
    segments: str  # "first": the first max_frames of each file; "all": consecutive segments

    @classmethod
    def for_model(
        cls, config, fps: float | None, max_frames: int, segments: str = "first"
    ) -> "ReaderSettings":
        """Settings for a model config (`ModelConfig`), as `media.clip.load_clip` derives them."""
        if segments not in SEGMENT_MODES:
            raise ValueError(f"segments must be one of {SEGMENT_MODES}, got {segments!r}")
        chunk, overlap = config.chunk_size, config.overlap_size_frames
        cap = config.chunking.frames_at_most(max_frames)
        if cap == 0:
            raise ValueError(f"max_frames must be at least one chunk ({chunk}), got {max_frames}")
        H, W = config.resolution
        fps = config.fps if fps is None else float(fps)
        return cls(fps, H if H == W else (H, W), chunk, overlap, cap, segments)

    def as_json(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size) if isinstance(self.size, tuple) else self.size
        return d


@dataclass(frozen=True)
class Segment:
    """One row to write: `frames` frames of `path` from `start` seconds (or a planning error)."""

    key: str
    path: str  # resolved
    start: float  # seconds
    error: str | None = None  # set when planning already failed (e.g. `--segments all` probe)
    width: int | None = None  # the source's, when planning probed it
    height: int | None = None
    duration: float | None = None


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _walk(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
    )


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Video files, folders (recursive), glob patterns and list files -> resolved files, in input
    order without repeats. A path in a list file is kept even if missing (it gets an error row);
    an input on the command line that matches nothing raises ValueError naming it."""
    out: dict[Path, None] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = _walk(p)
        elif p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
            lines = [s.strip() for s in p.read_text().splitlines()]
            names = [Path(s) for s in lines if s and not s.startswith("#")]
            found = [q if q.is_absolute() else p.parent / q for q in names]
        elif p.is_file():
            found = [p]
        else:
            found = [Path(q) for q in sorted(glob.glob(item, recursive=True))]
            found = [q for f in found for q in (_walk(f) if f.is_dir() else [f])]
        if not found:
            raise ValueError(f"input {item!r} matches no video file")
        out.update(dict.fromkeys(q.resolve() for q in found))
    return list(out)


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------


def segment_key(path: Path, start: float, reader: ReaderSettings) -> str:
    """Hash of the file's identity (resolved path, size, mtime) and what is read from it."""
    try:
        st = path.stat()
        ident = [st.st_size, st.st_mtime_ns]
    except OSError:
        ident = [None, None]  # missing file: keyed by its name; an error row is written
    return key_of(str(path), *ident, round(start, 6), reader.as_json())


def segment_starts(duration: float, reader: ReaderSettings) -> list[float]:
    """Starts (s) of consecutive max_frames segments covering `duration` seconds at reader.fps.

    Example: 5 s at 8 fps is 40 output frames; segments of 17 start at frames 0, 17, 34, i.e.
    0, 2.125 and 4.25 s; the last one holds 6 frames, padded to one chunk like any short clip.
    """
    n = max(1, math.ceil(duration * reader.fps - 1e-6))  # output frames in the video
    return [i * reader.max_frames / reader.fps for i in range(math.ceil(n / reader.max_frames))]


def plan_segments(files: list[Path], reader: ReaderSettings) -> list[Segment]:
    """One segment per file ("first"), or consecutive segments covering each file ("all": probes
    every file; one that cannot be probed gets a single error segment at 0 s)."""
    from ..media.read import VideoReadError, probe_video

    segments = []
    for path in files:
        if reader.segments == "first":
            segments.append(Segment(segment_key(path, 0.0, reader), str(path), 0.0))
            continue
        try:
            src = probe_video(path)
        except (VideoReadError, OSError) as e:
            segments.append(Segment(segment_key(path, 0.0, reader), str(path), 0.0, str(e)))
            continue
        for start in segment_starts(src.duration, reader):
            key = segment_key(path, start, reader)
            segments.append(
                Segment(key, str(path), start, None, src.width, src.height, src.duration)
            )
    return segments


def load_segment(path: str, config, reader: ReaderSettings, start: float):
    """The one place a dataset run reads video: `tokenize`'s reader, with its settings.

    Returns (video (3, T, H, W) float32 in [-1, 1], `VideoInfo`); raises `VideoReadError`.
    """
    from ..media.clip import load_clip

    return load_clip(path, config, reader.fps, start, reader.max_frames)


def read_segment(row: dict, config, reader: ReaderSettings) -> dict:
    """A planned segment (a row of `Segment` fields) -> the same row plus `video` (3, T, H, W)
    float32 and the source's facts; on a read error `video` is (3, 0, H, W) and `error` the
    reader's message. Runs in a Ray CPU task."""
    import numpy as np

    from ..media.preprocess import output_hw
    from ..media.read import VideoReadError

    out = dict(row)
    out.update(frames=0, fps=reader.fps, note="")
    H, W = output_hw(reader.size)
    video = np.zeros((3, 0, H, W), np.float32)
    if not row.get("error"):
        try:
            clip, info = load_segment(row["path"], config, reader, row["start"])
        except (VideoReadError, OSError) as e:
            out["error"] = str(e) or type(e).__name__
        else:
            video = clip.numpy()
            out.update(frames=video.shape[1], note=info.note)
            out.update(width=info.width, height=info.height, duration=info.duration)
    out["video"] = video
    return out


def segment_row(segment: Segment) -> dict:
    """A `Segment` as the plain dict Ray Data carries (null-free: Arrow needs stable types)."""
    d = asdict(segment)
    d["error"] = d["error"] or ""
    d["width"], d["height"] = d["width"] or 0, d["height"] or 0
    d["duration"] = d["duration"] or 0.0
    return d


__all__ = [
    "ReaderSettings",
    "Segment",
    "expand_inputs",
    "load_segment",
    "plan_segments",
    "read_segment",
    "segment_key",
    "segment_row",
    "segment_starts",
]
