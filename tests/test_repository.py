"""The repository pushes to a Hugging Face Space: the Hub refuses a plain binary file (and any file
over 10 MB) that does not go through Git LFS, so every such tracked file must fall under an LFS
rule of `.gitattributes` (asked of git itself: `git check-attr filter`)."""

import shutil
import subprocess

import pytest
from paths import ROOT

HUB_PLAIN_LIMIT = 10 * 1024 * 1024  # bytes: larger files need LFS even when they are text
SNIFF = 8000  # bytes git reads to decide binary or text (a NUL in them means binary)

if shutil.which("git") is None or not (ROOT / ".git").exists():
    pytest.skip("not a git checkout: nothing is tracked", allow_module_level=True)


def _git(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=ROOT, input=stdin, capture_output=True, check=True
    ).stdout


def tracked() -> list[str]:
    return [p for p in _git("ls-files", "-z").decode().split("\0") if p]


def needs_lfs(path: str) -> bool:
    """Binary by git's own test (a NUL byte in the first 8000), or too large to push plain."""
    file = ROOT / path
    if not file.is_file():  # deleted in the work tree, not yet committed
        return False
    with open(file, "rb") as f:
        head = f.read(SNIFF)
    return b"\0" in head or file.stat().st_size > HUB_PLAIN_LIMIT


def lfs_filter(paths: list[str]) -> dict[str, str]:
    """path -> its `filter` attribute ("lfs", or "unspecified" with no rule)."""
    out = _git("check-attr", "-z", "--stdin", "filter", stdin="\0".join(paths).encode())
    fields = out.decode().split("\0")[:-1]  # path, attribute, value, path, ...
    return {fields[i]: fields[i + 2] for i in range(0, len(fields), 3)}


def test_every_tracked_binary_file_is_under_an_lfs_rule():
    binary = [p for p in tracked() if needs_lfs(p)]
    # the detection sees the kinds we know we track (else this test would pass on nothing)
    assert "assets/demo-model/model.safetensors" in binary
    assert {p.rsplit(".", 1)[-1] for p in binary} >= {"safetensors", "mp4", "png"}
    plain = [p for p, value in lfs_filter(binary).items() if value != "lfs"]
    assert not plain, f"add an LFS rule to .gitattributes for: {plain}"


def test_what_the_space_reads_stays_plain_text():
    """The Hub reads the README's front matter and requirements.txt from the files themselves."""
    files = ["README.md", "requirements.txt", "app.py", ".gitattributes"]
    assert set(lfs_filter(files).values()) == {"unspecified"}
