"""`media/write.py`: mp4s that browsers play, and the frames that go into them."""

import av
import numpy as np
import pytest
import torch
from clips import index_frames

from videoflextok_core.media.read import probe_video
from videoflextok_core.media.write import to_uint8_frames, write_video


def test_write_video_round_trip(tmp_path):
    x = torch.zeros(1, 3, 9, 33, 47)  # odd sizes: padded to 34 x 48
    x[:, 0, :, :, :20] = 0.6  # reddish left part, grey elsewhere
    path = write_video(x, tmp_path / "out.mp4", fps=8)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # faststart
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert s.codec_context.profile == "Main"
        assert (s.width, s.height, float(s.average_rate)) == (48, 34, 8.0)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
    assert len(frames) == 9
    expected = np.array([204, 128, 128])  # (0.6 + 1) * 127.5, 0 -> 127.5
    assert np.abs(frames[4][16, 8].astype(int) - expected).max() <= 3
    assert np.abs(frames[4][16, 40].astype(int) - 128).max() <= 3


def test_to_uint8_frames():
    x = torch.linspace(-1.2, 1.2, 3 * 2 * 4 * 5).reshape(1, 3, 2, 4, 5)
    u8 = to_uint8_frames(x)
    assert u8.shape == (2, 4, 5, 3) and u8.dtype == np.uint8
    assert (u8.min(), u8.max()) == (0, 255)  # clamped
    assert np.array_equal(to_uint8_frames(torch.from_numpy(u8)), u8)
    ref = ((x[0].clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 3, 0).numpy()
    assert np.array_equal(u8, ref.astype(np.uint8))


def test_write_video_uint8_and_errors(tmp_path):
    frames = index_frames(5, 16, 16)
    path = write_video(frames, tmp_path / "u8.mp4", fps=29.97)
    assert probe_video(path).fps == pytest.approx(29.97, abs=0.01)
    with pytest.raises(ValueError, match="expected uint8"):
        write_video(np.zeros((5, 16, 16)), tmp_path / "bad.mp4", fps=8)
    with pytest.raises(ValueError, match="fps"):
        write_video(frames, tmp_path / "bad.mp4", fps=0)
