"""Reading video with PyAV: probe a file, pick frames by time, read a clip the way the model
expects it (`read_video`). Preprocessing of the picked frames: `preprocess.py`; writing: `write.py`.

Legend: T frames, H/W source pixels (as displayed, after rotation), S = `size`, the model side.

`read_video` streams: it decodes forward from `start`, converts to RGB only the frames it keeps,
resizes them in small batches and stops decoding as soon as it has `max_frames`, so memory is
bounded by the output, not by the file (a 10-minute 4K file is fine).

Frames are picked by presentation time, not by index: output frame i shows the source frame on
screen at time `start + i / fps`, i.e. the last frame whose timestamp is <= that time. This is
right for variable-frame-rate files (phones) and repeats frames when `fps` exceeds the source
rate. Times are measured from the stream's first timestamp.

Two deliberate differences from the official `read_mp4`: frames are chosen by time (official:
`linspace` over frame indices), and a frame count between valid counts
(`Chunking.frames_at_most`: 17, 33, 49, ... for the released models) is rounded down by cutting
the tail (official: rounded up, repeating frames); both are recorded in `VideoInfo`.
"""

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
from torch import Tensor

from ..model.chunking import Chunking
from .preprocess import output_hw, preprocess

MAX_SIDE = 8192  # larger frames are refused: one 8192^2 RGB frame is already 200 MB
MAX_SOURCE_FPS = 1000.0  # an average rate above this is a broken header, not a video
MAX_TARGET_FPS = 240.0
DEFAULT_MAX_FRAMES = 129  # 1 + 16*8: 16 s at 8 fps, eight chunks of the released models
_BATCH_BYTES = 32 * 2**20  # float32 source pixels resized at once: 6 frames of 640², 1 of 1080p
_EPS = 1e-6  # seconds; a frame within 1 us of a target time counts as shown at it


class VideoReadError(ValueError):
    """A file that cannot be read as a video; the message says why, for a person."""


@dataclass(frozen=True)
class SourceInfo:
    """What a file holds, as found by `probe_video` (cheap: decodes one frame)."""

    path: str
    container: str  # demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "png_pipe"
    codec: str  # e.g. "h264", "vp9"
    pix_fmt: str  # decoded pixel format, e.g. "yuv420p", "gray", "yuv420p10le", "rgba"
    width: int  # as displayed, i.e. after rotation
    height: int
    rotation: int  # degrees counter-clockwise applied for display: 0, 90, 180 or 270
    fps: float  # average source frame rate (0.0 if the file does not say)
    duration: float  # seconds
    num_frames: int  # frame count from the container header, 0 if unknown


@dataclass(frozen=True)
class VideoInfo(SourceInfo):
    """`SourceInfo` plus what `read_video` took from the file and why."""

    start: float  # seconds, as requested
    target_fps: float
    size: int | tuple[int, int]
    timestamps: tuple[float, ...]  # source time (s) of each returned frame; padding repeats
    num_padded: int  # frames added at the end by repeating the last one
    num_cut: int  # frames at target_fps dropped from the tail (beyond max_frames: estimated)
    note: str  # what was padded, cut or rotated, in words; "" if nothing


# ---------------------------------------------------------------------------------------------
# Opening and probing
# ---------------------------------------------------------------------------------------------


def _open(path: str | os.PathLike) -> tuple[av.container.InputContainer, av.video.VideoStream]:
    """Open `path` and return (container, first video stream); errors become VideoReadError."""
    p = Path(path)
    if not p.exists():
        raise VideoReadError(f"{p}: no such file")
    if not p.is_file():
        raise VideoReadError(f"{p}: not a file")
    try:
        container = av.open(str(p), mode="r")
    except av.error.InvalidDataError:
        raise VideoReadError(
            f"{p.name}: not a media file, or its header is damaged (cannot parse the container)"
        ) from None
    except av.error.FFmpegError as e:
        raise VideoReadError(f"{p.name}: cannot open ({e.strerror})") from None
    cover = av.stream.Disposition.attached_pic  # album art of an audio file is not a video
    videos = [s for s in container.streams.video if not s.disposition & cover]
    if not videos:
        kinds = sorted({s.type for s in container.streams} - {"video"}) or ["no streams"]
        art = " and cover art" if container.streams.video else ""
        container.close()
        raise VideoReadError(f"{p.name}: has no video stream (found: {', '.join(kinds)}{art})")
    stream = videos[0]
    w, h = stream.codec_context.width, stream.codec_context.height
    if w > MAX_SIDE or h > MAX_SIDE:
        container.close()
        raise VideoReadError(f"{p.name}: frame size {w}x{h} is larger than {MAX_SIDE} px")
    stream.thread_type = "AUTO"
    return container, stream


