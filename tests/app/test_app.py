"""The app's named API with gradio_client against a real server (`python app.py`, tiny model
at start-up, the demo model as a second choice: `--models`).

The tiny reference checkpoint has random weights, 32x48 frames and 16 tokens per latent frame
(the demo model: 64x64, 64 tokens), so nothing here judges quality: formats, sizes, frame
counts, messages and the queue settings.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.request

import av
import numpy as np
import pytest
from app_server import TINY, running_app
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from paths import ROOT
from PIL import Image

from demo.paths import DEMO_MODEL
from videoflextok_core.curve import CSV_COLUMNS
from videoflextok_core.media.compose import side_by_side
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.identity import config_hash
from videoflextok_core.tokenfile import read_tokens, save_tokens

pytestmark = pytest.mark.e2e  # a real Gradio server per module, gradio_client

EXAMPLE = ROOT / "assets" / "examples" / "scene_1_seed1000003.mp4"
STEPS = 2  # denoising steps: the tests check plumbing, not pictures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    models = f"{TINY},{DEMO_MODEL}"
    flags = ("--no-warm-up", "--models", models, "--precision", "fp32")
    with running_app(tmp, *flags, model=str(TINY)) as (url, _):
        yield url


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return Client(server, verbose=False, download_files=tmp_path_factory.mktemp("downloads"))


def frames_of(path) -> np.ndarray:
    """Decoded RGB frames (T, H, W, 3) of an mp4, with PyAV."""
    with av.open(str(path)) as f:
        return np.stack([fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)])


def reconstruct(client, k, video=EXAMPLE, seed=0):
    return client.predict(
        handle_file(str(video)), k, 20.0, STEPS, seed, True, api_name="/reconstruct"
    )


def test_precision_flag_reaches_the_page(server):
    """`--precision fp32`: the notice and the model line say so (the page's config)."""
    with urllib.request.urlopen(server + "config", timeout=10) as r:
        page = r.read().decode()
    assert page.count("fp32 (fp32: asked)") >= 2, page[:2000]
    assert "tokenize in fp32" in page


def test_named_api(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/tokenize", "/reconstruct", "/curve", "/seeds", "/decode_tokens"} <= names, names


def test_no_google_fonts(server):
    with urllib.request.urlopen(server + "theme.css", timeout=10) as r:
        css = r.read().decode()
    assert "googleapis" not in css and "ui-sans-serif" in css


def test_tokenize(client):
    path, info = client.predict(handle_file(str(EXAMPLE)), 0, 17, api_name="/tokenize")
    tokens, meta = read_tokens(path)
    assert tokens.shape == (1, 5, 16)
    model = VideoFlexTok.from_pretrained(TINY, device="cpu")
    assert meta["model_config_hash"] == config_hash(model.config)
    assert meta["frames"] == "17" and meta["kind"] == "videoflextok-tokens"
    assert {"decode_k", "decode_timesteps", "decode_guidance_scale"} <= set(meta)
    assert "5 timesteps × 16 tokens" in info


def test_reconstruct(client):
    video, stats = reconstruct(client, 16)
    frames = frames_of(video)
    blank = np.zeros((17, 32, 48, 3), np.uint8)
    captions = ["original", "reconstruction · k=16 · 80 tokens", "|error|"]
    assert frames.shape == side_by_side([blank] * 3, captions).shape  # 17 frames, 3 panels
    assert "5 timesteps × 16 tokens = 80 tokens" in stats and "bits/token" in stats
    assert "smaller than the raw 8-bit clip (78,336 bytes)" in stats

    video1, stats1 = reconstruct(client, 1)
    assert "5 timesteps × 1 token = 5 tokens" in stats1
    other = frames_of(video1)
    third = frames.shape[2] // 3
    middle = np.s_[:, 40:, third + 4 : 2 * third - 4]  # the reconstruction panel
    assert np.abs(frames[middle].astype(int) - other[middle].astype(int)).mean() > 1.0

    again, stats_again = reconstruct(client, 16)  # a decoded k answers from the cache
    assert "cached" in stats_again


def test_curve(client):
    csv_path, plot = client.predict(handle_file(str(EXAMPLE)), 20.0, STEPS, 0, api_name="/curve")
    lines = open(csv_path).read().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "4", "8", "16"]
    figure = json.loads(plot["plot"])
    assert figure["data"][0]["x"] == [1, 2, 4, 8, 16]
    assert figure["layout"]["xaxis"]["type"] == "log"


def test_decode_tokens_file(client, tmp_path):
    path, _ = client.predict(handle_file(str(EXAMPLE)), 0, 17, api_name="/tokenize")
    video, stats = client.predict(
        handle_file(path), 4, 20.0, STEPS, 0, True, api_name="/decode_tokens"
    )
    assert frames_of(video).shape == (17, 32, 48, 3)
    assert "5 timesteps × 4 tokens = 20 tokens" in stats

    tokens, meta = read_tokens(path)
    foreign = save_tokens(
        tmp_path / "other.tokens.safetensors",
        tokens,
        {**meta, "model_config_hash": "0123456789abcdef"},
    )
    with pytest.raises(AppError, match="was made with a different model"):
        client.predict(
            handle_file(str(foreign)), 4, 20.0, STEPS, 0, True, api_name="/decode_tokens"
        )


def test_seeds(client):
    grid, image, stats = client.predict(
        handle_file(str(EXAMPLE)), 4, 20.0, STEPS, 3, True, 3, api_name="/seeds"
    )
    captions = ["original", "seed 3", "seed 4"]
    blank = np.zeros((17, 32, 48, 3), np.uint8)
    row = side_by_side([blank] * 3, captions)  # original, seeds 3-5, spread: two rows of three
    assert frames_of(grid).shape == (17, 2 * row.shape[1] + 4, row.shape[2], 3)
    with Image.open(image) as png:
        assert png.size == (384, 256)  # 32x48 enlarged 8x to the display height
    assert "k=4 (5 timesteps × 4 tokens), seeds 3..5 · mean spread" in stats
    _, _, again = client.predict(
        handle_file(str(EXAMPLE)), 4, 20.0, STEPS, 3, True, 3, api_name="/seeds"
    )
    assert "cached" in again and again.split(" · ")[1] == stats.split(" · ")[1]  # same spread


def test_second_model_by_name(client):
    """The API's optional `model`: the clip is read at the chosen model's size (64x64, 64
    tokens per timestep), and k ranges to that model's N."""
    clip = handle_file(str(EXAMPLE))
    path, info = client.predict(clip, 0, 17, "assets/demo-model", api_name="/tokenize")
    tokens, meta = read_tokens(path)
    assert tokens.shape == (1, 5, 64) and "64×64" in info
    video, stats = client.predict(
        clip, 32, 8.0, STEPS, 0, True, 0, 17, "assets/demo-model", api_name="/reconstruct"
    )
    assert frames_of(video).shape[0] == 17 and "5 timesteps × 32 tokens = 160 tokens" in stats
    assert "(208,896 bytes)" in stats  # 17 x 64 x 64 x 3
    _, _, seeds = client.predict(
        clip, 32, 8.0, STEPS, 0, True, 2, 0, 17, "assets/demo-model", api_name="/seeds"
    )
    assert "k=32 (5 timesteps × 32 tokens), seeds 0..1" in seeds
    _, tiny = reconstruct(client, 4)  # the default is still the start-up model
    assert "5 timesteps × 4 tokens" in tiny and "(78,336 bytes)" in tiny


def test_decode_tokens_refuses_a_long_file_and_keeps_serving(client, tmp_path):
    """The 4,001-timestep file of the issue (a real file's first timestep repeated, metadata
    valid) is answered with a message before any decoding; the next request is served."""
    path, _ = client.predict(handle_file(str(EXAMPLE)), 0, 17, api_name="/tokenize")
    tokens, meta = read_tokens(path)
    assert meta["source"] == EXAMPLE.name and not meta["model_ref"].startswith("/")
    long = save_tokens(tmp_path / "long.safetensors", tokens[:, :1, :1].repeat(1, 4001, 1), meta)
    with pytest.raises(AppError, match="holds 4001 timesteps; this app decodes at most"):
        client.predict(handle_file(str(long)), 1, 20.0, STEPS, 0, True, api_name="/decode_tokens")
    video, stats = client.predict(
        handle_file(path), 4, 20.0, STEPS, 0, True, api_name="/decode_tokens"
    )
    assert frames_of(video).shape == (17, 32, 48, 3)


def _audio_only(path):
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    "make, api, args, fragment",
    [
        (lambda p: p.write_text("not a video") and p, "/reconstruct", (4,), "not a media file"),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()[:3000]) and p,
            "/reconstruct",
            (4,),
            "junk.mp4",
        ),
        (_audio_only, "/reconstruct", (4,), "has no video stream"),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()) and p,
            "/tokenize",
            (100.0, 17),
            "beyond the end",
        ),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()) and p,
            "/reconstruct",
            (99,),
            "k (tokens per timestep) must be in 1..16, got 99",  # the tiny model's N
        ),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()) and p,
            "/reconstruct",
            (65, 8.0, STEPS, 0, True, 0, 17, "assets/demo-model"),
            "k (tokens per timestep) must be in 1..64, got 65",  # the demo model's N
        ),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()) and p,
            "/seeds",
            (4, 20.0, STEPS, 0, True, 9),
            "greater than maximum value 8",
        ),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()) and p,
            "/seeds",
            (4, 20.0, STEPS, 2**63 - 2, True, 4),
            "seeds 9223372036854775806..9223372036854775809 go beyond",
        ),
        (
            lambda p: p.write_bytes(EXAMPLE.read_bytes()) and p,
            "/seeds",
            (4, 20.0, STEPS, 0, True, 2, 0, 17, "nope"),
            "nope is not in the list of choices: ['tiny', 'assets/demo-model']",
        ),
        (lambda p: p.write_text("junk") and p, "/decode_tokens", (4,), "Invalid file type"),
        (
            lambda p: (p := p.with_suffix(".safetensors")).write_text("junk") and p,
            "/decode_tokens",
            (4,),
            "junk.safetensors: not a safetensors tokens file",
        ),
    ],
)
def test_bad_input_gives_message_and_app_keeps_serving(client, tmp_path, make, api, args, fragment):
    bad = make(tmp_path / "junk.mp4")
    with pytest.raises(AppError) as e:
        client.predict(handle_file(str(bad)), *args, api_name=api)
    assert fragment in str(e.value) and "Traceback" not in str(e.value), str(e.value)
    _, stats = reconstruct(client, 2)  # the next request works
    assert "5 timesteps × 2 tokens" in stats


