"""`tokenize-dataset` end to end on a real local Ray (2 CPUs) with the demo model (64x64).

One Ray per module: in-process runs use it directly, the command in a subprocess joins it with
--ray-address (a fresh local Ray takes ~25 s to start on this shared machine). The folder holds
generated clips, a clip longer than one segment, a non-square one, the two real clips (through a
list file), a corrupt file and an audio-only file.
"""

import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest
import torch
from clips import write_audio_only
from paths import ROOT, VIDEOS

from demo.paths import DEMO_MODEL
from synthetic import make_clip
from videoflextok_core.dataset import DatasetError, load_tokens, read_dataset, read_manifest
from videoflextok_core.media.clip import load_clip
from videoflextok_core.media.write import write_video

ray = pytest.importorskip("ray", reason="ray[data] is not installed (requirements-scale.txt)")
pytest.importorskip("ray.data", reason="ray[data] is not installed (requirements-scale.txt)")
import pyarrow.parquet as pq  # noqa: E402  (ray[data] brings pyarrow)

from videoflextok_core.dataset.runner import DatasetJob, run_dataset  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]  # a local Ray cluster


def _env() -> dict:
    """The environment for a subprocess, read when it starts: after `ray.init`, which sets
    RAY_AUTH_MODE=token (the joining command then reads the token from ~/.ray/auth_token)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


MAX_FRAMES = 17


def _ray_pids(session: str) -> list[int]:
    """Processes whose command line names this Ray session (gcs, raylet, workers)."""
    pids = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if session.encode() in f.read():
                    pids.append(int(d))
        except (OSError, ValueError):
            continue
    return pids


@pytest.fixture(scope="module")
def cluster():
    """A local Ray with 2 CPUs for the module; its address; everything gone afterwards."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    context = ray.get_runtime_context()
    session = ray._private.worker._global_node.session_name  # in every Ray process's cmdline
    yield context.gcs_address
    ray.shutdown()
    deadline = time.monotonic() + 30
    while _ray_pids(session) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_pids(session), "Ray processes left behind"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """[folder, list file]: 9 readable clips and 2 bad files, 16 segments with --segments all."""
    root = tmp_path_factory.mktemp("clips")
    folder = root / "videos"
    (folder / "sub").mkdir(parents=True)
    for seed in range(5):
        write_video(make_clip(seed, 17, 64), folder / f"gen{seed}.mp4", fps=8)
    write_video(make_clip(7, 12, 64), folder / "sub" / "short.mp4", fps=8)  # padded to 17
    write_video(make_clip(8, 40, 64), folder / "sub" / "long.mp4", fps=8)  # 3 segments of 17
    write_video(make_clip(9, 20, 96)[:, 16:80], folder / "wide.mp4", fps=8)  # 96x64
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    write_audio_only(folder / "speech.mp4", "mp4")
    listing = root / "real.txt"
    listing.write_text(f"{VIDEOS / 'porsche.mp4'}\n# a comment\n{VIDEOS / 'orig_clip.mp4'}\n")
    return [str(folder), str(listing)]


def _job(inputs, out, **kw) -> DatasetJob:
    kw = {"max_frames": MAX_FRAMES, "rows_per_shard": 3, "workers": 2, **kw}
    return DatasetJob(inputs=tuple(inputs), out=out, model_ref=str(DEMO_MODEL), **kw)


@pytest.fixture(scope="module")
def full(cluster, inputs, tmp_path_factory):
    """One uninterrupted in-process run with 2 workers: (out folder, summary)."""
    out = tmp_path_factory.mktemp("full")
    return out, run_dataset(_job(inputs, out, segments="all"))


def _tokens_alone(demo_model, path, start=0.0):
    """What `tokenize` computes for a clip alone (cmd_tokenize's two calls)."""
    video, _ = load_clip(path, demo_model.config, None, start, MAX_FRAMES)
    return demo_model.tokenize_clip(video)[0]  # (t, N)


def _sorted_rows(table):
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: r["key"])


def test_every_clip_matches_tokenize_alone(full, demo_model):
    out, summary = full
    table = pq.read_table([str(p) for p in sorted(out.glob("shard-*.parquet"))])  # plain pyarrow
    assert table.num_rows == summary.total == summary.written == 16 and summary.skipped == 0
    assert str(table.schema.field("tokens").type) == "list<element: list<element: uint16>>"
    rows = table.to_pylist()
    assert len({r["key"] for r in rows}) == len(rows)
    good = [r for r in rows if r["error"] is None]
    assert len(good) == 14  # 9 readable files: long.mp4 gives 3 segments, 3 others 2
    for r in good:
        ids = torch.tensor(r["tokens"])
        assert ids.shape == (r["t"], r["n"]) == (5, 64), r["path"]
        assert torch.equal(ids, _tokens_alone(demo_model, r["path"], r["start"])), r["path"]
    videos = str(VIDEOS.resolve())  # rows hold resolved paths; ../shared may be a symlink
    real = {os.path.basename(r["path"]): r for r in good if r["path"].startswith(videos)}
    assert (real["porsche.mp4"]["width"], real["porsche.mp4"]["duration"]) == (640, 3.0)
    assert set(real) == {"porsche.mp4", "orig_clip.mp4"}
    bad = {os.path.basename(r["path"]): r["error"] for r in rows if r["error"] is not None}
    assert set(bad) == {"corrupt.mp4", "speech.mp4"}
    assert "not a media file" in bad["corrupt.mp4"] and "no video stream" in bad["speech.mp4"]
    assert table.to_pandas()["error"].notna().sum() == 2
    manifest = read_manifest(out)
    assert manifest["counts"] == {"segments": 16, "errors": 2, "shards": 6}
    assert manifest["precision"] == "fp32" and manifest["reader"]["max_frames"] == MAX_FRAMES


