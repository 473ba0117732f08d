"""The library as a package: `pip install .` into a fresh venv, then the import and the
`videoflextok` command from another directory, away from the repository; and requirements*.txt
list exactly what pyproject.toml declares (the Space and the set-up install those files).

The venv sees this environment's packages through a .pth file, and pip runs with --no-index: the
dependencies are checked against what is installed here and never downloaded (an unpinned or
unmatched torch would pull a multi-GB CUDA build). --no-build-isolation builds with this
environment's setuptools (requirements-dev.txt).
"""

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # a dependency of huggingface_hub
from packaging.utils import canonicalize_name
from paths import ROOT, TINY

from synthetic import make_clip
from videoflextok_core.media.write import write_video

pytestmark = pytest.mark.e2e  # `pip install .` into a fresh venv, the installed command

DIST = "videoflextok-core"
EXTRAS = ("curve", "app", "scale", "dev", "train")  # pyproject.toml's optional-dependencies
CACHES = shutil.ignore_patterns("__pycache__", "*.pyc")
OPTIONAL = ("gradio", "PIL", "plotly", "pyarrow", "ray", "demo", "synthetic", "training")


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with the package installed by pip. pip builds from a copy of what the build
    reads (setuptools would leave build/ and *.egg-info in the checkout, and a stale build/ could
    bring back a deleted module)."""
    root = tmp_path_factory.mktemp("pkg")
    src = root / "src"
    shutil.copytree(ROOT / "videoflextok_core", src / "videoflextok_core", ignore=CACHES)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    purelib = subprocess.run(
        [env / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(env / "bin/python"), "install"]
    pip += ["--no-index", "--no-build-isolation", "--quiet", str(src)]
    r = subprocess.run(pip, cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return env


def in_venv(venv: Path, *cmd, cwd: Path) -> subprocess.CompletedProcess:
    """Run in the venv from `cwd`, with no PYTHONPATH: only what is installed can be imported."""
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(cwd)}
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_installed_library_imports_without_the_repository(venv, tmp_path):
    code = f"""
import json, sys, importlib.util
from videoflextok_core import VideoFlexTok, read_video
import videoflextok_core.dataset
print(json.dumps({{
    "file": videoflextok_core.__file__,
    "loaded": [m for m in {OPTIONAL!r} if m in sys.modules],
    "findable": [m for m in ("demo", "synthetic", "training") if importlib.util.find_spec(m)],
}}))
"""
    r = in_venv(venv, venv / "bin/python", "-c", code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert Path(out["file"]).is_relative_to(venv)  # the installed copy, not the checkout
    assert out["loaded"] == []  # the import needs only the core dependencies
    assert out["findable"] == []  # the package holds the library only


def test_the_installed_package_holds_every_module(venv):
    purelib = next(venv.glob("lib/python3*/site-packages"))
    installed = {p.relative_to(purelib) for p in (purelib / "videoflextok_core").rglob("*.py")}
    ours = {p.relative_to(ROOT) for p in (ROOT / "videoflextok_core").rglob("*.py")}
    assert installed == ours


def test_the_videoflextok_command_runs_from_another_directory(venv, tmp_path):
    r = in_venv(venv, venv / "bin/videoflextok", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: videoflextok ") and "tokenize-dataset" in r.stdout
    clip = write_video(make_clip(0, 17, 48), tmp_path / "clip.mp4", fps=8)
    cmd = ["tokenize", clip, "--model", TINY, "--out", "clip.tokens.safetensors", "--device", "cpu"]
    r = in_venv(venv, venv / "bin/videoflextok", *cmd, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "5 x 16 tokens from 17 frames" in r.stdout
    assert (tmp_path / "clip.tokens.safetensors").is_file()
    r = in_venv(venv, venv / "bin/videoflextok", "tokenize", clip, "--out", "x", cwd=tmp_path)
    assert r.returncode == 2 and "pass --model" in r.stderr  # no default model outside the repo


# ---------------------------------------------------------------------------------------------
# requirements*.txt against the installed metadata (what pyproject.toml declares, as built)
# ---------------------------------------------------------------------------------------------


def key(req: Requirement) -> tuple:
    """A requirement without its marker: (name, extras, specifiers), comparable."""
    return canonicalize_name(req.name), tuple(sorted(req.extras)), str(req.specifier)


def declared(venv: Path, tmp_path: Path) -> dict[str, set]:
    """extra ("" for the core) -> its requirements, self-references expanded."""
    code = f"import importlib.metadata as m, json; print(json.dumps(m.requires({DIST!r})))"
    r = in_venv(venv, venv / "bin/python", "-c", code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    groups: dict[str, list[Requirement]] = {}
    for line in json.loads(r.stdout):
        req = Requirement(line)
        extras = [e for e in EXTRAS if req.marker and req.marker.evaluate({"extra": e})]
        extra = extras[0] if extras else ""  # no marker: a dependency of the library itself
        req.marker = None
        groups.setdefault(extra, []).append(req)

    def expand(extra: str) -> set:
        out = set()
        for req in groups.get(extra, []):
            if canonicalize_name(req.name) == DIST:
                out |= set().union(*(expand(e) for e in req.extras))
            else:
                out.add(key(req))
        return out

    return {extra: expand(extra) for extra in groups}


def listed(name: str) -> set:
    """The requirements of a requirements file, `-r` includes followed."""
    out = set()
    for line in (ROOT / name).read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("-r "):
            out |= listed(line[3:].strip())
        elif line and not line.startswith("#"):
            out.add(key(Requirement(line)))
    return out


def test_requirements_files_list_what_pyproject_declares(venv, tmp_path):
    d = declared(venv, tmp_path)
    assert listed("requirements.txt") == d[""] | d["app"]  # the Space: library + app
    assert listed("requirements-scale.txt") == d["scale"]
    assert listed("requirements-dev.txt") == d[""] | d["dev"]  # dev includes app and scale
    assert listed("requirements-train.txt") == d["train"]
    assert d["curve"] <= d["app"] and d["app"] | d["scale"] <= d["dev"]
    assert ("torch", (), "==2.13.0") in d[""]  # the CPU wheel here; never an unpinned torch
