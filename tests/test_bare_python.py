"""The model without media: `videoflextok_core.model`, `loading`, `progress`, `flops`, `curve`,
`seeds`, `demo.startup`, `demo.defaults` and `demo.zerogpu` import with torch, safetensors and
numpy alone (a lent GPU machine has no PyAV, gradio, plotly or Pillow; benchmarks/gpu_check.py
runs there), and the tiny checkpoint tokenizes and decodes there. PyAV is imported on first use
of a video name (`videoflextok_core.read_video`)."""

import json
import subprocess
import sys

from bare import BARE_BLOCKED
from paths import ROOT, TINY

SCRIPT = f"""
import json, sys
import torch

from videoflextok_core.model import Noise, Sampler, VideoFlexTok
import videoflextok_core, videoflextok_core.flops, videoflextok_core.curve, videoflextok_core.seeds
import videoflextok_core.loading, videoflextok_core.progress
import demo.defaults, demo.startup, demo.zerogpu

torch.set_num_threads(1)
model = VideoFlexTok.from_pretrained({str(TINY)!r}, device="cpu")
H, W = model.resolution
video = torch.rand(1, 3, 17, H, W, generator=torch.Generator().manual_seed(0)) * 2 - 1
tokens = model.tokenize(video, sample_posterior=False)
out = model.detokenize(tokens, Sampler(steps=2, guidance=3.0, apg=True),
                       noise=Noise(generator=torch.Generator().manual_seed(0)))
refused = []
for name in ("av", "videoflextok_core.media.read", "videoflextok_core.media.write"):
    try:
        __import__(name)
    except ModuleNotFoundError as e:
        refused.append(str(e))
try:
    videoflextok_core.read_video
except ModuleNotFoundError as e:
    refused.append(str(e))
print(json.dumps({{
    "tokens": list(tokens[0].shape), "video": list(out[0].shape),
    "finite": bool(torch.isfinite(out[0]).all()),
    "loaded": sorted(m for m in {set(BARE_BLOCKED)!r} if m in sys.modules),
    "refused": refused,
}}))
"""


def test_model_runs_without_media_packages(bare_python):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=bare_python,
    )
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout.splitlines()[-1])
    assert facts["tokens"] == [1, 5, 16]  # 17 frames -> 5 latent frames x 16 registers
    assert facts["video"] == [1, 3, 17, 32, 48] and facts["finite"]
    assert facts["loaded"] == []
    # the block is real: PyAV, and what needs it, fail to import in that process
    assert len(facts["refused"]) == 4 and all("import of av halted" in r for r in facts["refused"])


def test_video_names_still_import_from_the_package():
    import videoflextok_core
    from videoflextok_core import VideoInfo, read_video, write_video
    from videoflextok_core.media import read, write

    assert read_video is read.read_video and VideoInfo is read.VideoInfo
    assert write_video is write.write_video
    assert set(videoflextok_core.__all__) <= set(dir(videoflextok_core))
