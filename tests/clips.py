"""Clips made with PyAV for the video and dataset tests (helpers, not fixtures; the `make_clip`
fixture in conftest.py writes them under a test's tmp_path), and frames that say which frame
they are."""

import numpy as np


def write_clip(
    path,
    frames,
    fps=24,
    codec="libx264",
    pix_fmt="yuv420p",
    pts_ms=None,
    rotation=None,
    fmt=None,
    options=None,
):
    """Encode uint8 RGB frames [T, H, W, 3] into `path` with PyAV and return the path.

    `pts_ms` gives each frame's time in milliseconds (variable frame rate); `rotation` sets the
    display matrix (degrees counter-clockwise, as `VideoFrame.rotation` reads it back).
    """
    from fractions import Fraction

    import av

    T, H, W, _ = frames.shape
    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        if options:
            stream.options = options
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pix_fmt != "rgb24":
                frame = frame.reformat(format=pix_fmt)
            if pts_ms is not None:
                frame.pts, frame.time_base = int(pts_ms[i]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_audio_only(path, fmt=None):
    """An AAC file with no video stream (8 silent frames at 16 kHz) at `path`; returns it."""
    import av

    with av.open(str(path), mode="w", format=fmt) as out:
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def index_frames(n, height=32, width=32):
    """Grey frames that encode their index: left half i % 16, right half i // 16, in steps of 16
    levels, so the index survives a lossy codec."""
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, :, : width // 2] = 8 + 16 * (i % 16)
        frames[i, :, width // 2 :] = 8 + 16 * (i // 16)
    return frames


def decode_index(video):
    """Indices of the frames of a read video [3, T, S, S] made from `index_frames`."""
    S = video.shape[-1]
    grey = (video.mean(dim=0) + 1) * 127.5  # (T, S, S)
    lo, hi = grey[:, S // 2, S // 4].tolist(), grey[:, S // 2, 3 * S // 4].tolist()
    return [round((a - 8) / 16) + 16 * round((b - 8) / 16) for a, b in zip(lo, hi, strict=True)]


def marker_frames(n, height=32, width=32, colour=(220, 40, 40)):
    """Left half coloured, right half black."""
    frames = np.zeros((n, height, width, 3), dtype=np.uint8)
    frames[:, :, : width // 2] = colour
    return frames
