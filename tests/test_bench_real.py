"""benchmarks/bench_real.py on the CPU at reduced depth and size, as a subprocess: every figure is
printed and agrees with the FLOPs counted for the same config; bad sizes are refused."""

import importlib.util
import re
import subprocess
import sys

import pytest
import torch
from paths import REFERENCE, ROOT

from videoflextok_core.flops import model_flops
from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.config import parse_config
from videoflextok_core.model.sampling import Sampler

SCRIPT = ROOT / "benchmarks" / "bench_real.py"
SMALL = ["--depth", "1", "--resolution", "16", "--frames", "17", "--steps", "2", "--budgets", "2"]


def bench_real():
    spec = importlib.util.spec_from_file_location("bench_real", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--threads", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)


def numbers(line: str) -> list[float]:
    """The figures after a row's label (46 characters): seconds, TFLOP, TFLOP/s, n/a, GB."""
    return [float(x) for x in line[46:].split() if x != "n/a"]


@pytest.mark.e2e  # benchmarks/bench_real.py in a subprocess, ~40 s
def test_cpu_run_at_reduced_depth():
    out = run(*SMALL)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("CPU ") and "torch" in lines[0]  # hardware.describe()
    assert "bf16 peak n/a" in lines[1] and "float32 compute" in lines[1]
    assert "depth 1 (reduced), 16x16, 17 frames" in lines[2]

    cfg = parse_config(bench_real().real_config(1, 16))
    flops = model_flops(cfg)
    sampler = Sampler(steps=2, guidance=20.0, apg=True)
    expected = {  # counted TFLOP per row
        "tokenize 17 frames": flops.tokenize(17),
        "reconstruct k=256, 2 steps, g=20 APG": flops.detokenize(17, sampler),
        "ladder of 2 budgets (batches of 2)": flops.detokenize(17, sampler, batch=2),
    }
    header = next(i for i, line in enumerate(lines) if line.startswith("what"))
    end = next(i for i, line in enumerate(lines) if line.startswith("bf16 weights vs"))
    rows = {line[:46].strip(): numbers(line) for line in lines[header + 1 : end]}
    assert list(rows)[0].startswith("materialise") and len(rows) == 4
    for what, work in expected.items():
        seconds, tflop, rate, rss = rows[what]
        assert seconds > 0 and tflop == pytest.approx(work / 1e12, abs=0.006), what
        assert rate == pytest.approx(tflop / seconds, rel=0.05, abs=2e-3), what
        assert 0.5 < rss < 24, what  # GB of peak RSS

    with torch.device("meta"):
        params = sum(p.numel() for p in VideoFlexTok(cfg).parameters())
    materialise = next(line for line in lines if line.startswith("materialise"))
    assert f"{params / 1e9:.2f} B params, {4 * params / 1e9:.2f} GB" in materialise

    agree = float(re.search(r"token ids equal: ([\d.]+) %", out.stdout)[1])
    assert 50 <= agree <= 100
    diffs = re.search(r"max abs diff ([\d.]+), mean abs diff ([\d.]+)", out.stdout)
    biggest, mean = float(diffs[1]), float(diffs[2])
    assert 0 < mean <= biggest < 2  # bf16 weights differ, a little

    refused = run("--resolution", "40")
    assert refused.returncode == 2 and "--resolution must be a multiple of 16" in refused.stderr


def test_bad_sizes_are_refused():
    config = bench_real().real_config
    with pytest.raises(ValueError, match="multiple of 16 .* got 24"):
        config(None, 24)
    with pytest.raises(ValueError, match="--depth must be >= 1, got 0"):
        config(0, 256)


def test_released_config_is_kept_at_full_size():
    cfg = bench_real().real_config(None, 256)
    modules = cfg["video_flex_tok"]["decoder"]["module_dict"]
    assert "dec_repa_head" in modules and modules["dec_transformer"]["depth"] == 28
    with torch.device("meta"):
        params = sum(p.numel() for p in VideoFlexTok(parse_config(cfg)).parameters())
    assert 2.6e9 < params < 2.8e9  # 2.7 B: 10.8 GB in float32, 5.4 GB in bf16


def test_the_carried_config_is_the_reference():
    """benchmarks/ keeps its own copy of the inferred released config, because ../shared does not
    travel to a lent GPU machine; it must stay the reference file."""
    copy = (ROOT / "benchmarks" / "real_config_inferred.json").read_bytes()
    assert copy == (REFERENCE / "real_config_inferred.json").read_bytes()
