"""The v2 training campaign's machinery: a warmup-stable-decay schedule that a stage can be
extended on, a VAE stage that resumes into exactly the run it would have been, a clean stop on
SIGTERM, milestones, and the training clips' determinism."""

import json
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from paths import ROOT
from safetensors.torch import save_file

from training.data import SEED_OFFSETS, TrainingClips
from training.schedule import WSD
from training.stage_vae import VaeRecipe, VaeTrainer
from training.state import SessionClock, read_meta
from training.vae_eval import VaeEval
from videoflextok_core.model.vidtok import VidTokSpec

pytestmark = pytest.mark.e2e  # training runs, a SIGTERM'd subprocess

TINY = VaeRecipe(
    spec=VidTokSpec(ch=4, ch_mult=(1, 1, 2, 2), num_res_blocks=1),
    size=32,
    batch=2,
    frames=5,
    short_steps=4,
    long_batch=1,
    long_frames=9,
    warmup=2,
    steps=6,
    decay=2,
)


def test_wsd_warms_up_holds_then_decays_to_its_floor():
    s = WSD(peak=1e-3, warmup=10, total=100, decay=20, floor=0.1)
    assert s.lr(0) == pytest.approx(1e-4) and s.lr(9) == pytest.approx(1e-3)
    assert s.lr(10) == s.lr(79) == 1e-3
    assert s.lr(90) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert s.lr(100) == pytest.approx(1e-4)
    with pytest.raises(ValueError):
        WSD(1e-3, 10, 20, 15)


def test_an_extended_schedule_is_the_same_until_its_decay():
    short, long = WSD(1e-3, 10, 100, 20), WSD(1e-3, 10, 100, 20).extended(300)
    assert [short.lr(i) for i in range(80)] == [long.lr(i) for i in range(80)]
    assert long.decay_start == 280 and long.lr(299) < long.lr(279)


def _evaluator():
    return VaeEval(photos=[], procedural=1, others=1, size=32)


def _train(run, sessions: int | None, evaluator, log=lambda **r: None):
    """Run TINY to the end; with `sessions`, in that many sessions of one step each, each a new
    trainer that resumes from the saved state (the clock's budget is spent after one step)."""
    if sessions is None:
        t = VaeTrainer(TINY, [], bf16=False)
        assert t.run_session(run, SessionClock(None), log, evaluator, eval_every=1000)
        return t
    for _ in range(sessions):
        t = VaeTrainer(TINY, [], bf16=False)
        state = run / "vae" / "state.safetensors"
        if state.is_file():
            t.resume(state)
        t.run_session(run, SessionClock(session_minutes=0.0), log, evaluator, eval_every=1000)
    return t


def test_a_stage_resumed_every_step_is_the_uninterrupted_run(tmp_path):
    evaluator = _evaluator()
    whole = _train(tmp_path / "a", None, evaluator)
    pieces = _train(tmp_path / "b", TINY.steps, evaluator)
    assert whole.state.step == pieces.state.step == TINY.steps
    assert whole.state.samples == pieces.state.samples == 4 * 2 + 2 * 1  # then 9-frame clips
    for k, p in whole.state.params.items():
        assert torch.equal(p, pieces.state.params[k]), k
        assert torch.equal(whole.state.ema[k], pieces.state.ema[k]), k
    for sa, sb in zip(whole.opt.state.values(), pieces.opt.state.values()):
        assert torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    # what the stage leaves behind: the state, the decay's snapshot and the EMA weights
    for run in ("a", "b"):
        names = sorted(p.name for p in (tmp_path / run / "vae").iterdir())
        assert names == ["final.safetensors", "stable.safetensors", "state.safetensors"]
    assert read_meta(tmp_path / "b" / "vae" / "stable.safetensors")["counters"]["step"] == 4


def test_the_kl_weight_is_per_pixel_value():
    # latent-diffusion's convention against our mean reconstruction loss (v1's was 1e-6 alone)
    assert TINY.kl_factor(values=1000) == pytest.approx(1e-9)
    assert TINY.kl_factor(values=3 * 17 * 64 * 64) == pytest.approx(1e-6 / 208_896)


def test_a_resume_refuses_another_recipe(tmp_path):
    _train(tmp_path, 1, _evaluator())
    other = VaeTrainer(replace(TINY, lr=1e-3), [], bf16=False)
    with pytest.raises(ValueError, match="lr=0.0001"):
        other.resume(tmp_path / "vae" / "state.safetensors")


