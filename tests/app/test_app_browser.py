"""The app in a real browser: Debian's Chromium driven by Playwright, no mocks.

Loads the page, uploads a clip, waits until the side-by-side mp4 actually plays (H.264: Debian's
Chromium has the proprietary codecs), moves the k slider and waits for the new video, runs the
ladder until the plotly curve is drawn, opens the token view, uploads a corrupt file and reads
the message, and checks that the page fetched nothing from outside this machine.

Playwright never downloads a browser here: it drives /usr/bin/chromium (CI apt-installs it).
Screenshots go to the test's tmp dir, and also to $VIDEOFLEXTOK_SCREENSHOTS if set (the README's
docs/*.png: `VIDEOFLEXTOK_APP_TEST_MODEL=assets/demo-model VIDEOFLEXTOK_SCREENSHOTS=docs
python -m pytest tests/app/test_app_browser.py`).
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from app_server import running_app
from conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (CI installs Debian's chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]
EXAMPLE = ROOT / "assets" / "examples" / "scene_2_seed1000008.mp4"
TIMEOUT = 120_000  # ms per wait: decodes on a busy 2-core CPU

PLAYING = """([selector, oldSrc]) => {
    const v = document.querySelector(selector);
    if (!v || !v.currentSrc || v.currentSrc === oldSrc || v.readyState < 2) return false;
    const t = v.currentTime, last = window.__lastTime ?? -1;
    window.__lastTime = t;
    return t > 0 && last >= 0 && t > last;  // advancing between two polls
}"""
PLOT_DRAWN = """(selector) => {
    const p = document.querySelector(selector + ' .js-plotly-plot');
    return !!(p && p.data && p.data.length > 0 && p.querySelector('svg'));
}"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("browser"), "--no-warm-up") as (url, _):
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    out = tmp_path_factory.mktemp("screenshots")
    yield out
    if os.environ.get("VIDEOFLEXTOK_SCREENSHOTS"):
        dest = Path(os.environ["VIDEOFLEXTOK_SCREENSHOTS"])
        dest.mkdir(parents=True, exist_ok=True)
        for png in out.glob("*.png"):
            shutil.copy(png, dest / png.name)


def wait_playing(page, selector: str, old_src: str | None = None) -> str:
    page.evaluate("() => { window.__lastTime = -1; }")
    page.wait_for_function(PLAYING, arg=[selector, old_src], polling=250, timeout=TIMEOUT)
    return page.eval_on_selector(selector, "v => v.currentSrc")


def drag_slider(page, value: int) -> int:
    """Press and release the mouse on the k slider's track at `value`; -> the value set."""
    track = page.locator("#k input[type=range]")
    track.scroll_into_view_if_needed()
    lo, hi = float(track.get_attribute("min")), float(track.get_attribute("max"))
    box = track.bounding_box()
    x = box["x"] + 8 + (box["width"] - 16) * (value - lo) / (hi - lo)  # 8 px: half the thumb
    y = box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 1, y)
    page.mouse.move(x, y)
    page.mouse.up()
    return int(float(track.input_value()))


def test_page_in_chromium(app_url, shots, tmp_path):
    external, errors = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: external.append(r.url) if _external(r.url) else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(app_url, wait_until="networkidle")
        assert "Running" in page.locator("#notice").inner_text()

        page.locator("input[type=file]").first.set_input_files(str(EXAMPLE))
        src = wait_playing(page, "#side-by-side video")
        page.wait_for_function("() => document.querySelector('#stats').innerText.includes('×')")
        k_before = page.locator("#k input[type=range]").input_value()

        k = drag_slider(page, 12)
        assert str(k) != k_before, "the slider did not move"
        src = wait_playing(page, "#side-by-side video", src)
        stats = page.locator("#stats").inner_text()
        assert f"× {k} tokens" in stats, stats
        page.screenshot(path=str(shots / "app_reconstruction.png"), full_page=True)

        page.get_by_role("button", name="Measure the quality ladder").click()
        page.wait_for_function(PLOT_DRAWN, arg="#curve", polling=250, timeout=TIMEOUT)
        page.wait_for_function(  # the whole ladder, not a partial curve
            "() => document.querySelector('#curve .js-plotly-plot').data[0].x.length >= 5",
            polling=250,
            timeout=TIMEOUT,
        )
        wait_playing(page, "#grid video")
        page.screenshot(path=str(shots / "app_curve.png"), full_page=True)

        page.get_by_role("tab", name="Tokens", exact=True).click()
        page.wait_for_function(PLOT_DRAWN, arg="#tokens", polling=250, timeout=TIMEOUT)
        page.locator("#tokens").screenshot(path=str(shots / "app_tokens.png"))

        corrupt = tmp_path / "corrupt.mp4"
        corrupt.write_bytes(EXAMPLE.read_bytes()[:3000])
        page.get_by_role("button", name="Clear").first.click()
        page.locator("input[type=file]").first.set_input_files(str(corrupt))
        toast = page.locator(".toast-body").filter(has_text="corrupt.mp4")
        toast.first.wait_for(timeout=TIMEOUT)
        assert "Traceback" not in toast.first.inner_text()

        page.locator("button.gallery-item").first.click()
        src = wait_playing(page, "#side-by-side video", src)  # an example, cached lazily
        browser.close()
    assert not external, f"the page fetched from outside this machine: {external}"
    assert not errors, errors


def _external(url: str) -> bool:
    host = urlparse(url).hostname
    return url.startswith(("http:", "https:", "ws:", "wss:")) and host not in (
        "127.0.0.1",
        "localhost",
    )
