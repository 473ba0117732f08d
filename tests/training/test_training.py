"""The demo model's training code (training/): one optimisation step, resuming, and the whole
pipeline at toy step counts writing a checkpoint that `from_pretrained` loads as it is."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from paths import ROOT
from safetensors.torch import load_file

from training.config import QUICK, DemoConfig, hub_config
from training.train_resampler import Trainer
from training.train_vae import finetune_decoder
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.config import parse_config

pytestmark = pytest.mark.e2e  # the training pipeline


def _model_and_config():
    c = replace(DemoConfig(), **QUICK)
    torch.manual_seed(0)
    model = VideoFlexTok(hub_config(c))
    for p in model.vae.parameters():
        p.requires_grad_(False)
    return model.train(), c


def _latents(c, n=4):
    g = torch.Generator().manual_seed(1)
    t, h = (c.chunk - 1) // 4 + 1, c.size // 8
    return torch.randn(n, 16, t, h, h, generator=g), 0.1 * torch.ones(n, 16, t, h, h)


def test_a_step_changes_the_resampler_and_returns_a_finite_loss():
    model, c = _model_and_config()
    mean, std = _latents(c)
    trainer = Trainer(model, c)
    before = {k: p.detach().clone() for k, p in trainer.params.items()}
    loss = trainer.train_step(mean, std)
    assert loss.ndim == 0 and torch.isfinite(loss)
    changed = [k for k, p in trainer.params.items() if not torch.equal(p, before[k])]
    assert any(k.startswith("encoder.") for k in changed)  # gradients reach the encoder (STE)
    assert any(k.startswith("decoder.") for k in changed)
    # EMA moved towards the new weights but not onto them (decay (1 + 0) / (10 + 0) = 0.1)
    k = changed[0]
    assert not torch.equal(trainer.ema[k], before[k])
    assert not torch.equal(trainer.ema[k], trainer.params[k])


def test_saving_and_resuming_continues_the_same_run(tmp_path):
    mean, std = _latents(replace(DemoConfig(), **QUICK))
    model_a, c = _model_and_config()
    a = Trainer(model_a, c)
    a.train_step(mean, std)
    a.save(tmp_path / "state.safetensors")
    a.train_step(mean, std)

    model_b, _ = _model_and_config()
    b = Trainer(model_b, c)
    b.load(tmp_path / "state.safetensors")
    assert b.step == 1 and b.total_steps == a.total_steps
    b.train_step(mean, std)
    for k, p in a.params.items():
        torch.testing.assert_close(b.params[k], p, rtol=0, atol=1e-6)
        torch.testing.assert_close(b.ema[k], a.ema[k], rtol=0, atol=1e-6)


def test_lr_warms_up_then_follows_the_cosine_to_five_percent():
    model, c = _model_and_config()
    trainer = Trainer(model, replace(c, rs_warmup=10), total_steps=110)
    lrs = []
    for step in range(111):
        trainer.step = step
        lrs.append(trainer.lr())
    assert lrs[0] == pytest.approx(c.rs_lr / 10)
    assert lrs[9] == pytest.approx(c.rs_lr)
    assert all(b <= a + 1e-12 for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[110] == pytest.approx(0.05 * c.rs_lr)


def test_decoder_finetune_leaves_the_encoder_and_so_the_latents_alone():
    model, c = _model_and_config()
    c = replace(c, dec_finetune_steps=2, dec_finetune_batch=2)
    vae = model.vae
    encoder = {k: v.clone() for k, v in vae.encoder.state_dict().items()}
    decoder = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    finetune_decoder(vae, c, log=lambda **record: None)
    assert all(torch.equal(v, encoder[k]) for k, v in vae.encoder.state_dict().items())
    assert any(not torch.equal(v, decoder[k]) for k, v in vae.decoder.state_dict().items())
    assert not any(p.requires_grad for p in vae.parameters())  # frozen again afterwards


PIPELINE_TIMEOUT = 1800  # s: a guard against a hang, not a speed check (a "2-minute" quick run
# took 475-600 s here, on two cores shared with another training run and a second test worker)


def test_train_demo_pipeline_writes_a_loadable_hub_checkpoint(tmp_path):
    out, work = tmp_path / "model", tmp_path / "work"
    cmd = [
        sys.executable,
        "-m",
        "training.train_demo",
        "--out",
        str(out),
        "--work",
        str(work),
        "--quick",
        "--rs-steps",
        "4",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=PIPELINE_TIMEOUT)
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "model.safetensors",
        "training_log.json",
    }
    cfg = json.loads((out / "config.json").read_text())
    model = VideoFlexTok.from_pretrained(out, device="cpu")
    assert parse_config(cfg).raw_dict == cfg
    log = json.loads((out / "training_log.json").read_text())
    assert log["demo_defaults"] == cfg["demo_defaults"]
    assert set(log["heldout_psnr_by_k"]) == {"1", "2", "4", "8", "16", "32", "64"}
    # stage 3 left the EMA weights, which are the shipped encoder/decoder
    weights = load_file(work / "resampler.safetensors")
    for k, v in model.decoder.state_dict().items():
        assert torch.equal(weights[f"decoder.{k}"], v)

    # Re-running resumes: no stage trains again, the same checkpoint comes out.
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=PIPELINE_TIMEOUT)
    records = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    second = records[max(i for i, r in enumerate(records) if r["stage"] == "start") :]
    assert "resampler_loaded" in {r["stage"] for r in second}
    assert not any(r["stage"] in ("vae", "resampler", "encode") for r in second)
    again = VideoFlexTok.from_pretrained(out, device="cpu")
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v)
