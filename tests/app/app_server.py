"""Start the real app (`python app.py`) in a subprocess for the API and browser tests.

Not a test module: `test_app.py` and `test_app_browser.py` import `running_app`.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from paths import ROOT, TINY

MODEL = os.environ.get("VIDEOFLEXTOK_APP_TEST_MODEL", str(TINY))  # e.g. /tmp/smoke for docs
START_TIMEOUT = 90  # seconds: a bound on the wait, not a test of speed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(tmp: Path, *extra: str, model: str = MODEL):
    """Yield (url, seconds until it answered) for `python app.py --model MODEL` on a free port;
    nothing reaches the network (HF_HUB_OFFLINE, analytics off in app.py)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",  # 2 shared cores (see test_cli.py)
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "GRADIO_EXAMPLES_CACHE": str(tmp / "examples"),
        "TMPDIR": str(tmp),
    }
    cmd = [sys.executable, "app.py", "--model", model, "--port", str(port), *extra]
    log = open(tmp / "app.log", "w")  # closed in the finally below
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{read(tmp)}")
            if time.perf_counter() - t0 > START_TIMEOUT:
                raise RuntimeError(f"app.py not ready after {START_TIMEOUT} s:\n{read(tmp)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def read(tmp: Path) -> str:
    return (tmp / "app.log").read_text(errors="replace")[-4000:]