def test_cli_tokenize_gives_the_same_ids(full, tmp_path):
    from videoflextok_core.tokenfile import read_tokens

    out, _ = full
    clip = VIDEOS / "porsche.mp4"
    path = tmp_path / "porsche.tokens.safetensors"
    cmd = [sys.executable, "-m", "videoflextok_core", "tokenize", str(clip), "--out", str(path)]
    cmd += ["--model", str(DEMO_MODEL), "--max-frames", str(MAX_FRAMES), "--device", "cpu"]
    r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    single, _ = read_tokens(path)
    tokens, meta = load_tokens(out, path=str(clip))
    assert torch.equal(tokens, single)
    assert meta["model_config_hash"] == read_manifest(out)["model_config_hash"]


def test_segments_all_covers_the_clip(full, demo_model):
    out, _ = full
    table = read_dataset(out)
    rows = [r for r in table.to_pylist() if r["path"].endswith("long.mp4")]
    starts = sorted(r["start"] for r in rows)
    assert starts == [0.0, 17 / 8, 34 / 8]  # 40 frames at 8 fps: 17 + 17 + 6 (padded)
    assert all(r["frames"] == 17 for r in rows)
    tokens, meta = load_tokens(out, path=rows[0]["path"], start=34 / 8)
    assert meta["start"] == "4.25" and torch.equal(
        tokens[0], _tokens_alone(demo_model, rows[0]["path"], 34 / 8)
    )
    with pytest.raises(DatasetError, match="no segment at 1 s"):
        load_tokens(out, path=rows[0]["path"], start=1.0)


def test_detokenize_a_row_of_the_folder(full, tmp_path, capsys):
    from videoflextok_core import __main__ as cli

    out, _ = full
    clip = str(VIDEOS / "orig_clip.mp4")
    recon = tmp_path / "recon.mp4"
    model = ["--model", str(DEMO_MODEL)]
    code = cli.main(
        ["detokenize", str(out), "--path", clip, "--out", str(recon), "--k", "4", *model]
    )
    assert code == 0, capsys.readouterr().err
    assert "17 frames at 8 fps, k=4 (20 tokens)" in capsys.readouterr().out
    with av.open(str(recon)) as f:
        assert sum(1 for _ in f.decode(video=0)) == 17
    code = cli.main(["detokenize", str(out), "--out", str(recon), *model])
    assert code == 2 and "--path VIDEO [--start S] or --row I" in capsys.readouterr().err


def _run_cli(out, address, *extra):
    cmd = [sys.executable, "-m", "videoflextok_core", "tokenize-dataset", *extra, "--out", str(out)]
    cmd += ["--model", str(DEMO_MODEL), "--max-frames", str(MAX_FRAMES), "--segments", "all"]
    cmd += ["--ray-address", address]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_after_new_shard(proc, out, sig, before: int) -> int:
    """Send `sig` once more than `before` shards exist; -> shards then. Fails if it ended."""
    deadline = time.monotonic() + 120
    while len(list(out.glob("shard-*.parquet"))) <= before:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no shard appeared"
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    return len(list(out.glob("shard-*.parquet")))


def test_killed_runs_resume_to_the_same_table(full, cluster, inputs, tmp_path, capsys):
    """SIGKILL (nothing cleaned up) then SIGTERM (finished rows written), both after a shard
    appears; the in-process rerun completes the folder to the uninterrupted run's table."""
    full_out, _ = full
    out = tmp_path / "resumed"
    args = [*inputs, "--rows-per-shard", "1", "--workers", "1"]
    proc = _run_cli(out, cluster, *args)
    n = _kill_after_new_shard(proc, out, signal.SIGKILL, 0)
    assert proc.returncode == -signal.SIGKILL and 1 <= n < 16  # stopped mid-way
    proc = _run_cli(out, cluster, *args)
    m = _kill_after_new_shard(proc, out, signal.SIGTERM, n)
    assert proc.returncode == 130 and n < m < 16

    capsys.readouterr()
    summary = run_dataset(_job(inputs, out, segments="all", workers=1, rows_per_shard=1))
    assert (summary.skipped, summary.written, summary.total) == (m, 16 - m, 16)
    assert "16/16 segments" in capsys.readouterr().err  # the progress line
    assert not list(out.glob(".shard-*"))  # a killed run's temp shard is removed on restart
    assert _sorted_rows(read_dataset(out)) == _sorted_rows(read_dataset(full_out))
    again = run_dataset(_job(inputs, out, segments="all"))  # nothing left: no new rows
    assert again.written == 0 and read_dataset(out).num_rows == 16


def test_other_reader_settings_are_refused(full, inputs):
    out, _ = full
    with pytest.raises(DatasetError, match="reader"):
        run_dataset(_job(inputs, out, segments="first"))
    with pytest.raises(DatasetError, match="reader"):
        run_dataset(_job(inputs, out, segments="all", fps=4.0))
