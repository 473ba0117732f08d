"""benchmarks/gpu_check.py, the one prepared GPU check, run here on the CPU exactly as the issue
asks (`python3 benchmarks/gpu_check.py --device cpu --depth 1 --resolution 16`) in a Python that
cannot import av, gradio, plotly or PIL, as on a lent GPU machine, so that it cannot rot: every
section runs, the table and the JSON agree, the FLOPs are the ones counted for the same config,
the durations are demo.zerogpu's; its time guards skip what does not fit and its watchdog
leaves the JSON behind."""

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from paths import ROOT

from demo.zerogpu import estimate_gpu_seconds, estimate_tokenize_seconds
from videoflextok_core.flops import model_flops
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.config import parse_config
from videoflextok_core.model.sampling import Sampler

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
ISSUE_COMMAND = ["--device", "cpu", "--depth", "1", "--resolution", "16"]


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(env, out, *args, timeout=1800):
    """python3 benchmarks/gpu_check.py ARGS with $OUT = out -> (process, the JSON)."""
    env = {**env, "OUT": str(out)}
    cmd = [sys.executable, str(SCRIPT), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    path = out / "gpu_check.json"
    return proc, json.loads(path.read_text()) if path.exists() else None


@pytest.mark.e2e  # the script in a subprocess, ~70 s
def test_the_issue_command_runs_every_section_on_a_bare_cpu(bare_python, tmp_path):
    proc, doc = run(bare_python, tmp_path, *ISSUE_COMMAND)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("CPU ") and "torch" in lines[0]  # hardware.describe()
    assert "device cpu (CPU); bf16 peak n/a" in lines[1]
    assert doc["status"] == "done" and doc["skipped"] == []
    rows = doc["rows"]
    assert not [r for r in rows if "error" in r]
    assert {r["section"] for r in rows} == set(gpu_check().SECTIONS)
    assert doc["device"] == "CPU" and doc["settings"]["frames"] == 17  # the CPU's defaults

    # the printed table is the JSON's: one line per row, in order, with the same figures
    table = lines[lines.index(next(x for x in lines if x.startswith("section "))) + 1 : -1]
    assert len(table) == len(rows)
    for line, r in zip(table, rows):
        assert line.startswith(f"{r['section']:<9}{r['what']}") and line.endswith(r["result"])
        if r["seconds"] is not None:
            assert f"{r['seconds']:.3f}" in line

    by = {(r["section"], r["what"]): r for r in rows}
    cfg = parse_config(gpu_check().real_config(1, 16))
    flops, sampler = model_flops(cfg), Sampler(steps=1, guidance=20.0, apg=True)
    counted = {  # TFLOP of the app section's rows
        "tokenize 17 frames 16x16": flops.tokenize(17),
        "reconstruct k=256, 1 step(s), g=20 APG": flops.detokenize(17, sampler),
        "ladder of 2 budgets": flops.detokenize(17, sampler, batch=2),
    }
    for what, work in counted.items():
        r = by["app", what]
        assert r["seconds"] > 0 and r["tflop"] == pytest.approx(work / 1e12), what
        assert r["tflops"] == pytest.approx(work / 1e12 / r["seconds"]), what
        assert r["x_matmul"] == pytest.approx(r["tflops"] / doc["matmul_tflops"]), what
        assert r["pct_peak"] is None and 0.3 < r["peak_gb"] < 24, what  # no peak on a CPU

    for i in (0, 1):  # each seed alone decodes (nearly) its batch sample
        r = by["seeds", f"seed {i} alone (decode_clip)"]
        assert r["match"] in ("EQUAL", "CLOSE") and r["mean_diff"] < 0.1 * r["other"]

    zero = {r["what"]: r for r in rows if r["section"] == "zerogpu"}
    assert zero["tokenize"]["reserved_s"] == estimate_tokenize_seconds(cfg, 17)
    assert zero["reconstruct"]["reserved_s"] == estimate_gpu_seconds(cfg, 17, sampler)
    assert zero["ladder (2 budgets)"]["reserved_s"] == estimate_gpu_seconds(cfg, 17, sampler, 2)
    measured = (
        by["app", "tokenize 17 frames 16x16"]["seconds"]
        + by["app", "ladder of 2 budgets"]["seconds"]
    )
    assert zero["ladder (2 budgets)"]["seconds"] == pytest.approx(measured)
    rates = doc["zerogpu"]["measured_tflops"]
    assert set(rates) == {"tokenize", "reconstruct", "ladder", "seeds"}
    assert doc["zerogpu"]["slowest_decode"] == min(
        rates["reconstruct"], rates["ladder"], rates["seeds"]
    )
    assert "suggested_tflops" not in doc["zerogpu"]  # no card peak on a CPU

    fallback = [r for r in rows if r["section"] == "fallback"]
    assert fallback[0]["reason"] == "cpu" and fallback[0]["ref"].endswith("assets/demo-model")
    assert fallback[1]["ids_equal_to_cpu"] == 1.0 and "finite: True" in fallback[1]["result"]

    compare = by["bf16", "bf16 weights vs float32 + autocast"]
    assert 0.5 <= compare["ids_equal"] <= 1.0
    assert 0 < compare["mean_diff"] <= compare["max_diff"] < 2  # bf16 weights differ, a little
    materialised = [r for r in rows if r["what"].startswith("materialise")]
    gb = 4 * sum(p.numel() for p in VideoFlexTok(cfg).parameters()) / 1e9
    assert [r["what"][12:16] for r in materialised] == [f"{gb:.2f}", f"{gb / 2:.2f}", f"{gb:.2f}"]


@pytest.mark.e2e  # the script in a subprocess
def test_rows_that_do_not_fit_are_skipped_and_said(bare_python, tmp_path):
    proc, doc = run(bare_python, tmp_path, *ISSUE_COMMAND, "--budget", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert doc["status"] == "done" and doc["rows"] == []
    skipped = {s["section"]: s["why"] for s in doc["skipped"]}
    assert set(skipped) == set(gpu_check().SECTIONS)
    assert "matmul: needs ~" in skipped["baseline"] and "s left" in skipped["baseline"]
    assert "needs the app section" in skipped["seeds"]
    assert "skipped: materialise" in proc.stdout


@pytest.mark.e2e  # the script in a subprocess
def test_the_watchdog_leaves_the_json_and_stops(bare_python, tmp_path):
    proc, doc = run(bare_python, tmp_path, *ISSUE_COMMAND, "--watchdog", "0")
    assert proc.returncode == 3
    assert doc["status"].startswith("stopped by the watchdog at 0 s, in ")
    assert "WATCHDOG" in proc.stdout


def test_refuses_bad_settings(capsys):
    parse_args = gpu_check().parse_args
    for args, message in (
        (["--resolution", "40"], "--resolution must be a multiple of 16"),
        (["--frames", "20"], "--frames must be 17, 33, 49"),
        (["--seeds", "9"], "--seeds must be 2..8"),
        (["--only", "app,nope"], "unknown sections ['nope']"),
    ):
        with pytest.raises(SystemExit) as exit:
            parse_args(["--device", "cpu", *args])
        assert exit.value.code == 2 and message in capsys.readouterr().err, args
    cuda = parse_args(["--device", "cuda"])  # the GPU run's defaults (nothing runs here)
    assert (cuda.frames, cuda.steps, cuda.budgets, cuda.seeds, cuda.matmul) == (
        33,
        25,
        None,
        4,
        8192,
    )
    assert (cuda.budget, cuda.watchdog) == (420, 465)


def test_the_oversize_model_is_larger_than_the_card_and_no_larger():
    """What the fallback section materialises on CUDA: the released config at 256x256 with
    every transformer deeper, a config the port accepts (depth <= its bound), whose float32
    weights are just over 1.25x the card (counted, not guessed)."""
    check = gpu_check()
    capacity = 144e9  # an H200's memory: the deepest oversize model a lent card needs
    depth, nbytes = check.oversize_depth(capacity, 256)
    assert nbytes == check.weight_bytes(check.real_config(depth, 256))
    assert nbytes > check.OVERSIZE_FACTOR * capacity
    assert check.weight_bytes(check.real_config(depth - 1, 256)) <= check.OVERSIZE_FACTOR * capacity


def test_the_k600_like_config_has_an_18_layer_decoder_at_128():
    check = gpu_check()
    cfg = check.k600_config(None, 128)
    modules = cfg["video_flex_tok"]["decoder"]["module_dict"]
    assert modules["dec_transformer"]["depth"] == 18 and "dec_repa_head" not in modules
    assert cfg["video_preprocess_args"]["size"] == 128
    with torch.device("meta"):
        model = VideoFlexTok(parse_config(cfg))
    assert model.resolution == (128, 128) and model.n_registers == 256
    # an explicit --depth (CPU runs) wins over the 18
    assert (
        check.k600_config(1, 16)["video_flex_tok"]["decoder"]["module_dict"]["dec_transformer"][
            "depth"
        ]
        == 1
    )
