"""The parts of `tokenize-dataset` that need no Ray: inputs, segments and keys, shards written
atomically, the manifest check, the folder lock, reading rows back, the no-ray message."""

import os
import sys

import pytest
import torch

pa = pytest.importorskip("pyarrow", reason="pyarrow comes with ray[data] (requirements-scale.txt)")

from demo.paths import DEMO_MODEL  # noqa: E402
from synthetic import make_clip  # noqa: E402
from videoflextok_core import __main__ as cli  # noqa: E402
from videoflextok_core.dataset import (  # noqa: E402
    DatasetError,
    ReaderSettings,
    expand_inputs,
    load_tokens,
    read_dataset,
)
from videoflextok_core.dataset.plan import plan_segments, segment_key, segment_starts  # noqa: E402
from videoflextok_core.dataset.shards import (  # noqa: E402
    Lock,
    ShardWriter,
    check_resumable,
    schema,
    shard_paths,
    write_manifest,
)
from videoflextok_core.media.write import write_video  # noqa: E402

READER = ReaderSettings(fps=8.0, size=64, chunk=17, overlap=1, max_frames=17, segments="all")


def test_reader_settings_follow_the_model():
    config = cli.load_config(str(DEMO_MODEL))  # 64x64, chunk 17, overlap 1, 8 fps
    r = ReaderSettings.for_model(config, None, 40)
    assert (r.fps, r.size, r.max_frames, r.chunk, r.overlap) == (8.0, 64, 33, 17, 1)
    assert r.segments == "first"
    with pytest.raises(ValueError, match="at least one chunk"):
        ReaderSettings.for_model(config, None, 16)
    with pytest.raises(ValueError, match="segments must be one of"):
        ReaderSettings.for_model(config, None, 17, "some")


def test_expand_inputs(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("a/x.mp4", "a/deep/y.MOV", "a/notes.txt", "b.webm"):
        (tmp_path / name).write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text("# clips\nb.webm\n\na/x.mp4\nmissing.mp4\n")
    files = expand_inputs([str(tmp_path / "a"), str(listing), str(tmp_path / "*.webm")])
    names = [p.relative_to(tmp_path).as_posix() for p in files]
    assert names == ["a/deep/y.MOV", "a/x.mp4", "b.webm", "missing.mp4"]  # no repeats
    with pytest.raises(ValueError, match="nothing.mp4"):
        expand_inputs([str(tmp_path / "nothing.mp4")])
    with pytest.raises(ValueError, match=r"\*.avi"):
        expand_inputs([str(tmp_path / "*.avi")])


def test_segment_starts_cover_the_video():
    assert segment_starts(5.0, READER) == [0.0, 17 / 8, 34 / 8]  # 40 frames: 17 + 17 + 6
    assert segment_starts(34 / 8, READER) == [0.0, 17 / 8]  # exactly two segments
    assert segment_starts(0.1, READER) == [0.0]


def test_keys_name_the_file_and_the_settings(tmp_path):
    path = write_video(make_clip(0, 17, 32), tmp_path / "c.mp4", fps=8)
    key = segment_key(path, 0.0, READER)
    assert key == segment_key(path, 0.0, READER)
    assert key != segment_key(path, 2.125, READER)
    other = ReaderSettings(**{**READER.__dict__, "fps": 4.0})
    assert key != segment_key(path, 0.0, other)
    os.utime(path, ns=(1, 1))  # the file changed: its segments are new
    assert key != segment_key(path, 0.0, READER)


def test_plan_all_probes_files(tmp_path):
    good = write_video(make_clip(0, 40, 32), tmp_path / "long.mp4", fps=8)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0" * 1000)
    segments = plan_segments([good, bad], READER)
    assert [(s.path[-8:], s.start, s.error is None) for s in segments] == [
        ("long.mp4", 0.0, True),
        ("long.mp4", 2.125, True),
        ("long.mp4", 4.25, True),
        ("/bad.mp4", 0.0, False),
    ]
    assert "not a media file" in segments[-1].error and segments[0].width == 32


def _rows(n, start=0, error_at=None):
    rows = []
    for i in range(start, start + n):
        ids = torch.arange(2 * 4).reshape(2, 4) + i
        row = dict(key=f"k{i}", path=f"/v/{i}.mp4", start=0.0, frames=17, fps=8.0, t=2, n=4)
        row.update(tokens=ids.tolist(), width=64, height=48, duration=2.0, note="", error=None)
        if i == error_at:
            row.update(frames=None, t=None, n=None, tokens=None, error="bad file")
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema(pa.uint16()))