def _check_frame(frame: av.VideoFrame, name: str) -> None:
    if not (0 < frame.width <= MAX_SIDE and 0 < frame.height <= MAX_SIDE):
        raise VideoReadError(
            f"{name}: frame size {frame.width}x{frame.height} is outside 1..{MAX_SIDE} px"
        )


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that make the frame stand as displayed (display matrix)."""
    return round(frame.rotation / 90) % 4  # frame.rotation is CCW degrees in [-180, 180]


def _stream_start(stream: av.video.VideoStream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _decode(container, stream, name: str) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order; damage and FFmpeg errors become VideoReadError.

    Packets are demuxed here rather than with `container.decode` because a frame-threaded
    decoder does not report errors; the demuxer's corrupt flag (set on a packet cut short by
    the end of a truncated file) is checked instead.
    """

    def damaged(what: str, t) -> VideoReadError:
        at = f" near {float(t):.2f} s" if t is not None else ""
        return VideoReadError(f"{name}: the file is truncated or corrupt ({what}{at})")

    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:
                tb = packet.time_base
                raise damaged("damaged packet", packet.pts * tb if packet.pts is not None else None)
            for frame in packet.decode():
                if frame.is_corrupt:
                    raise damaged("damaged frame", frame.time)
                yield frame
    except av.error.FFmpegError as e:
        raise damaged(f"decoding failed: {e.strerror}", None) from None


def probe_video(path: str | os.PathLike) -> SourceInfo:
    """Duration, rate, displayed size and rotation of a video, decoding only its first frame."""
    container, stream = _open(path)
    name = Path(path).name
    with container:
        frame = next(_decode(container, stream, name), None)
        if frame is None:
            raise VideoReadError(f"{name}: the video stream has no decodable frames")
        _check_frame(frame, name)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        if fps > MAX_SOURCE_FPS or not math.isfinite(fps):
            raise VideoReadError(f"{name}: frame rate of {fps:g} fps is not plausible")
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        elif stream.frames and fps:
            duration = stream.frames / fps
        else:  # a still image: one frame shown for its own duration
            duration = _frame_duration(frame, fps)
        turns = _quarter_turns(frame)
        w, h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
        return SourceInfo(
            path=str(path),
            container=container.format.name,
            codec=stream.codec_context.name,
            pix_fmt=frame.format.name,
            width=w,
            height=h,
            rotation=90 * turns,
            fps=fps,
            duration=duration,
            num_frames=stream.frames or 0,
        )


def _frame_duration(frame: av.VideoFrame, fps: float) -> float:
    """How long a frame stays on screen: its own duration, else one period of the average rate."""
    if frame.duration and frame.time_base is not None:
        return float(frame.duration * frame.time_base)
    return 1.0 / fps if fps else 0.0


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _pick(
    path: str | os.PathLike, fps: float, start: float, limit: float
) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield (source time, decoded frame) for the output times start + i/fps, i < limit.

    Each time takes the last decoded frame whose timestamp is <= it (the first frame if none
    precedes it); the same frame object repeats when `fps` exceeds the source rate. Decoding
    stops after `limit` frames or at the end of the last frame's display time.
    """
    container, stream = _open(path)
    name = Path(path).name
    t0 = _stream_start(stream)
    rate = stream.average_rate or stream.guessed_rate
    src_fps = float(rate) if rate else 0.0
    with container:
        if start > 0:  # land on the keyframe at or before `start`, then decode forward
            try:
                container.seek(int((start + t0) / stream.time_base), backward=True, stream=stream)
            except av.error.FFmpegError:
                pass  # not seekable: decode from the beginning, frames before `start` are passed
        n = 0
        held, held_t = None, 0.0  # last decoded frame not yet passed by an output time
        for i, frame in enumerate(_decode(container, stream, name)):
            t = (frame.time - t0) if frame.time is not None else i / (src_fps or fps)
            if held is not None:
                while n < limit and start + n / fps < t - _EPS:
                    yield held_t, held
                    n += 1
                if n >= limit:
                    return
            held, held_t = frame, t
        if held is None:
            return
        end = held_t + (_frame_duration(held, src_fps) or 1.0 / fps)  # unknown: one output period
        while n < limit and start + n / fps < end - _EPS:
            yield held_t, held
            n += 1


class _RGB:
    """Upright uint8 RGB [H, W, 3] of a decoded frame, remembering the last one converted."""

    def __init__(self, name: str):
        self.name, self.frame, self.rgb = name, None, None

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if frame is not self.frame:
            _check_frame(frame, self.name)
            a = frame.to_ndarray(format="rgb24")  # any pix_fmt: gray, alpha, 10-bit
            self.rgb = np.ascontiguousarray(np.rot90(a, _quarter_turns(frame)))
            self.frame = frame
        return self.rgb


def iter_frames(
    path: str | os.PathLike, fps: float = 8.0, start: float = 0.0, max_frames: int | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (source time in s, uint8 RGB [H, W, 3]) for the frames shown at start + i/fps.

    Each output time takes the last decoded frame whose timestamp is <= it (the first frame if
    none precedes it), rotated upright. The same array may be yielded for consecutive times.
    Decoding stops after `max_frames` frames and at the end of the last frame's display time.
    """
    to_rgb = _RGB(Path(path).name)
    limit = math.inf if max_frames is None else max_frames
    for t, frame in _pick(path, fps, start, limit):
        yield t, to_rgb(frame)


