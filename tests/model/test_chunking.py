"""The sliding window's arithmetic (`model/chunking.py`): counts of chunks, frames and token
frames, splitting and merging, and the clips a model's reader cuts to fit it."""

import json

import numpy as np
import pytest
import torch
from paths import TINY, VARIANTS

from videoflextok_core.media.clip import load_clip
from videoflextok_core.model.checks import check_video
from videoflextok_core.model.chunking import Chunking
from videoflextok_core.model.config import parse_config


def test_chunking_arithmetic():
    c = Chunking(17, 1)
    assert (c.stride, c.tokens_per_chunk, c.overlap_tokens) == (16, 5, 1)
    assert c.num_chunks_for_frames(33) == 2 and c.valid_token_frames(2) == 9
    video = torch.arange(49.0).view(1, 1, 49, 1, 1)
    chunks = c.split_video(video)
    assert chunks.shape == (3, 1, 17, 1, 1) and chunks[1, 0, 0, 0, 0] == 16
    ids = torch.arange(3 * 5).view(3, 5, 1)
    merged = c.merge_tokens(ids, 1)
    assert merged.shape == (1, 13, 1)
    assert [p.shape[1] for p in c.split_tokens(merged)] == [5, 4, 4]
    c0 = Chunking(9, 0)
    assert (c0.stride, c0.tokens_per_chunk, c0.num_chunks_for_frames(18)) == (9, 3, 2)
    c5 = Chunking(9, 5)
    assert (c5.stride, c5.overlap_tokens, c5.valid_frames(3)) == (4, 2, 17)


def test_frames_at_most():
    """The largest whole number of chunks <= n frames (0 below one chunk)."""
    c = Chunking(17, 1)
    counts = [c.frames_at_most(n) for n in (0, 1, 16, 17, 32, 33, 48, 49, 129)]
    assert counts == [0, 0, 0, 17, 17, 33, 33, 49, 129]
    assert Chunking(5, 1).frames_at_most(10) == 9
    c0 = Chunking(9, 0)  # no overlap: whole chunks of 9, not 1 + 9K
    assert [c0.frames_at_most(n) for n in (8, 9, 17, 18, 24, 27)] == [0, 9, 9, 18, 18, 27]
    for c in (Chunking(17, 1), Chunking(9, 0), Chunking(9, 5), Chunking(5, 1)):
        for n in range(60):
            T = c.frames_at_most(n)
            assert T == 0 if n < c.chunk else (c.is_valid(T) and T <= n < T + c.stride), (c, n)


def _config(path):
    return parse_config(json.loads(path.read_text()))


@pytest.mark.parametrize(
    "config_path",
    [
        VARIANTS / "c9o0_z8_zeronoise_noprefix" / "config.json",  # chunk 9, overlap 0, 16x16
        TINY / "config.json",  # chunk 17, overlap 1, 32x48: not square
    ],
    ids=["overlap0", "nonsquare"],
)
@pytest.mark.parametrize("seconds", [1.1, 3.0, 5.0])
def test_load_clip_cuts_what_the_model_takes(make_clip, config_path, seconds):
    """`load_clip` reads a clip that `tokenize`'s input check accepts, whatever the model's
    window: with overlap 0 the valid counts are 9K, not 1 + 9K."""
    config = _config(config_path)
    frames = np.random.default_rng(0).integers(0, 255, (int(24 * seconds), 40, 56, 3), np.uint8)
    path = make_clip("clip.mp4", frames, fps=24)
    video, info = load_clip(path, config)
    H, W = config.resolution
    chunking = Chunking(config.chunk_size, config.overlap_size_frames)
    assert video.shape[0] == 3 and tuple(video.shape[2:]) == (H, W)
    check_video(video[None], config.resolution, chunking)  # ValueError if T does not fit