def test_a_lost_state_restarts_from_its_milestone(tmp_path):
    """A new machine: the stage restarts from the committed fp16 EMA weights and its counters,
    with an empty optimiser, and trains on from there on the clips it would have drawn."""
    from training.stage_vae import load_milestone_weights
    from training.state import write_milestone

    t = _train(tmp_path, 3, _evaluator())  # three sessions of one step
    milestone = tmp_path / "milestones" / "v2_vae.safetensors"
    counters = write_milestone(tmp_path / "vae" / "state.safetensors", milestone, "vae")
    assert counters["step"] == 3 and read_meta(milestone)["stage"] == "vae"
    fresh = VaeTrainer(TINY, [], bf16=False)
    load_milestone_weights(fresh, milestone, counters["step"])
    st = fresh.state
    assert (st.step, st.samples) == (3, t.state.samples) and not fresh.opt.state
    for k, p in st.params.items():
        assert p.dtype == torch.float32
        assert torch.equal(p, t.state.ema[k].half().float()), k
        assert torch.equal(st.ema[k], p), k
    clock = SessionClock(session_minutes=0.0)
    fresh.run_session(tmp_path / "new", clock, lambda **r: None, _evaluator(), eval_every=99)
    assert st.step == 4 and st.samples == t.state.samples + 2  # the next short clips


def test_training_clips_are_a_function_of_their_index():
    clips = TrainingClips(1, photos=[])
    a, b = clips.batch(10, 3, 5, 32), clips.batch(10, 3, 5, 32)
    assert a.shape == (3, 3, 5, 32, 32) and torch.equal(a, b)
    assert torch.equal(clips.batch(11, 1, 5, 32)[0], a[1])
    assert not torch.equal(TrainingClips(2, photos=[]).batch(10, 1, 5, 32)[0], a[0])
    kinds = [clips.source(i)[0] for i in range(400)]
    assert "photo" not in kinds  # no photographs given: their share goes to the others
    with_photos = TrainingClips(1, photos=[np.full((64, 64, 3), 0.5, np.float32)])
    share = np.mean([with_photos.source(i)[0] == "photo" for i in range(400)])
    assert 0.25 < share < 0.45


def test_training_seeds_stay_clear_of_the_held_out_ones():
    from training.config import EVAL_SEED_BASE

    clips = TrainingClips(1, photos=[])
    seeds = [clips.source(i)[1] for i in range(1000)]
    assert min(seeds) >= min(SEED_OFFSETS.values()) > EVAL_SEED_BASE + 10_000


def test_sigterm_saves_and_stops_cleanly(tmp_path):
    cmd = [sys.executable, "-m", "training.campaign", "vae", "--run", str(tmp_path)]
    cmd += ["--precision", "fp32", "--steps", "1000", "--eval-every", "100000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    for line in proc.stdout:  # wait until the session has started (signals are handled)
        lines.append(line.decode())
        if "stage=vae_session " in lines[-1]:
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=600)  # it finishes the step under way, saves, returns
    assert proc.returncode == 75, "".join(lines) + rest.decode()  # saved, stopped, not done
    state = read_meta(tmp_path / "vae" / "state.safetensors")
    assert state["counters"]["step"] >= 1  # the step under way is finished, then saved
    records = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert records[-1]["stage"] == "vae_session_end" and not records[-1]["done"]


def test_latent_scale_folds_exactly_into_the_vae():
    from training.stage_vae import fold_latent_scale, new_vae

    vae = new_vae(TINY.spec, seed=3).eval()
    video = TrainingClips(1, photos=[]).batch(0, 2, 5, 32)
    with torch.no_grad():
        mean0, std0 = vae.posterior(video)
        recon0 = vae.decode(mean0)
        scale = torch.linspace(0.5, 4.0, TINY.spec.z_channels)
        fold_latent_scale(vae, scale)
        mean1, std1 = vae.posterior(video)
        recon1 = vae.decode(mean1)
    s = scale.view(1, -1, 1, 1, 1)
    assert torch.allclose(mean1 * s, mean0, atol=1e-5, rtol=1e-4)
    assert torch.allclose(std1 * s, std0, atol=1e-6, rtol=1e-4)
    assert (recon1 - recon0).abs().max() < 1e-4


