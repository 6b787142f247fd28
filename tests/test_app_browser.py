"""The review studio in a real browser: Playwright driving Debian's Chromium (headless).

Upload a 12 s cut of the demo scene, run, edit a translation in the segment table, render,
wait for the new video, check the original/dub switch keeps the two in step, and save a
screenshot to ``test-artifacts/app_browser.png``. Skipped where /usr/bin/chromium is
missing (CI installs it with apt; never ``playwright install``).
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("playwright")
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")

ROOT = Path(__file__).parents[1]
SCENE = ROOT / "demo" / "ami_meeting_tst00_en.mp4"
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from dubpreview.app import launch
    from dubpreview.media.ffmpeg import ffmpeg_exe

    tmp = tmp_path_factory.mktemp("browser")
    clip = tmp / "meeting-cut.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-t", "12", "-i", str(SCENE), "-c", "copy", str(clip)],
                   check=True, timeout=60)
    port = free_port()
    demo = launch("127.0.0.1", port, projects=str(tmp / "projects"), block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/", clip
    demo.close()


@pytest.mark.slow
def test_upload_run_edit_render_in_chromium(app_url):
    from playwright.sync_api import expect, sync_playwright

    url, clip = app_url
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(30_000)
            page.goto(url, wait_until="load")
            expect(page.locator("#dp-run")).to_be_visible()
            page.locator("#dp-scene input[type=file]").set_input_files(str(clip))
            expect(page.locator("#dp-scene")).to_contain_text("meeting-cut.mp4")
            # Whisper base hears the first 12 s of this meeting (a German speaker's English) as German
            # (p 0.74): a reviewer names the scene's language, as the app offers
            page.locator("#dp-source-language input").fill("en")
            page.locator("#dp-source-language input").press("Enter")
            page.locator("#dp-run").click()
            summary = page.locator("#dp-summary")
            expect(summary).to_contain_text("English → Portuguese", timeout=300_000)
            video = page.locator("#dp-video")
            first_src = video.get_attribute("src")
            assert first_src and "preview.mp4" in first_src
            table = page.locator("#dp-table")
            expect(table.locator('[data-testid="cell-1-5"]')).not_to_be_empty()
            expect(table.locator('[data-testid="cell-0-9"]')).to_contain_text(
                re.compile("fits|sped up|overruns|late"))

            new_text = "Sim, sim, com certeza."
            cell = table.locator('[data-testid="cell-1-5"]')
            cell.dblclick()
            editor = cell.locator("textarea, input").first
            editor.fill(new_text)
            editor.press("Enter")
            expect(page.locator("#dp-edit-msg")).to_contain_text("line 1: translation", timeout=60_000)

            page.locator("#dp-render").click()
            page.wait_for_function(
                "old => { const v = document.getElementById('dp-video'); return v && v.getAttribute('src') !== old; }",
                arg=first_src, timeout=180_000)
            expect(table.locator('[data-testid="cell-1-5"]')).to_contain_text(new_text)
            # the browser plays the new preview: metadata loads, about 12 s long
            page.wait_for_function("() => document.getElementById('dp-video').readyState >= 1", timeout=60_000)
            duration = page.evaluate("() => document.getElementById('dp-video').duration")
            assert 11.5 < duration < 12.6, duration

            # the switch: "Original" mutes the video and plays the original from the same position
            page.locator('#dp-player input[name="dp-track"][value="original"]').check()
            page.evaluate("() => { const v = document.getElementById('dp-video'); v.currentTime = 4.0; return v.play(); }")
            page.wait_for_function(
                "() => { const a = document.querySelector('#dp-player audio[data-track=original]');"
                " return a && !a.paused && a.currentTime > 4.2; }", timeout=30_000)
            state = page.evaluate(
                "() => { const v = document.getElementById('dp-video'); const a = document.querySelector("
                "'#dp-player audio[data-track=original]'); return {muted: v.muted, drift: Math.abs(a.currentTime - v.currentTime)}; }")
            assert state["muted"] is True and state["drift"] < 0.3, state
            page.locator('#dp-player input[name="dp-track"][value="video"]').check()
            back = page.evaluate(
                "() => ({muted: document.getElementById('dp-video').muted,"
                " paused: document.querySelector('#dp-player audio[data-track=original]').paused})")
            assert back == {"muted": False, "paused": True}
            page.evaluate("() => document.getElementById('dp-video').pause()")
            # the file list shows names as "preview .mp4" (name and extension in two spans)
            expect(page.locator("#dp-downloads")).to_contain_text(re.compile(r"preview\s*\.mp4"))
            expect(page.locator("#dp-downloads")).to_contain_text(re.compile(r"subtitles\.pt\s*\.srt"))
            page.screenshot(path=str(ARTIFACTS / "app_browser.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "app_browser.png").stat().st_size > 20_000
