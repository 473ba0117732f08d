"""The repository's own files, named in one place: the shipped demo model and example clips.

They exist in a checkout of this repository (and on its Space); the library works without them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "assets" / "demo-model"  # the small embedded model: CPU, offline, tests
EXAMPLES = ROOT / "assets" / "examples"  # example clips shown on the page
