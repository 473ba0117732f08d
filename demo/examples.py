"""The page's example clips (assets/examples, made by `python -m training.make_examples`): real
footage first, then procedural scenes, each set with its label and, for the footage, its credit.

    from demo.examples import example_sets
    for s in example_sets():
        s.label, s.paths, s.credit      # "Real footage: ...", [Path, ...], Markdown or ""
"""

from dataclasses import dataclass
from pathlib import Path

from .paths import EXAMPLES

REAL_PREFIX = "bbb_"  # Big Buck Bunny shots; everything else is procedural
REAL_LABEL = "Real footage: Big Buck Bunny (4 shots)"
PROCEDURAL_LABEL = "Procedural scenes (what the demo model was trained on)"
CREDIT = (
    "Footage: *Big Buck Bunny*, © 2008 Blender Foundation, "
    "[www.bigbuckbunny.org](https://www.bigbuckbunny.org), licensed under "
    "[CC BY 3.0](https://creativecommons.org/licenses/by/3.0/); cropped and scaled."
)


@dataclass(frozen=True)
class ExampleSet:
    label: str
    paths: tuple[Path, ...]
    credit: str  # Markdown shown under the set, "" if none


def example_sets(folder: str | Path = EXAMPLES) -> list[ExampleSet]:
    """The non-empty sets of example clips in `folder`, real footage first."""
    clips = sorted(Path(folder).glob("*.mp4"))
    real = tuple(p for p in clips if p.name.startswith(REAL_PREFIX))
    procedural = tuple(p for p in clips if not p.name.startswith(REAL_PREFIX))
    sets = [ExampleSet(REAL_LABEL, real, CREDIT), ExampleSet(PROCEDURAL_LABEL, procedural, "")]
    return [s for s in sets if s.paths]


def example_paths(folder: str | Path = EXAMPLES) -> list[Path]:
    """Every example clip, in the page's order."""
    return [p for s in example_sets(folder) for p in s.paths]


__all__ = ["ExampleSet", "example_paths", "example_sets"]
