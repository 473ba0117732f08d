"""`python -m videoflextok_core`: the real commands in subprocesses on a small clip file.

The tiny reference checkpoint decodes 32x48 frames; `read_video` makes square frames, so the CLI
reads at max(H, W) = 48 and centre-crops to 32x48 (`media.clip.load_clip`). The clip is 48x48.
"""

import json
import os
import subprocess
import sys

import av
import pytest
import torch
from paths import ROOT, TINY
from safetensors import safe_open

from synthetic import make_clip
from videoflextok_core import __main__ as cli
from videoflextok_core.media.clip import load_clip
from videoflextok_core.media.write import write_video
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.identity import config_hash
from videoflextok_core.model.sampling import Sampler

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}  # 2 shared cores

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]  # subprocesses


def run(*args, timeout=180):
    cmd = [sys.executable, "-m", "videoflextok_core", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def frames_of(path):
    """(frame count, width, height) of an mp4, decoded with PyAV."""
    with av.open(str(path)) as f:
        frames = list(f.decode(video=0))
    return len(frames), frames[0].width, frames[0].height


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def clip_path(work):
    return write_video(make_clip(0, 17, 48), work / "clip.mp4", fps=8)


@pytest.fixture(scope="module")
def tokens_path(work, clip_path):
    out = work / "clip.tokens.safetensors"
    r = run("tokenize", clip_path, "--model", TINY, "--out", out, "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "5 x 16 tokens from 17 frames at 8 fps" in r.stdout
    assert "tokenize done" in r.stderr  # the progress line
    return out


def test_help():
    r = run("--help")
    assert r.returncode == 0
    for text in ("tokenize", "detokenize", "curve", "examples:", "demo-model"):
        assert text in r.stdout, text
    r = run("curve", "--help")
    assert r.returncode == 0 and "--budgets" in r.stdout and "--apg, --no-apg" in r.stdout


def test_tokenize_writes_tokens_with_metadata(tokens_path, clip_path):
    with safe_open(str(tokens_path), framework="pt") as f:
        meta = f.metadata()
        tokens = f.get_tensor("tokens")
    assert tokens.shape == (1, 5, 16) and tokens.dtype == torch.int64
    model = VideoFlexTok.from_pretrained(TINY, device="cpu")
    assert meta["kind"] == cli.TOKENS_KIND
    assert meta["model_config_hash"] == config_hash(model.config)
    assert meta["model_ref"] == TINY.name  # names only: no paths of the machine
    assert (meta["resolution"], meta["fps"], meta["start"], meta["frames"]) == (
        "32x48",
        "8",
        "0",
        "17",
    )
    assert meta["codebook_size"] == "64000" and meta["tool_version"] == cli.VERSION
    assert meta["source"].endswith("clip.mp4") and "video_note" in meta
    video, _ = load_clip(clip_path, model)
    assert torch.equal(tokens, model.tokenize_clip(video))


def test_detokenize_with_side_by_side(work, tokens_path, clip_path):
    out = work / "recon.mp4"
    r = run(
        "detokenize",
        tokens_path,
        "--model",
        TINY,
        "--out",
        out,
        "--k",
        4,
        "--steps",
        2,
        "--seed",
        1,
        "--side-by-side",
        clip_path,
    )
    assert r.returncode == 0, r.stderr
    assert "k=4 (20 tokens), 2 steps, guidance off, seed 1" in r.stdout
    assert "decoding k=4 (step 2/2)" in r.stderr
    assert frames_of(out) == (17, 48, 32)
    count, width, height = frames_of(work / "recon_side_by_side.mp4")
    assert count == 17 and width > 3 * height // 2  # three panels side by side


def test_precision_flag(work, tokens_path, clip_path):
    """--precision reaches the model, the summary says what ran; tokenize is float32 anyway."""
    out = work / "clip_bf16.tokens.safetensors"
    r = run("tokenize", clip_path, "--model", TINY, "--out", out, "--precision", "bf16")
    assert r.returncode == 0, r.stderr
    assert "tokenized in fp32" in r.stdout
    with safe_open(str(out), framework="pt") as f:
        meta, tokens = f.metadata(), f.get_tensor("tokens")
    assert (meta["precision"], meta["tokenize_precision"]) == ("bf16-autocast", "fp32")
    with safe_open(str(tokens_path), framework="pt") as f:
        assert torch.equal(tokens, f.get_tensor("tokens"))  # the same ids as in float32
    recon = work / "recon_bf16.mp4"
    args = ("--model", TINY, "--out", recon, "--k", 4, "--steps", 2)
    r = run("detokenize", tokens_path, *args, "--precision", "bf16")
    assert r.returncode == 0, r.stderr
    assert "seed 0, bf16 autocast (bf16: asked)" in r.stdout
    assert frames_of(recon) == (17, 48, 32)
    r = run("detokenize", tokens_path, *args, "--precision", "fp16")
    assert r.returncode == 2 and "invalid choice: 'fp16'" in r.stderr
    r = run("tokenize-dataset", "--help")
    assert r.returncode == 0 and "--precision {auto,fp32,bf16}" in r.stdout


def test_curve_command(work, clip_path):
    out = work / "curve"
    r = run(
        "curve",
        clip_path,
        "--model",
        TINY,
        "--out-dir",
        out,
        "--budgets",
        "1,16",
        "--steps",
        2,
        "--guidance",
        2.0,
        "--apg",
        "--max-batch",
        2,
    )
    assert r.returncode == 0, r.stderr
    assert "decoding k=1,16 (step 2/2)" in r.stderr
    lines = (out / "curve.csv").read_text().splitlines()
    assert lines[0] == "k,tokens_per_timestep,total_tokens,bytes,psnr,psnr_pooled,ssim,seconds"
    assert [line.split(",")[:3] for line in lines[1:]] == [["1", "1", "5"], ["16", "16", "80"]]
    html = (out / "curve.html").read_text()
    assert "plotly" in html and len(html) > 1_000_000  # plotly.js embedded: works offline
    assert "<script src=" not in html and '<script type="text/javascript" src=' not in html
    assert frames_of(out / "budget_grid.mp4")[0] == 17
    assert frames_of(out / "side_by_side.mp4")[0] == 17
    with safe_open(str(out / "tokens.safetensors"), framework="pt") as f:
        assert f.get_tensor("tokens").shape == (1, 5, 16)


@pytest.fixture(scope="module")
def other_models(work):
    """A square 32x32 model (different config) and a re-initialised tiny (different weights)."""
    cfg = json.loads((TINY / "config.json").read_text())
    torch.manual_seed(0)
    VideoFlexTok(cfg).save_pretrained(work / "tiny-reinit")
    cfg["vae_video_sizes"] = [5, 4, 4]
    VideoFlexTok(cfg).save_pretrained(work / "square")
    return work / "square", work / "tiny-reinit"


@pytest.mark.parametrize("which, what", [(0, "config"), (1, "weights")])
def test_detokenize_refuses_another_models_tokens(work, tokens_path, other_models, which, what):
    r = run("detokenize", tokens_path, "--model", other_models[which], "--out", work / "x.mp4")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "made with a different model" in lines[0] and f"has {what}" in lines[0]
    assert "--force" in lines[0] and not (work / "x.mp4").exists()


def test_bad_input_exits_2_with_one_line(work):
    r = run("tokenize", work / "missing.mp4", "--model", TINY, "--out", work / "t.safetensors")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"error: {work / 'missing.mp4'}: no such file"]


def _main(capsys, *args):
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize(
    "make_args, fragment",
    [
        (
            lambda w, c, t: ("tokenize", w / "junk.mp4", "--model", TINY, "--out", w / "o"),
            "not a media file",
        ),
        (
            lambda w, c, t: ("tokenize", c, "--model", w / "nowhere", "--out", w / "o"),
            "neither a local checkpoint nor a Hub repo id",
        ),
        (
            lambda w, c, t: ("tokenize", c, "--model", TINY, "--out", w / "o", "--fps", "-1"),
            "fps must be in",
        ),
        (
            lambda w, c, t: ("detokenize", w / "junk.mp4", "--model", TINY, "--out", w / "o.mp4"),
            "not a safetensors tokens file",
        ),
        (
            lambda w, c, t: ("detokenize", t, "--model", TINY, "--out", w / "o.mp4", "--k", 17),
            "--k must be in 1..16",
        ),
        (
            lambda w, c, t: ("curve", c, "--model", TINY, "--out-dir", w, "--budgets", "1,x"),
            "--budgets takes comma-separated ints",
        ),
        (
            lambda w, c, t: ("detokenize", t, "--model", TINY, "--out", w / "o.mp4", "--steps", 0),
            "steps must be an int >= 1, got 0",
        ),
        (
            lambda w, c, t: ("curve", c, "--model", TINY, "--out-dir", w, "--seed", -1),
            "seed must be an int >= 0",
        ),
        (
            lambda w, c, t: (
                "curve",
                c,
                "--model",
                TINY,
                "--out-dir",
                w,
                "--budgets",
                "1,17",
                "--steps",
                1,
            ),
            "budgets must be ints in 1..16",
        ),
    ],
)
def test_bad_input_messages(work, clip_path, tokens_path, capsys, make_args, fragment):
    (work / "junk.mp4").write_text("not a video\n")
    code, err = _main(capsys, *make_args(work, clip_path, tokens_path))
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert fragment in err[0], err[0]


def test_no_model_needs_model_flag(work, clip_path, capsys):
    """The library knows no default model (installed with pip it has no assets/)."""
    out = work / "o.safetensors"
    code, err = _main(capsys, "tokenize", clip_path, "--out", out)
    assert code == 2 and len(err) == 1 and "pass --model" in err[0], err
    assert "assets/demo-model" in err[0] and not out.exists()


@pytest.mark.parametrize("missing", ["plotly", "PIL"])
def test_curve_without_its_packages_says_how_to_install_them(
    work, clip_path, capsys, monkeypatch, missing
):
    monkeypatch.setitem(sys.modules, missing, None)  # `import plotly` raises ImportError
    code, err = _main(capsys, "curve", clip_path, "--model", TINY, "--out-dir", work / "nocurve")
    assert code == 2 and len(err) == 1, err
    assert f"curve needs {missing}" in err[0] and "videoflextok-core[curve]" in err[0]
    assert not (work / "nocurve").exists()


def test_demo_defaults_fill_unset_flags(tmp_path):
    cfg = json.loads((TINY / "config.json").read_text())
    cfg["demo_defaults"] = {"timesteps": 7, "guidance_scale": 3.5, "perform_norm_guidance": True}
    model = VideoFlexTok(cfg)
    args = cli.build_parser().parse_args(["detokenize", "t", "--out", "o", "--steps", "2"])
    assert cli.sampler_settings(args, model) == Sampler(steps=2, guidance=3.5, apg=True, seed=0)
    args = cli.build_parser().parse_args(
        ["detokenize", "t", "--out", "o", "--no-apg", "--seed", "5"]
    )
    assert cli.sampler_settings(args, model) == Sampler(steps=7, guidance=3.5, apg=False, seed=5)