def test_bad_model_exits_with_one_line():
    cmd = [sys.executable, "app.py", "--model", "nowhere", "--port", "1"]
    r = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: 'nowhere' is neither")


def test_space_front_matter():
    """README.md starts with the Space's YAML; sdk_version is the pinned gradio."""
    import yaml

    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    pinned = next(
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("gradio==")
    )
    assert meta["sdk"] == "gradio" and f"gradio=={meta['sdk_version']}" == pinned
    assert (ROOT / meta["app_file"]).is_file() and len(meta["short_description"]) <= 60
    assert "EPFL-VILAB/videoflextok_d18_d28" in meta["models"]


OFFLINE = """
import subprocess, sys
from pathlib import Path
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)  # a new namespace: loopback only
sys.path[:0] = [{tests!r}, {tests!r} + "/app", {root!r}]
from app_server import running_app
from gradio_client import Client, handle_file
with running_app(Path({tmp!r}), "--no-warm-up") as (url, _):
    client = Client(url, verbose=False)
    print(client.predict(handle_file({clip!r}), 4, 20.0, 2, 0, True, api_name="/reconstruct")[1])
"""


def test_serves_without_network(tmp_path):
    """The app starts and answers in a network namespace with nothing but loopback."""
    tools = shutil.which("ip") and shutil.which("unshare")
    if not tools or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("needs `unshare -n` (root) and `ip` to run without a network")
    script = OFFLINE.format(
        tests=str(ROOT / "tests"), root=str(ROOT), tmp=str(tmp_path), clip=str(EXAMPLE)
    )
    r = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "5 timesteps × 4 tokens = 20 tokens" in r.stdout, r.stdout
