"""`media/read.py`: read_video / probe_video / iter_frames on clips made here with PyAV."""

import av
import numpy as np
import pytest
import torch
from clips import decode_index, index_frames, marker_frames, write_audio_only
from paths import VIDEOS

from videoflextok_core.media import read as read_mod
from videoflextok_core.media.preprocess import preprocess
from videoflextok_core.media.read import VideoReadError, iter_frames, probe_video, read_video
from videoflextok_core.media.write import write_video
from videoflextok_core.model.chunking import Chunking

RELEASED = Chunking(17, 1)  # read_video's default window


# ---------------------------------------------------------------------------------------------
# Picking frames by time
# ---------------------------------------------------------------------------------------------


def test_cfr_frames_picked_by_time(make_clip):
    path = make_clip("cfr.mp4", index_frames(72), fps=24)  # 3 s
    video, info = read_video(path, fps=8, size=16)
    assert video.shape == (3, 17, 16, 16)
    assert decode_index(video) == list(range(0, 51, 3))
    assert info.timestamps == pytest.approx([i / 8 for i in range(17)])
    assert (info.fps, info.duration, info.num_frames) == (24.0, 3.0, 72)
    assert info.num_cut == 7 and info.num_padded == 0 and "cut the last 7 of 24" in info.note


def test_vfr_frames_picked_by_time(make_clip):
    """Irregular timestamps: output frame i is the last frame with time <= i / fps."""
    rng = np.random.default_rng(1)
    pts_ms = np.concatenate([[0], np.cumsum(rng.integers(10, 300, 39))])  # 40 frames, ~6 s
    path = make_clip("vfr.mp4", index_frames(40), pts_ms=pts_ms)
    video, info = read_video(path, fps=10, size=16)
    T = video.shape[1]
    targets = np.arange(T) * 100  # ms
    expected = np.searchsorted(pts_ms, targets, side="right") - 1
    assert T == RELEASED.frames_at_most(int(pts_ms[-1]) // 100 + 1)
    assert decode_index(video) == expected.tolist()
    assert info.timestamps == pytest.approx((pts_ms[expected] / 1000).tolist())


def test_fps_above_source_repeats_frames(make_clip):
    path = make_clip("slow.mp4", index_frames(20), fps=5)  # 4 s at 5 fps
    video, _ = read_video(path, fps=10, size=16)
    assert decode_index(video)[:8] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_start_seeks(make_clip):
    path = make_clip("long.mp4", index_frames(240), fps=24, options={"g": "24"})  # 10 s
    video, info = read_video(path, fps=8, size=16, start=5.0)
    assert decode_index(video) == list(range(120, 120 + 3 * 33, 3))  # 5 s left: 40 -> 33
    assert info.timestamps[0] == pytest.approx(5.0)
    video, _ = read_video(path, fps=8, size=16, start=4.99)  # between frames 119 and 120
    assert decode_index(video)[:2] == [119, 122]


def test_decoding_stops_at_cap(make_clip, monkeypatch):
    path = make_clip("long.mp4", index_frames(240), fps=24)  # 10 s
    decoded = []
    original = read_mod._decode

    def counting(*args):
        for frame in original(*args):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(read_mod, "_decode", counting)
    video, info = read_video(path, fps=8, size=16, max_frames=20)
    assert video.shape[1] == 17
    assert len(decoded) < 60  # 17 frames at 8 fps span 2 s = 48 source frames (+1 probe frame)
    assert info.num_cut == 80 - 17 and "max_frames=17" in info.note


def test_batched_resize_equals_whole(make_clip, monkeypatch):
    frames = np.random.default_rng(2).integers(0, 256, (20, 24, 40, 3), dtype=np.uint8)
    path = make_clip("noise.mov", frames, fps=8, codec="png", pix_fmt="rgb24")  # lossless
    whole = preprocess(np.stack([rgb for _, rgb in iter_frames(path, fps=8)]), 16)
    monkeypatch.setattr(read_mod, "_BATCH_BYTES", 1)  # one frame per batch
    video, _ = read_video(path, fps=8, size=16)
    assert torch.equal(video, whole[:, :17])
    raw = torch.from_numpy(frames[:17]).permute(3, 0, 1, 2)
    ref = preprocess(raw.permute(1, 2, 3, 0).contiguous(), 16)
    assert torch.equal(video, ref)


@pytest.mark.parametrize("frames,fps", [(72, 12), (6, 8)], ids=["cut", "padded"])
@pytest.mark.parametrize("guess", [0, 17, 33, 49])
def test_output_buffer_guess_does_not_matter(make_clip, monkeypatch, frames, fps, guess):
    """The buffer is sized from the header's duration; a wrong duration only costs a copy."""
    path = make_clip("clip.mp4", index_frames(frames), fps=24)  # 3 s -> 36 -> 33; 0.25 s -> 2
    ref, ref_info = read_video(path, fps=fps, size=16)
    monkeypatch.setattr(read_mod, "_expected_frames", lambda *args: guess)
    video, info = read_video(path, fps=fps, size=16)
    assert torch.equal(video, ref) and info == ref_info
    expected = list(range(0, 66, 2)) if frames == 72 else [0] + [3] * 16
    assert decode_index(video) == expected


# ---------------------------------------------------------------------------------------------
# Rotation, containers, pixel formats, still images
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_applied(make_clip, rotation):
    """A 64x32 frame with its left half lit; the display matrix turns it counter-clockwise."""
    path = make_clip("rot.mp4", marker_frames(8, 32, 64, (255, 255, 255)), rotation=rotation)
    info = probe_video(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((64, 32) if rotation == 180 else (32, 64))
    video, info = read_video(path, fps=8, size=16)
    lit = video[:, 0].mean(dim=0) > 0  # (16, 16)
    top, bottom = lit[:4].float().mean(), lit[-4:].float().mean()
    left, right = lit[:, :4].float().mean(), lit[:, -4:].float().mean()
    if rotation == 90:  # left half goes to the bottom
        assert bottom == 1 and top == 0
    elif rotation == 180:  # left half goes to the right
        assert right == 1 and left == 0
    else:  # 270 (= 90 clockwise): left half goes to the top
        assert top == 1 and bottom == 0
    assert f"rotated {rotation}°" in info.note


FORMATS = [
    # name, encoder, pix_fmt written, decoder, pix_fmt decoded
    ("vp9.webm", "libvpx-vp9", "yuv420p", "vp9", "yuv420p"),
    ("h264.mov", "libx264", "yuv420p", "h264", "yuv420p"),
    ("gray.mkv", "ffv1", "gray", "ffv1", "gray"),
    ("rgba.mov", "png", "rgba", "png", "rgba"),
    ("yuva.mkv", "ffv1", "yuva420p", "ffv1", "yuva420p"),
    ("10bit.mp4", "libx264", "yuv420p10le", "h264", "yuv420p10le"),
    ("alpha.webm", "libvpx-vp9", "yuva420p", "vp9", "yuv420p"),  # VP9 alpha: a side channel
]


@pytest.mark.parametrize("name,encoder,pix_fmt,codec,decoded", FORMATS, ids=[f[0] for f in FORMATS])
def test_containers_and_pixel_formats(make_clip, name, encoder, pix_fmt, codec, decoded):
    frames = marker_frames(20, colour=(200, 200, 200))
    path = make_clip(name, frames, fps=8, codec=encoder, pix_fmt=pix_fmt)
    video, info = read_video(path, fps=8, size=16)
    assert video.shape == (3, 17, 16, 16) and video.dtype == torch.float32
    assert (info.codec, info.pix_fmt) == (codec, decoded)
    grey = (video[:, 5].mean(dim=0) + 1) * 127.5  # (16, 16)
    assert abs(float(grey[8, 2]) - 200) < 12 and float(grey[8, 13]) < 12


def test_still_image_padded(tmp_path):
    """A PNG read as a one-frame video, padded to one chunk."""
    path = tmp_path / "still.png"
    with av.open(str(path), mode="w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 40, 30, "rgb24"
        frame = av.VideoFrame.from_ndarray(marker_frames(1, 30, 40)[0], format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    video, info = read_video(path, size=16)
    assert video.shape == (3, 17, 16, 16)
    assert torch.equal(video[:, :1].expand_as(video), video)
    assert info.num_padded == 16 and "padded 16 frames" in info.note
    assert info.timestamps == (0.0,) * 17


def test_short_clip_padded(make_clip):
    path = make_clip("short.mp4", index_frames(12), fps=24)  # 0.5 s: 4 frames at 8 fps
    video, info = read_video(path, fps=8, size=16)
    assert decode_index(video) == [0, 3, 6, 9] + [9] * 13
    assert info.num_padded == 13 and info.num_cut == 0


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_not_a_media_file(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 20)
    with pytest.raises(VideoReadError, match="not a media file"):
        read_video(path)


def test_missing_path(tmp_path):
    with pytest.raises(VideoReadError, match="no such file"):
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(VideoReadError, match="not a file"):
        probe_video(tmp_path)


def test_audio_only(tmp_path):
    with pytest.raises(VideoReadError, match="no video stream.*audio"):
        read_video(write_audio_only(tmp_path / "speech.m4a"))


def test_audio_with_cover_art(tmp_path):
    """The picture of an audio file shows up as a one-frame 'video' stream; it is not a video."""
    path = tmp_path / "song.m4a"
    with av.open(str(path), mode="w", format="mp4") as out:
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        art = out.add_stream("png", rate=1)
        art.width, art.height, art.pix_fmt = 32, 32, "rgb24"
        art.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(marker_frames(1)[0], format="rgb24")
        for packet in [*art.encode(picture), *art.encode()]:
            out.mux(packet)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*audio.encode(frame), *audio.encode()]:
            out.mux(packet)
    with pytest.raises(VideoReadError, match="no video stream.*audio and cover art"):
        read_video(path)


def test_gif(make_clip):
    frames = index_frames(20)
    path = make_clip("anim.gif", frames, fps=10, codec="gif", pix_fmt="rgb8")
    video, info = read_video(path, fps=5, size=16)  # 2 s at 5 fps: 10 frames, padded
    assert info.codec == "gif" and video.shape == (3, 17, 16, 16) and info.num_padded == 7


def test_zero_frames(tmp_path):
    """A Matroska file with a video track that holds no frames (only the audio has packets)."""
    path = tmp_path / "empty.mkv"
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("ffv1", rate=8)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*audio.encode(frame), *audio.encode()]:
            out.mux(packet)
    with pytest.raises(VideoReadError, match="no decodable frames"):
        read_video(path)


def test_truncated(make_clip, tmp_path):
    frames = np.random.default_rng(3).integers(0, 256, (96, 64, 64, 3), dtype=np.uint8)
    whole = make_clip("whole.mp4", frames).read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(whole[: len(whole) // 2])  # index (moov) at the end: lost
    with pytest.raises(VideoReadError, match="not a media file|damaged"):
        read_video(half)
    fast = tmp_path / "fast.mp4"
    write_video(frames, fast, fps=24)  # faststart: index first, data cut mid-way
    data = fast.read_bytes()
    cut = tmp_path / "fast_half.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match="truncated or corrupt"):
        read_video(cut, fps=24, max_frames=97)


def test_start_beyond_end(make_clip):
    path = make_clip("clip.mp4", index_frames(24), fps=24)
    with pytest.raises(VideoReadError, match="beyond the end"):
        read_video(path, start=5.0)


def test_absurd_size(make_clip):
    path = make_clip("wide.mkv", np.zeros((2, 8, 8200, 3), np.uint8), codec="ffv1")
    with pytest.raises(VideoReadError, match="larger than 8192"):
        read_video(path)


def test_absurd_rate(make_clip):
    path = make_clip("fast.mp4", index_frames(20), fps=5000)
    with pytest.raises(VideoReadError, match="not plausible"):
        probe_video(path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"fps": 0}, "fps"),
        ({"size": 0}, "size"),
        ({"start": -1}, "start"),
        ({"max_frames": 10}, "max_frames"),
        ({"chunking": (5, 1)}, "chunking"),
    ],
)
def test_bad_arguments(make_clip, kwargs, match):
    path = make_clip("clip.mp4", index_frames(24), fps=24)
    with pytest.raises(ValueError, match=match):
        read_video(path, **kwargs)


# ---------------------------------------------------------------------------------------------
# Real clips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,size", [("porsche.mp4", 640), ("orig_clip.mp4", 256)])
def test_real_clips(name, size):
    path = VIDEOS / name
    if not path.exists():
        pytest.skip(f"{path} not present (shared example clips)")
    video, info = read_video(path)
    T = video.shape[1]
    assert video.shape == (3, T, 256, 256) and RELEASED.is_valid(T)
    assert video.min() >= -1 and video.max() <= 1 and video.std() > 0.1
    assert (info.width, info.height, info.rotation, info.codec) == (size, size, 0, "h264")
    assert 1 <= info.duration <= 10 and 10 <= info.fps <= 60
    assert len(info.timestamps) == T and info.timestamps[0] == 0.0


def test_non_square_size_covers_and_crops(tmp_path):
    """size=(H, W) for non-square models: scale to cover, centre crop, nothing stretched."""
    frames = np.zeros((17, 64, 64, 3), np.uint8)
    frames[:, :, 32:] = 255  # right half white
    path = write_video(frames, tmp_path / "half.mp4", 8)
    video, info = read_video(path, size=(32, 48))
    assert video.shape == (3, 17, 32, 48) and info.size == (32, 48)
    # a 64x64 source covers 32x48 at scale 0.75 -> 48x48, cropped to rows 8..40: left dark,
    # right bright, the edge in the middle column
    assert video[:, 0, :, :20].max() < -0.8 and video[:, 0, :, 28:].min() > 0.8
    with pytest.raises(ValueError, match="size"):
        read_video(path, size=(32, 0))
