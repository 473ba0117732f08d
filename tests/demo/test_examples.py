"""The shipped example clips: real footage (Big Buck Bunny shots) and procedural scenes, as the
page lists them, and the cutting script's crop path."""

import av
import numpy as np

from demo.examples import CREDIT, PROCEDURAL_LABEL, REAL_LABEL, example_paths, example_sets
from demo.paths import EXAMPLES
from training.make_examples import MAX_BYTES, SHOTS, Shot, cut


def test_real_footage_comes_first_and_is_credited():
    sets = example_sets()
    assert [s.label for s in sets] == [REAL_LABEL, PROCEDURAL_LABEL]
    real, procedural = sets
    assert [p.stem for p in real.paths] == [s.name for s in SHOTS]
    assert real.credit == CREDIT and "CC BY 3.0" in CREDIT and procedural.credit == ""
    assert len(procedural.paths) >= 2
    assert example_paths() == [*real.paths, *procedural.paths]
    readme = (EXAMPLES / "README.md").read_text()
    assert "Blender Foundation" in readme and "CC BY 3.0" in readme
    assert all(p.name in readme for p in example_paths())


def test_real_clips_are_short_small_h264():
    for path in example_sets()[0].paths:
        assert path.stat().st_size <= MAX_BYTES, path.name
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            assert s.codec_context.name == "h264"
            assert (s.codec_context.width, s.codec_context.height) == (256, 256)
            frames = sum(1 for _ in c.decode(video=0))
            seconds = frames / float(s.average_rate)  # PyAV 18.1.1: a closed stream raises
        assert 2.0 <= seconds <= 4.1, (path.name, seconds)


def test_cut_follows_the_crop_window():
    """A source whose pixel values encode their x coordinate: the first frame's crop starts at
    the window's start, the last at its end."""
    x = np.arange(400, dtype=np.float64)[None, None, :, None]
    source = np.broadcast_to(x / 400 * 255, (5, 100, 400, 3)).astype(np.uint8)
    shot = Shot("t", "pan", 1, 3, (0, 0, 100), (300, 0, 100))
    out = cut(source, shot, 20)
    assert out.shape == (3, 20, 20, 3)
    first, last = out[0, :, :, 0].mean(), out[-1, :, :, 0].mean()
    assert abs(first - 50 / 400 * 255) < 3 and abs(last - 350 / 400 * 255) < 3
