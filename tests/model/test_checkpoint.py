"""Loading: key mapping, strictness, the three ways to name a checkpoint, the Hub cache path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from paths import REFERENCE, ROOT, TINY
from safetensors.torch import load_file, save_file

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.checkpoint import (
    KEY_MAP,
    CheckpointError,
    official_to_ours,
    ours_to_official,
)
from videoflextok_core.model.config import parse_config


def read_keys(path: Path) -> dict[str, tuple[int, ...]]:
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, shape = line.split("\t")[:2]
        out[name] = tuple(json.loads(shape))
    return out


def official_shapes(model: VideoFlexTok) -> dict[str, tuple[int, ...]]:
    return {ours_to_official(k): tuple(v.shape) for k, v in model.state_dict().items()}


def test_real_config_builds_on_meta_with_exact_keys_and_shapes():
    cfg = parse_config((REFERENCE / "real_config_inferred.json").read_text())
    with torch.device("meta"):
        model = VideoFlexTok(cfg)
    expected = read_keys(REFERENCE / "real_config_inferred_keys.txt")
    assert official_shapes(model) == expected
    assert sum(v.numel() for v in model.state_dict().values()) == 2_695_078_509


def test_tiny_keys_match_keys_txt():
    with torch.device("meta"):
        model = VideoFlexTok((TINY / "config.json").read_text())
    assert official_shapes(model) == read_keys(TINY / "keys.txt")


def test_key_map_round_trip():
    names = list(read_keys(REFERENCE / "real_config_inferred_keys.txt"))
    for name in names:
        assert ours_to_official(official_to_ours(name)) == name
    assert official_to_ours("video_tokenizer.vae.vidtok.encoder.conv_in.conv.weight") == (
        "vae.encoder.conv_in.conv.weight"
    )
    assert official_to_ours("video_tokenizer.decoder.module_dict.x.y") == "decoder.module_dict.x.y"
    assert len(KEY_MAP) == 2
    with pytest.raises(CheckpointError, match="video_tokenizer"):
        official_to_ours("decoder.module_dict.x.y")


def _tampered_copy(tmp_path: Path) -> Path:
    state = load_file(TINY / "model.safetensors")
    del state["video_tokenizer.decoder.module_dict.dec_latent_dropout.nullcond"]
    state["video_tokenizer.decoder.module_dict.extra.weight"] = torch.zeros(3)
    w = "video_tokenizer.encoder.module_dict.enc_to_latents.proj.weight"
    state[w] = torch.zeros(7, 64)
    out = tmp_path / "bad"
    out.mkdir()
    (out / "config.json").write_text((TINY / "config.json").read_text())
    save_file(state, str(out / "model.safetensors"))
    return out


def test_strict_load_lists_every_problem_in_one_error(tmp_path):
    with pytest.raises(CheckpointError) as e:
        VideoFlexTok.from_pretrained(_tampered_copy(tmp_path), device="cpu")
    msg = str(e.value)
    assert "1 missing tensors" in msg and "dec_latent_dropout.nullcond" in msg
    assert "1 unexpected tensors" in msg and "module_dict.extra.weight" in msg
    assert "wrong shape" in msg and "checkpoint (7, 64), config (6, 64)" in msg


@torch.inference_mode()
def _decode_once(model: VideoFlexTok) -> torch.Tensor:
    g = load_file(TINY / "golden.safetensors")
    return model.decoder(
        g["decoder_fwd_quants"], g["decoder_fwd_noised_input"], torch.tensor([0.5])
    )


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    # Same weights, but memory alignment of the loaded buffers may pick other GEMM kernels.
    return (a - b).abs().max().item() < 1e-5


def test_directory_and_single_file_routes_agree(tmp_path):
    ref = VideoFlexTok.from_pretrained(TINY, device="cpu")
    single = ref.save_single_file(tmp_path / "tiny.safetensors")
    again = VideoFlexTok.from_pretrained(single, device="cpu")
    assert same(_decode_once(ref), _decode_once(again))
    saved = ref.save_pretrained(tmp_path / "dir")
    # config.json keeps execution order (not alphabetical: enc_to_latents runs last)
    enc = json.loads((saved / "config.json").read_text())["video_flex_tok"]["encoder"]
    assert list(enc["module_dict"])[-1] == "enc_to_latents"
    assert same(_decode_once(ref), _decode_once(VideoFlexTok.from_pretrained(saved)))


def test_single_file_with_upstream_style_metadata(tmp_path):
    """Upstream's save_safetensors(state_dict, path, metadata_dict=config) writes str(value):
    Python literals; with a bare model node the keys have no 'video_tokenizer.' prefix."""
    cfg = json.loads((TINY / "config.json").read_text())
    state = load_file(TINY / "model.safetensors")
    bare = {k[len("video_tokenizer.") :]: v for k, v in state.items()}
    node = cfg["video_flex_tok"]
    meta = {k: str(v) for k, v in node.items()}  # Python repr: None, True, single quotes
    path = tmp_path / "bare.safetensors"
    save_file(bare, str(path), metadata=meta)
    # the bare node has no chunking entries, so the VAE size overrides must come along:
    with pytest.raises(CheckpointError):  # tiny weights do not fit the default VidTok widths
        VideoFlexTok.from_pretrained(path, device="cpu")
    meta = {k: str(v) for k, v in cfg.items()}
    path = tmp_path / "hub_level.safetensors"
    save_file(state, str(path), metadata=meta)
    model = VideoFlexTok.from_pretrained(path, device="cpu")
    ref = VideoFlexTok.from_pretrained(TINY, device="cpu")
    assert same(_decode_once(ref), _decode_once(model))


def test_refuses_non_safetensors_and_unknown_refs(tmp_path):
    pickle_file = tmp_path / "model.bin"
    pickle_file.write_bytes(b"\x80\x04not really")
    with pytest.raises(CheckpointError, match="safetensors"):
        VideoFlexTok.from_pretrained(pickle_file)
    with pytest.raises(CheckpointError, match="neither"):
        VideoFlexTok.from_pretrained(str(tmp_path / "missing" / "dir"))
    with pytest.raises(CheckpointError, match="config.json"):
        VideoFlexTok.from_pretrained(tmp_path)
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(1)}, str(plain))
    with pytest.raises(CheckpointError, match="no VideoFlexTok config"):
        VideoFlexTok.from_pretrained(plain)


def _run_offline(hf_home: Path, repo: str) -> subprocess.CompletedProcess:
    code = (
        "import torch, sys\n"
        "from videoflextok_core.model import VideoFlexTok\n"
        "from videoflextok_core.model.checkpoint import CheckpointError\n"
        "try:\n"
        f"    m = VideoFlexTok.from_pretrained({repo!r}, device='cpu')\n"
        "    print('LOADED', m.n_registers, m.resolution)\n"
        "except CheckpointError as e:\n"
        "    print('ERROR', e)\n"
    )
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.e2e  # a subprocess
def test_hub_repo_id_from_the_huggingface_cache_offline(tmp_path):
    """The real huggingface_hub download path, served from a cache in the Hub's own layout."""
    repo = tmp_path / "hub" / "models--test-org--videoflextok_tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name in ("config.json", "model.safetensors"):
        (snap / name).write_bytes((TINY / name).read_bytes())
    out = _run_offline(tmp_path, "test-org/videoflextok_tiny")
    assert "LOADED 16 (32, 48)" in out.stdout, out.stdout + out.stderr
    out = _run_offline(tmp_path, "test-org/not_cached")
    assert "ERROR" in out.stdout and "offline" in out.stdout, out.stdout + out.stderr