def test_shards_are_whole_and_numbered_on(tmp_path):
    w = ShardWriter(tmp_path, schema(pa.uint16()), rows_per_shard=2)
    w.add(_rows(5))
    assert [p.name for p in shard_paths(tmp_path)] == [
        "shard-000000.parquet",
        "shard-000001.parquet",
    ]
    assert w.num_pending == 1 and not list(tmp_path.glob(".shard-*"))
    w.flush()
    (tmp_path / ".shard-000003.parquet.tmp").write_bytes(b"half a shard")  # a killed write
    w2 = ShardWriter(tmp_path, schema(pa.uint16()), rows_per_shard=2)
    assert w2.next_index == 3 and not list(tmp_path.glob(".shard-*"))
    table = read_dataset(tmp_path)
    assert table["key"].to_pylist() == ["k0", "k1", "k2", "k3", "k4"]
    assert table.schema.field("tokens").type == pa.list_(pa.list_(pa.uint16()))


def _manifest(**kw):
    m = {"kind": "videoflextok-token-dataset", "model_ref": "m", "model_config_hash": "c"}
    m.update(model_weights_fingerprint="w", precision="fp32", reader=READER.as_json(), **kw)
    return m


def test_a_folder_of_another_model_is_refused(tmp_path):
    check_resumable(_manifest(), _manifest(), tmp_path)
    with pytest.raises(DatasetError, match="model_config_hash"):
        check_resumable(_manifest(), _manifest(model_config_hash="d"), tmp_path)
    reader = {**READER.as_json(), "max_frames": 33}
    with pytest.raises(DatasetError, match="reader"):
        check_resumable(_manifest(), {**_manifest(), "reader": reader}, tmp_path)


def test_one_writer_per_folder(tmp_path):
    with Lock(tmp_path):
        with pytest.raises(DatasetError, match="another tokenize-dataset run"):
            Lock(tmp_path).__enter__()
    with Lock(tmp_path):  # released
        pass


def test_load_tokens_by_path_start_or_row(tmp_path):
    write_manifest(tmp_path, _manifest())
    w = ShardWriter(tmp_path, schema(pa.uint16()), rows_per_shard=10)
    w.add(_rows(3, error_at=2))
    w.flush()
    tokens, meta = load_tokens(tmp_path, path="/v/1.mp4")
    assert tokens.dtype == torch.int64 and tokens.shape == (1, 2, 4) and tokens[0, 0, 0] == 1
    assert meta["model_config_hash"] == "c" and meta["frames"] == "17"
    assert torch.equal(load_tokens(tmp_path, row=1)[0], tokens)
    assert torch.equal(load_tokens(tmp_path, path="/v/1.mp4", start=0.0)[0], tokens)
    with pytest.raises(DatasetError, match="no tokens: bad file"):
        load_tokens(tmp_path, path="/v/2.mp4")
    with pytest.raises(DatasetError, match="no row for"):
        load_tokens(tmp_path, path="/v/9.mp4")
    with pytest.raises(DatasetError, match="outside 0..2"):
        load_tokens(tmp_path, row=3)
    with pytest.raises(ValueError, match="either path"):
        load_tokens(tmp_path, path="/v/1.mp4", row=0)


def test_without_ray_the_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    clip = write_video(make_clip(0, 17, 64), tmp_path / "c.mp4", fps=8)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    args = [
        "tokenize-dataset",
        str(clip),
        "--model",
        str(DEMO_MODEL),
        "--out",
        str(tmp_path / "out"),
    ]
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2 and "pip install -r requirements-scale.txt" in err
    assert not (tmp_path / "out").exists()