def _expected_frames(duration, start, fps, cap, chunking: Chunking) -> int:
    """Output frame count predicted from the probed duration (0 if unknown)."""
    if duration <= 0:
        return 0
    n = min(cap, math.ceil((duration - start) * fps - _EPS))
    return chunking.frames_at_most(n) or chunking.chunk


class _Frames:
    """Output frames [3, T, S, S] gathered batch by batch.

    They are written in place into a buffer sized from the probed duration, so the usual case
    ends without a copy (peak memory: the output plus one batch); frames past the buffer (a
    duration that under-reports) are kept aside and joined at the end.
    """

    def __init__(self, expected: int, size: int | tuple[int, int]):
        try:  # untouched pages of torch.empty cost no memory; a bogus duration costs nothing
            self.buf = torch.empty(3, expected, *output_hw(size)) if expected else None
        except RuntimeError:
            self.buf = None
        self.n_buf = 0
        self.extra: list[Tensor] = []

    def add(self, x: Tensor) -> None:  # (3, b, S, S)
        room = 0 if self.buf is None else self.buf.shape[1] - self.n_buf
        k = min(room, x.shape[1])
        if k:
            self.buf[:, self.n_buf : self.n_buf + k] = x[:, :k]
            self.n_buf += k
        if k < x.shape[1]:
            self.extra.append(x[:, k:])

    def result(self, total: int) -> Tensor:
        """All frames added, the last one repeated up to `total`, or cut to it: [3, total, S, S]."""
        n = self.n_buf + sum(x.shape[1] for x in self.extra)
        keep = min(n, total)
        if self.buf is not None and self.buf.shape[1] == total and keep <= self.n_buf:
            self.buf[:, keep:] = self.buf[:, keep - 1 : keep]  # pad in place
            return self.buf
        parts = ([self.buf[:, : self.n_buf]] if self.n_buf else []) + self.extra
        x = torch.cat(parts, dim=1)[:, :keep]
        if total > keep:
            x = torch.cat([x, x[:, -1:].expand(-1, total - keep, -1, -1)], dim=1)
        return x.contiguous()


def _check_args(fps, size, start, max_frames, chunking) -> None:
    if not (math.isfinite(fps) and 0 < fps <= MAX_TARGET_FPS):
        raise ValueError(f"fps must be in (0, {MAX_TARGET_FPS:g}], got {fps}")
    if isinstance(size, bool) or not isinstance(size, (int, tuple, list)):
        raise ValueError(f"size must be an int or (height, width), got {size!r}")
    if not isinstance(size, int) and len(size) != 2:
        raise ValueError(f"size must be an int or (height, width), got {size!r}")
    if not all(1 <= v <= MAX_SIDE for v in output_hw(size)):
        raise ValueError(f"size must be in 1..{MAX_SIDE}, got {size}")
    if not (math.isfinite(start) and start >= 0):
        raise ValueError(f"start must be a time >= 0 in seconds, got {start}")
    if not isinstance(chunking, Chunking) or chunking.chunk < 2:
        raise ValueError(f"chunking must be a Chunking of at least 2 frames, got {chunking!r}")
    if max_frames < chunking.chunk:
        raise ValueError(f"max_frames must be >= chunk ({chunking.chunk}), got {max_frames}")