def test_the_stages_after_the_vae_run_resume_and_export(tmp_path):
    """The full-size v2 VAE (random weights stand in for the trained ones) and the v1-shaped
    resampler, at toy counts, through the real CLI: cache the latents; train the resampler,
    stop, resume, evaluate; fine-tune the VAE decoder on its outputs; take a milestone; tune the
    demo sampler and export the model in fp16."""
    from safetensors.torch import load_file, save_file

    from training.stage_vae import new_vae
    from videoflextok_core.model import VideoFlexTok

    (tmp_path / "vae").mkdir()
    vae = new_vae(VaeRecipe().spec, seed=0)
    save_file(vae.state_dict(), str(tmp_path / "vae" / "final.safetensors"))
    base = [sys.executable, "-m", "training.campaign", "--run", str(tmp_path)]
    base += ["--precision", "fp32"]

    def run(*args, status=0):
        out = subprocess.run(base + list(args), cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == status, out.stdout + out.stderr
        return [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]

    run("latents", "--clips", "40")
    shards = list((tmp_path / "latents").glob("shard_*.safetensors"))
    assert len(shards) == 1
    records = run(
        "resampler", "--steps", "4", "--session-minutes", "0", "--eval-every", "1000", status=75
    )  # stopped before its end: a chain of stages stops there too
    assert records[-1]["stage"] == "resampler_session_end" and records[-1]["step"] == 1
    assert "shipped v1" in [r for r in records if r["stage"] == "resampler_session"][-1]["how"]
    records = run("resampler", "--steps", "4", "--eval-every", "1000")
    assert [r for r in records if r["stage"] == "resampler_session"][-1]["how"].startswith(
        "resumed at step 1"
    )
    ev = [r for r in records if r["stage"] == "resampler_eval"][-1]
    assert ev["step"] == 4 and set(ev["procedural"]) == {"1", "4", "16", "64"}
    assert all(0 < v < 60 for v in ev["procedural"].values())
    assert records[-1]["done"] is True

    # Stage 3: the VAE decoder on the resampler's outputs; its baseline is evaluated first.
    records = run("decoder", "--steps", "2", "--eval-every", "1000")
    evals = [r for r in records if r["stage"] == "decoder_eval"]
    assert [e["step"] for e in evals] == [0, 2] and records[-1]["done"] is True
    assert evals[0]["procedural"] != evals[1]["procedural"]  # the decoder changed
    assert all(0 < e["vae_alone"] < 60 for e in evals)
    final = load_file(str(tmp_path / "decoder" / "final.safetensors"))
    assert final and all(k.startswith("decoder.") for k in final)

    # A milestone of the resampler stage: fp16 EMA trunks, with the stage's counters.
    run("milestone", "--stage", "resampler", "--milestones", str(tmp_path / "milestones"))
    milestone = tmp_path / "milestones" / "v2_resampler.safetensors"
    assert read_meta(milestone)["counters"]["step"] == 4
    weights = load_file(str(milestone))
    assert {v.dtype for v in weights.values()} == {torch.float16}
    assert {k.split(".")[0] for k in weights} == {"encoder", "decoder"}

    # Stage 4: tune (a 2 x 2 grid), export in fp16, load it back.
    out = tmp_path / "demo-model"
    records = run("finish", "--out", str(out), "--tune-clips", "2", "--tune-steps", "1", "2",
                  "--tune-guidance", "1", "2")  # fmt: skip
    assert len([r for r in records if r["stage"] == "finish_tune"]) == 4
    done = records[-1]
    assert done["stage"] == "finish" and done["round_trip_ok"] is True
    assert abs(done["float32_db"] - done["exported_db"]) <= 0.02
    stored = load_file(str(out / "model.safetensors"))
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    model = VideoFlexTok.from_pretrained(out, device="cpu")
    sampler = model.config.demo_sampler()
    assert (sampler.steps, sampler.guidance) == (done["steps"], done["guidance"])
    assert next(model.parameters()).dtype == torch.float32
    summary = json.loads((out / "training_log.json").read_text())
    assert summary["stages"]["resampler"]["steps"] == 4
    assert summary["stages"]["decoder"]["steps"] == 2
    assert summary["fp16_round_trip_db"]["exported"] == round(done["exported_db"], 4)


def test_status_prints_every_stage_s_progress_tables(tmp_path, capsys):
    """The README's progress tables, from a log in the shape the stages write."""
    from training.campaign import main

    records = [
        {"stage": "vae", "step": 500, "hours": 0.32},
        {"stage": "vae_eval", "step": 500, "procedural": 18.46, "natural": 20.34, "photo": 18.48,
         "real_mean": 16.69, "real_porsche": 15.9, "real_orig_clip": 18.02,
         "real_bbb_1_wakes_up": 16.0, "real_bbb_2_close_up": 17.0},
        {"stage": "resampler", "step": 500, "hours": 0.18},
        {"stage": "resampler_eval", "step": 500,
         "procedural": {"1": 15.1, "4": 16.2, "16": 18.3, "64": 19.4},
         "real": {"1": 12.1, "4": 13.2, "16": 14.3, "64": 15.4}},
        {"stage": "decoder_eval", "step": 0, "vae_alone": 24.0,
         "procedural": {"1": 15.0, "4": 16.0, "16": 18.0, "64": 19.0}, "real": {}},
    ]  # fmt: skip
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    # a saved state carries its counters; a stage's final weights carry no metadata at all
    (tmp_path / "vae").mkdir()
    counters = {"step": 12000, "samples": 52800, "seconds": 3.5}
    save_file({"w": torch.zeros(2)}, str(tmp_path / "vae" / "state.safetensors"),
              metadata={"counters": json.dumps(counters)})  # fmt: skip
    save_file({"w": torch.zeros(2)}, str(tmp_path / "vae" / "final.safetensors"))
    assert main(["status", "--run", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "final.safetensors (weights only)" in out
    assert f"state.safetensors {counters}" in out
    assert "| 500 | 0.32 | 18.46 | 20.34 | 18.48 | 16.69 | 15.90 | 18.02 | 16.50 |" in out
    assert "| Resampler step | training hours | procedural k=1 |" in out
    assert "| 500 | 0.18 | 15.10 | 16.20 | 18.30 | 19.40 | 12.10 | 13.20 | 14.30 | 15.40 |" in out
    assert "| 0 | 0.00 | 15.00 | 16.00 | 18.00 | 19.00 | - | - | - | - |" in out
