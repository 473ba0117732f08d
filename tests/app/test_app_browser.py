"""The app in a real browser: Debian's Chromium driven by Playwright, no mocks.

Loads the page (two small checkpoints of different resolutions in the model selector), clicks a
real example clip (Big Buck Bunny), waits until the side-by-side mp4 actually plays (H.264:
Debian's Chromium has the proprietary codecs), moves the k slider and waits for the new video
and the token count beside it, runs the ladder until the plotly curve is drawn, runs the seed
view until its grid plays and the spread image is drawn, opens the token view, switches the
model and waits for its own slider range and video, uploads a corrupt file and reads the
message, reads the page at phone width (390 px), and checks that the page fetched nothing from
outside this machine.

Playwright never downloads a browser here: it drives /usr/bin/chromium (CI apt-installs it).
Screenshots go to the test's tmp dir, and also to $VIDEOFLEXTOK_SCREENSHOTS if set (the README's
docs/app_*.png: `VIDEOFLEXTOK_APP_TEST_MODEL=assets/demo-model VIDEOFLEXTOK_SCREENSHOTS=docs
python -m pytest tests/app/test_app_browser.py`).
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from app_server import MODEL, TINY, running_app
from paths import ROOT

from demo.paths import DEMO_MODEL
from videoflextok_core.model import VideoFlexTok

pytestmark = pytest.mark.e2e  # a real Gradio server, Chromium

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
REAL_EXAMPLE = "bbb_3_pan.mp4"  # a real clip among the examples (Big Buck Bunny)
OTHER = DEMO_MODEL if Path(MODEL).resolve() != DEMO_MODEL.resolve() else TINY  # second choice
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
IMAGE_DRAWN = """(selector) => {
    const img = document.querySelector(selector + ' img');
    return !!(img && img.complete && img.naturalWidth > 0);
}"""
TEXT_HAS = (
    "([selector, text]) => (document.querySelector(selector)?.innerText ?? '').includes(text)"
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    models = f"{MODEL},{OTHER}"  # two small checkpoints: 32x48 / 16 tokens, 64x64 / 64 tokens
    with running_app(tmp_path_factory.mktemp("browser"), "--no-warm-up", "--models", models) as (
        url,
        _,
    ):
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


def open_page(page, url: str) -> None:
    """Load the page until its controls are drawn. Not "networkidle": the page keeps state per
    visitor (gr.State), so Gradio holds a heartbeat connection open and the network is never
    idle."""
    page.goto(url, wait_until="load")
    page.wait_for_selector("#k input[type=range]", timeout=TIMEOUT)
    wait_text(page, "#notice", "Running")


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


def wait_text(page, selector: str, text: str) -> str:
    page.wait_for_function(TEXT_HAS, arg=[selector, text], polling=250, timeout=TIMEOUT)
    return page.locator(selector).inner_text()


def slider_range(page) -> tuple[int, int]:
    track = page.locator("#k input[type=range]")
    return int(float(track.get_attribute("min"))), int(float(track.get_attribute("max")))


def test_page_in_chromium(app_url, shots, tmp_path):
    start_n = VideoFlexTok.from_pretrained(MODEL, device="cpu").n_registers
    other_n = VideoFlexTok.from_pretrained(OTHER, device="cpu").n_registers
    assert start_n != other_n  # the two checkpoints differ (16 vs 64 tokens, 32x48 vs 64x64)
    external, errors = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: external.append(r.url) if _external(r.url) else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_page(page, app_url)
        assert "Running" in page.locator("#notice").inner_text()
        page.wait_for_function(  # the page's k range is the start-up model's
            f"() => document.querySelector('#k input[type=range]').max == '{start_n}'",
            polling=250,
            timeout=TIMEOUT,
        )

        page.locator(f'button.gallery-item:has(video[src*="{REAL_EXAMPLE}"])').click()
        src = wait_playing(page, "#side-by-side video")
        wait_text(page, "#stats", "×")
        k_before = page.locator("#k input[type=range]").input_value()

        k = drag_slider(page, 12 if start_n > 12 else start_n - 2)
        assert str(k) != k_before, "the slider did not move"
        assert f"k = {k}" in wait_text(page, "#k-tokens", f"k = {k} ")  # beside the player
        src = wait_playing(page, "#side-by-side video", src)
        stats = page.locator("#stats").inner_text()
        assert f"× {k} tokens" in stats, stats
        assert f"{k} × 5 timesteps = {5 * k} tokens" in page.locator("#k-tokens").inner_text()
        assert "s per decode on this clip" in wait_text(page, "#ladder-eta", "about")
        page.screenshot(path=str(shots / "app_reconstruction.png"), full_page=True)

        page.get_by_role("button", name="Measure the quality ladder").click()
        page.wait_for_function(PLOT_DRAWN, arg="#curve", polling=250, timeout=TIMEOUT)
        page.wait_for_function(  # the whole ladder, not a partial curve
            "() => document.querySelector('#curve .js-plotly-plot').data[0].x.length >= 5",
            polling=250,
            timeout=TIMEOUT,
        )
        wait_playing(page, "#grid video")
        wait_text(page, "#ladder-eta", "Ladder done")
        page.screenshot(path=str(shots / "app_curve.png"), full_page=True)

        page.get_by_role("tab", name="What the decoder invents").click()
        page.get_by_role("button", name="Decode the seeds at k").click()
        wait_playing(page, "#seeds video")
        page.wait_for_function(IMAGE_DRAWN, arg="#spread", polling=250, timeout=TIMEOUT)
        seed_stats = wait_text(page, "#seed-stats", "mean spread")
        assert f"k={k} " in seed_stats and "seeds 0..3" in seed_stats, seed_stats
        page.wait_for_function(  # the spread joins the finished curve as a series
            "() => document.querySelector('#curve .js-plotly-plot').data"
            ".some(t => t.name === 'seed spread')",
            polling=250,
            timeout=TIMEOUT,
        )
        page.locator("#seeds").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "app_seeds.png"), full_page=True)

        page.get_by_role("tab", name="Tokens", exact=True).click()
        page.wait_for_function(PLOT_DRAWN, arg="#tokens", polling=250, timeout=TIMEOUT)
        page.locator("#tokens").screenshot(path=str(shots / "app_tokens.png"))

        other = "assets/demo-model" if OTHER == DEMO_MODEL else OTHER.name
        page.locator("#model input").click()
        page.get_by_role("option", name=other).click()
        page.wait_for_function(  # the slider takes the new model's range
            f"() => document.querySelector('#k input[type=range]').max == '{other_n}'",
            polling=250,
            timeout=TIMEOUT,
        )
        src = wait_playing(page, "#side-by-side video", src)  # the clip again, at its size
        d_k = max(1, other_n // 4)
        assert f"× {d_k} tokens" in wait_text(page, "#stats", f"× {d_k} token"), "new model's k"
        assert f"{other_n} tokens per timestep" in page.locator("body").inner_text()
        assert "picked in the model selector" in page.locator("#notice").inner_text()
        page.screenshot(path=str(shots / "app_model_switched.png"), full_page=True)

        corrupt = tmp_path / "corrupt.mp4"
        corrupt.write_bytes(EXAMPLE.read_bytes()[:3000])
        page.get_by_role("button", name="Clear").first.click()
        page.locator("input[type=file]").first.set_input_files(str(corrupt))
        toast = page.locator(".toast-body").filter(has_text="corrupt.mp4")
        toast.first.wait_for(timeout=TIMEOUT)
        assert "Traceback" not in toast.first.inner_text()

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.on("request", lambda r: external.append(r.url) if _external(r.url) else None)
        phone.on("pageerror", lambda e: errors.append(str(e)))
        open_page(phone, app_url)
        phone.locator(f'button.gallery-item:has(video[src*="{REAL_EXAMPLE}"])').click()
        wait_playing(phone, "#side-by-side video")
        wait_text(phone, "#stats", "×")
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px phone"
        phone.screenshot(path=str(shots / "app_phone.png"), full_page=True)
        browser.close()
    assert not external, f"the page fetched from outside this machine: {external}"
    assert not errors, errors


def _external(url: str) -> bool:
    host = urlparse(url).hostname
    return url.startswith(("http:", "https:", "ws:", "wss:")) and host not in (
        "127.0.0.1",
        "localhost",
    )
