"""The repository's own files, named in one place: the shipped demo model and example clips.

They exist in a checkout of this repository (and on its Space), for the app, the tests and the
benchmarks. The library never reads them: installed with pip it has no assets/, so its callers
name a model (`VideoFlexTok.from_pretrained(ref)`, the CLI's `--model`).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "assets" / "demo-model"  # the small embedded model: CPU, offline, tests
EXAMPLES = ROOT / "assets" / "examples"  # example clips shown on the page
