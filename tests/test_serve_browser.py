"""The page of `wherewhen serve` in a real browser: headless Chromium (Debian's package) driven by Playwright through
what a person does: choose a video and a model, watch the heatmap and the timeline, jump and step, mark and save
frames, compare two models, upload a broken file, browse a run's evaluation. It also takes the picture of the page
for the docs: ``WHEREWHEN_UPDATE_SCREENSHOT=1`` copies it to docs/images/serve.png.

Skipped, with the reason, only where Playwright or a Chromium executable is missing (``.ci/run`` installs both
where it can): ``WHEREWHEN_CHROMIUM`` names another executable.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO
from wherewhen.features.store import FeatureStore
from wherewhen.serve import ServeConfig, create_app

CHROMIUM = Path(os.environ.get("WHEREWHEN_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = REPO / "docs" / "images" / "serve.png"
WAIT_MS = 90_000


def playwright_or_skip() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright; .ci/run installs it)")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it where it can)")
    return sync_playwright


@pytest.fixture(scope="module")
def server(
    trained_runs: Path, embedded_features: tuple[Path, FeatureStore], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The server on a free loopback port, in a thread: (its address, its working folder)."""
    import uvicorn

    playwright_or_skip()
    workdir = tmp_path_factory.mktemp("serve_browser")
    app = create_app(ServeConfig(runs=(trained_runs,), workdir=workdir))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", workdir
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def page(server: tuple[str, Path]) -> Iterator[Any]:
    sync_playwright = playwright_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server[0] + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
        yield page
        assert errors == [], errors  # no script error on the way
        browser.close()


def video_time(page: Any, panel: int = 0) -> float:
    return float(page.evaluate(f"document.querySelectorAll('.panel video')[{panel}].currentTime"))


def heatmap_pixels(page: Any) -> int:
    """Pixels of the first panel's overlay drawn at the heatmap's opacity (boxes are drawn opaque)."""
    return int(
        page.evaluate(
            """() => {
            const c = document.querySelector('.panel canvas.overlay');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 100 && d[i] < 160) n++;
            return n;
        }"""
        )
    )


def click_timeline(page: Any, share: float, panel: int = 0) -> None:
    timeline = page.locator(".panel canvas.timeline").nth(panel)
    box = timeline.bounding_box()
    timeline.click(position={"x": share * box["width"], "y": box["height"] / 2})


def wait_for_time(page: Any, expected: float, panel: int = 0) -> None:
    deadline = time.monotonic() + 10
    while abs(video_time(page, panel) - expected) > 0.02:
        assert time.monotonic() < deadline, f"video at {video_time(page, panel)} s, not {expected} s"
        time.sleep(0.05)


def test_watch_jump_step_select_and_compare(page: Any, server: tuple[str, Path]) -> None:
    _, workdir = server
    test_videos = page.eval_on_selector_all("#video option", "os => os.map(o => [o.value, o.textContent])")
    video = next(value for value, text in test_videos if "test" in text)
    page.select_option("#video", video)
    page.select_option("#run", "r0")
    page.click("#explain")
    page.wait_for_selector(".panel[data-state=done]", timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('.panel video').readyState >= 2", timeout=WAIT_MS)
    label = page.text_content(".panel .label")
    assert label.split(" (")[0] in ("Cat", "Coffee") and label.endswith("%)")
    assert page.locator(".panel .top5 tr").count() == 2  # two classes
    page.wait_for_function("document.querySelector('.panel canvas.overlay').dataset.row !== undefined")
    assert heatmap_pixels(page) > 200  # a heatmap frame drawn over the video

    duration = float(page.evaluate("document.querySelector('.panel video').duration"))
    click_timeline(page, 0.75)
    wait_for_time(page, 0.75 * duration)  # the click seeked the video
    page.wait_for_function("document.querySelector('.panel canvas.overlay').dataset.row === '5'")
    assert "explained frame 11 at 1.10 s" in page.text_content(".panel .now")
    page.click(".panel .next-frame")
    wait_for_time(page, 13.5 / 10)  # frame 12 -> 13 at 10 fps, aimed at its middle
    page.click(".panel .prev-row")
    wait_for_time(page, 1.15)

    page.click("#mark")
    click_timeline(page, 0.2)
    page.click("#mark")
    assert page.text_content("#selection-count") == "2 of 8 rows chosen"
    page.click("#save-selection")
    page.wait_for_selector("text=Saved 2 rows", timeout=WAIT_MS)
    saved = json.loads(next((workdir / "selections").glob("*.json")).read_text())
    assert saved == {video.split(":", 1)[1]: [1, 5]}
    assert "data.frame_selection=" in page.text_content("#selection-command")

    page.select_option("#compare", "r1")
    page.click("#explain")
    page.wait_for_selector(".panel[data-state=done] >> nth=1", timeout=WAIT_MS)
    page.wait_for_function("[...document.querySelectorAll('.panel video')].every(v => v.readyState >= 2)")
    assert [t.split(" (")[0] for t in page.locator(".panel .panel-title").all_text_contents()] == [
        "runs/attention_pool",
        "runs/lstm_avg",
    ]
    click_timeline(page, 0.75)  # a frame with a ground-truth box, for the picture
    wait_for_time(page, 0.75 * duration, panel=0)
    wait_for_time(page, 0.75 * duration, panel=1)  # the second model follows the first
    page.wait_for_timeout(300)
    shot = page.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("WHEREWHEN_UPDATE_SCREENSHOT"):
        SCREENSHOT.write_bytes(shot)


def test_a_broken_upload_is_refused_on_the_page(page: Any) -> None:
    page.set_input_files("#upload", files=[{"name": "broken.mp4", "mimeType": "video/mp4", "buffer": os.urandom(4096)}])
    error = page.wait_for_selector("#upload-error:not([hidden])", timeout=WAIT_MS)
    assert error.text_content().startswith("Upload refused: broken.mp4 is not a video this server can decode (")
    assert page.evaluate("fetch('/api/catalog').then(r => r.status)") == 200  # the server goes on
    assert "broken" not in " ".join(page.eval_on_selector_all("#video option", "os => os.map(o => o.textContent)"))


def test_a_runs_evaluation_leads_to_its_explanations(page: Any) -> None:
    page.click("#tab-evaluation")
    page.select_option("#eval-run", "r0")
    page.click("#evaluate")
    page.wait_for_selector("#eval-result:not([hidden])", timeout=WAIT_MS)
    assert "top-1" in page.text_content("#metrics") and "pointing game" in page.text_content("#metrics")
    assert page.locator("#per-class tr").count() == 3  # header and two classes
    page.wait_for_function("document.getElementById('confusion').naturalWidth > 0")
    rows = page.locator("#eval-videos tr[data-video]")
    assert rows.count() >= 2
    page.select_option("#eval-sort", "confidence-asc")
    first = rows.nth(0).get_attribute("data-video")
    rows.nth(0).locator("button").click()
    page.wait_for_selector("#watch:not([hidden]) .panel[data-state=done]", timeout=WAIT_MS)
    assert page.input_value("#video") == first


def test_the_screenshot_is_in_the_docs() -> None:
    if not SCREENSHOT.is_file():
        pytest.fail(f"{SCREENSHOT} is missing: run the browser tests with WHEREWHEN_UPDATE_SCREENSHOT=1")
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
