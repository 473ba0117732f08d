"""A bare Python, as on a lent GPU machine: torch, safetensors and numpy, no media or UI packages
(helpers, not fixtures; the `bare_python` fixture in conftest.py makes the environment under a
test's tmp_path)."""

import os
from pathlib import Path

from paths import ROOT

BARE_BLOCKED = ("av", "gradio", "plotly", "PIL")  # what a lent GPU machine's python3 lacks
_BLOCKER = """import sys


class _Blocked:
    \"\"\"Refuse every import of the packages a bare GPU machine does not have.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"import of {{name}} halted (bare_python)", name=name)
        return None


sys.meta_path.insert(0, _Blocked())
"""


def bare_env(folder: Path) -> dict[str, str]:
    """Environment for a subprocess that cannot import `BARE_BLOCKED`: a `sitecustomize` in
    `folder`, first on PYTHONPATH, puts a meta-path finder first that refuses them, so a plain
    `python3 script.py` runs as on a lent GPU machine."""
    site = folder / "bare_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_BLOCKER.format(blocked=set(BARE_BLOCKED)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    return env