def read_video(
    path: str | os.PathLike,
    fps: float = 8.0,
    size: int | tuple[int, int] = 256,
    start: float = 0.0,
    max_frames: int = DEFAULT_MAX_FRAMES,
    chunking: Chunking | None = None,
) -> tuple[Tensor, VideoInfo]:
    """Read a clip as the model's input.

    Args:
        path: any file FFmpeg reads (mp4, mov, webm, mkv, gif, a still image, ...).
        fps: output frame rate; frame i is the source frame shown at `start + i / fps`.
        size: side S of the square output (resize shorter side, centre crop), or (H, W) for a
            non-square model (scale to cover, centre crop).
        start: seconds from the beginning of the video.
        max_frames: cap, rounded down to a valid count; decoding stops there.
        chunking: the model's window (default `Chunking()`: 17-frame chunks, overlap 1); the
            output has a valid count T, `chunking.frames_at_most` (17, 33, 49, ...).

    Returns:
        video: float32 [3, T, S, S] (or [3, T, H, W]) in [-1, 1].
        info: `VideoInfo`, including what was cut or padded to make T valid.

    A clip shorter than one chunk is padded by repeating its last frame; otherwise the tail
    beyond the largest valid count is cut. Raises `VideoReadError` for unreadable files.

    Example: a 3 s, 24 fps clip at fps=8 gives 24 frames, cut to 17 (= 1 + 16) for chunk 17.
    """
    chunking = Chunking() if chunking is None else chunking
    _check_args(fps, size, start, max_frames, chunking)
    chunk = chunking.chunk
    src = probe_video(path)
    name = Path(path).name
    if start > 0 and 0 < src.duration <= start:
        raise VideoReadError(
            f"{name}: start={start:g} s is beyond the end of the video ({src.duration:.2f} s)"
        )
    cap = chunking.frames_at_most(max_frames)
    expected = _expected_frames(src.duration, start, fps, cap, chunking)
    out = _Frames(expected, size)
    to_rgb = _RGB(name)
    per_batch = max(1, _BATCH_BYTES // (src.width * src.height * 3 * 4))
    pending, times = [], []

    def flush() -> None:
        for i in range(0, len(pending), per_batch):
            out.add(preprocess(np.stack([to_rgb(f) for f in pending[i : i + per_batch]]), size))
        pending.clear()

    # Frames within the predicted count are resized in batches as they come; past it (the tail
    # that rounding will likely drop) they wait, unconverted, until the count reaches a valid
    # one. At most one batch or one chunk of decoded frames is held.
    for t, frame in _pick(path, fps, start, cap):
        times.append(t)
        pending.append(frame)
        n = len(times)
        all_kept = chunking.frames_at_most(n) == n
        if all_kept or (n <= expected and len(pending) >= per_batch):
            flush()
    n = len(times)
    if n == 0:
        raise VideoReadError(f"{name}: no frame found at or after start={start:g} s")
    keep = chunking.frames_at_most(n) or n  # too short for a chunk: keep all, pad below
    del pending[max(0, keep - (n - len(pending))) :]  # the dropped tail is never converted
    flush()

    valid = chunking.frames_at_most(n)
    notes, num_padded, num_cut = [], 0, 0
    if src.rotation:
        notes.append(f"rotated {src.rotation}° counter-clockwise as the file asks")
    if valid == 0:
        num_padded = chunk - n
        times += [times[-1]] * num_padded
        notes.append(
            f"padded {num_padded} frames by repeating the last one: the clip gives {n} "
            f"frame{'s' if n > 1 else ''} at {fps:g} fps and one chunk needs {chunk}"
        )
    elif valid < n:
        num_cut = n - valid
        times = times[:valid]
        c = chunking
        grid = f"1 + {c.stride}·K" if c.overlap else f"{c.chunk}·K"
        notes.append(
            f"cut the last {num_cut} of {n} frames so the count is {grid} "
            f"(the model's chunk grid): {valid} frames, {valid / fps:.2f} s"
        )
    video = out.result(len(times))
    if n == cap:  # stopped at the cap: estimate what the rest of the video would have given
        rest = max(0, math.ceil((src.duration - start) * fps - _EPS) - n)
        if rest:
            num_cut += rest
            notes.append(
                f"stopped at max_frames={cap}: about {rest} more frames "
                f"({rest / fps:.1f} s) after {start + n / fps:.2f} s were not read"
            )
    info = VideoInfo(
        **vars(src),
        start=start,
        target_fps=fps,
        size=size,
        timestamps=tuple(times),
        num_padded=num_padded,
        num_cut=num_cut,
        note="; ".join(notes),
    )
    return video, info


__all__ = [
    "DEFAULT_MAX_FRAMES",
    "MAX_TARGET_FPS",
    "SourceInfo",
    "VideoInfo",
    "VideoReadError",
    "iter_frames",
    "probe_video",
    "read_video",
]
