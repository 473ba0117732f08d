"""The layout stays as built, read from the source with `ast` (nothing is imported):

* rooms: `videoflextok_core/` (the library), `demo/` (the app's logic, no UI), `synthetic/` (the
  clip generator), `app.py` and `layout.py` (the page), `training/`, `benchmarks/`;
* imports point one way: app.py -> layout.py -> demo -> library; training -> library and
  synthetic; the library imports neither the demo, the page, the generator, training nor
  gradio; the generator imports nothing of ours;
* no import cycle inside a room, counting imports under `if TYPE_CHECKING:` and inside functions;
* the page (app.py) and each file of the demo layer stay short enough to read top to bottom.
"""

import ast
from pathlib import Path

import pytest
from paths import ROOT

ROOMS = ("videoflextok_core", "demo", "synthetic", "training", "benchmarks")
# room -> the rooms (and third-party top-level names) it must never import
PAGE = {"app", "layout"}
FORBIDDEN = {
    "videoflextok_core": {"demo", "synthetic", "training", "benchmarks", "gradio", *PAGE},
    "demo": {"training", "benchmarks", "gradio", "synthetic", *PAGE},
    "synthetic": {"videoflextok_core", "demo", "training", "benchmarks", "gradio", *PAGE},
    "training": {"demo", "benchmarks", "gradio", *PAGE},
    "layout": {"app"},
}
MAX_LINES = {"app.py": 300, "demo/*.py": 350}  # the page and the demo layer, read top to bottom


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    files = [ROOT / "app.py", ROOT / "layout.py"]
    for room in ROOMS:
        files += sorted((ROOT / room).rglob("*.py"))
    return {module_name(p): p for p in files}


MODULES = sources()


def imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, anywhere in the file, as absolute dotted names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.add(target)
            # `from pkg import sub` imports the submodule pkg.sub
            out.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES)
    return out


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def test_the_rooms_exist_and_are_read():
    assert {"videoflextok_core", "videoflextok_core.model", "demo", "synthetic", "app"} <= set(
        MODULES
    )
    assert "videoflextok_core.model.videoflextok" in GRAPH["videoflextok_core.model"]


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_point_one_way(room):
    bad = []
    for name, targets in GRAPH.items():
        if name.split(".")[0] != room:
            continue
        for t in targets:
            if t.split(".")[0] in FORBIDDEN[room]:
                bad.append(f"{name} imports {t}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    ours = {n: {t for t in ts if t in GRAPH} for n, ts in GRAPH.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for t in sorted(ours[n]):
            if state.get(t) == 1:
                cycles.append(" -> ".join(path[path.index(t) :] + [t]))
            elif t not in state:
                visit(t, path + [t])
        state[n] = 2

    for n in sorted(ours):
        if n not in state:
            visit(n, [n])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_a_cycle_and_a_wrong_direction(tmp_path):
    """The checks above can fail: a relative import back into a package is found."""
    pkg = tmp_path / "videoflextok_core" / "sub"
    pkg.mkdir(parents=True)
    (pkg / "a.py").write_text("from . import b\nif False:\n    import gradio\n")
    found = imports("videoflextok_core.sub.a", pkg / "a.py")
    assert "videoflextok_core.sub" in found and "gradio" in found


@pytest.mark.parametrize("pattern", sorted(MAX_LINES))
def test_the_page_and_the_demo_layer_stay_short(pattern):
    long = {
        p.name: n
        for p in ROOT.glob(pattern)
        if (n := len(p.read_text().splitlines())) > MAX_LINES[pattern]
    }
    assert not long, f"over {MAX_LINES[pattern]} lines: {long}"
