"""`demo.store.Store`: keys by content, entries that take their files with them, files written
once (and again when their folder went)."""

import os
import shutil

import pytest
import torch
from paths import EXAMPLE

from demo import store as demo_store
from demo.request import Request
from demo.store import Store
from videoflextok_core.media.read import VideoInfo
from videoflextok_core.model.sampling import Sampler

SAMPLER = Sampler(steps=2)


def info(path) -> VideoInfo:
    fields = dict.fromkeys(VideoInfo.__dataclass_fields__, 0)
    return VideoInfo(**{**fields, "path": str(path), "note": "", "target_fps": 8.0})


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "work", "model-a", max_clips=1, max_decodes=2)


def clip_of(store, video_path, start=0.0):
    request = Request(video_path, start, 17, 4, SAMPLER)
    key = store.clip_key(request)
    video, tokens = torch.zeros(3, 17, 8, 8), torch.zeros(1, 5, 16, dtype=torch.int64)
    return store.clips.get(key) or store.add_clip(key, video, info(video_path), tokens, 0.1)


def test_file_digest_is_read_once_and_follows_edits(tmp_path):
    f = tmp_path / "clip.bin"
    f.write_bytes(b"a" * 1000)
    first = demo_store.file_digest(f)
    hits = demo_store._digest_of.cache_info().hits
    assert demo_store.file_digest(f) == first
    assert demo_store._digest_of.cache_info().hits == hits + 1
    f.write_bytes(b"b" * 1000)  # same size, new content and modification time
    os.utime(f, ns=(os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns + 1_000_000))
    assert demo_store.file_digest(f) != first


def test_keys_name_content_and_settings(store, tmp_path):
    copy = shutil.copy(EXAMPLE, tmp_path / "renamed.mp4")
    same = [Request(p, 0.0, 17, 4, SAMPLER) for p in (EXAMPLE, copy)]
    assert store.clip_key(same[0]) == store.clip_key(same[1])  # the content, not the name
    other = Store(tmp_path / "other", "model-b")
    assert other.clip_key(same[0]) != store.clip_key(same[0])  # the model is in the key
    with pytest.raises(ValueError, match="No video"):
        store.clip_key(Request(None, 0.0, 17, 4, SAMPLER))
    clip = clip_of(store, EXAMPLE)
    keys = {store.decode_key(clip, k, s) for k in (1, 2) for s in (SAMPLER, Sampler(seed=1))}
    assert len(keys) == 4


def test_an_evicted_clip_takes_its_folder(store, tmp_path):
    first = clip_of(store, EXAMPLE)
    (first.folder / "file").write_text("x")
    clip_of(store, EXAMPLE, start=0.5)  # max_clips=1: the first goes
    assert (
        not first.folder.exists()
        and store.cached_clip(Request(EXAMPLE, 0.0, 17, 4, SAMPLER)) is None
    )


def test_decode_files_are_written_once_and_again_when_gone(store):
    clip = clip_of(store, EXAMPLE)
    decoded = store.add_decode(clip, 4, SAMPLER, torch.zeros(3, 17, 8, 8), 0.2)
    assert store.add_decode(clip, 4, SAMPLER, torch.ones(3, 17, 8, 8), 0.3) is decoded  # kept
    files = store.decode_files(clip, decoded, 4)
    assert files.side_by_side.exists() and files.video.exists()
    assert store.decode_files(clip, decoded, 4) is files
    shutil.rmtree(decoded.folder)
    again = store.decode_files(clip, decoded, 4)
    assert again.side_by_side.exists()


def test_clear_removes_everything(store):
    clip = clip_of(store, EXAMPLE)
    store.add_decode(clip, 4, SAMPLER, torch.zeros(3, 17, 8, 8), 0.2)
    store.clear()
    assert len(store.clips) == len(store.decodes) == 0 and not store.workdir.exists()
