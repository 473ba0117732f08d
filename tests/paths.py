"""Where the tests find their inputs: this repository, the shared reference fixtures and clips
beside it (`../shared`), and the example clips. Imported by the test modules (`from paths import
TINY`); nothing here is a fixture."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"  # the official code's goldens and the inferred real config
VIDEOS = SHARED / "videos"  # two real clips of the official release
TINY = REFERENCE / "tiny"  # reference checkpoint: random weights, 32x48, 16 tokens per frame, fast
VARIANTS = ROOT / "tests" / "model" / "fixtures" / "variants"  # nine more configs, with goldens
EXAMPLES = ROOT / "assets" / "examples"  # the page's example clips
EXAMPLE = EXAMPLES / "scene_1_seed1000003.mp4"  # a procedural example, 17+ frames
