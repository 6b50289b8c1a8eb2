"""The live view on a phone (390 px) and on a short projector (1280 × 800), in Chromium.

A small class answers a choice question through the workbook runtime. On a
phone the question list does not keep its sidebar width and the prompt wraps
as text does, not one character per line; on a short projector, after a
reveal and with the chart scrolled to its end, the prompt is still in full
view below the header and the buttons are still on screen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import LIVE_CELLS, class_course, runtime_of, wait_for  # noqa: E402
from conftest import launch_chromium  # noqa: E402

pytestmark = pytest.mark.browser

LAYOUT_JS = """() => {
  const r = s => document.querySelector(s).getBoundingClientRect();
  const prompt = document.querySelector('#prompt');
  const lines = prompt.getBoundingClientRect().height / parseFloat(getComputedStyle(prompt).lineHeight);
  return {nav: r('nav').width, header: r('header').bottom, prompt: r('#prompt'), lines,
          controls: r('#controls'), page: document.documentElement.scrollWidth};
}"""


def test_live_view_on_a_phone_and_a_short_projector(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from kit.live.server import live
    from kit.workbook import release

    root = class_course(tmp_path / "course", *LIVE_CELLS, trainees=4)
    assert not release(root, "c1").failures
    server = live(root, "c1", "coop", port=0, background=True)
    try:
        for t, pick in zip(("t01", "t02", "t03"), ("求助", "求助", "投诉"), strict=True):
            runtime_of(root, t).save("q-kind", pick, "choice")
        wait_for(lambda: server.live.snapshot_of("q-kind")["summary"]["n"] == 3, 30, "answers")
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            page.set_default_timeout(60_000)
            page.goto(server.url)
            page.locator("nav button[data-qid='q-urgent']").click()
            page.wait_for_selector("#stage[data-qid='q-urgent']")
            phone = page.evaluate(LAYOUT_JS)
            # the list of questions is a strip above the stage, the prompt has the width
            assert phone["page"] <= 390, phone
            assert phone["prompt"]["width"] > 300, phone
            assert phone["lines"] <= 3, phone  # 哪些工单需要当天处置？ in a line or two
            page.set_viewport_size({"width": 1280, "height": 800})
            page.locator("nav button[data-qid='q-kind']").click()
            page.wait_for_selector("#stage[data-qid='q-kind']")
            page.locator("#b-open").click()
            page.wait_for_selector("#stage[data-status='open']")
            page.locator("#b-close").click()
            page.wait_for_selector("#stage[data-status='closed']")
            page.locator("#b-reveal").click()
            page.wait_for_selector("#chart .bar.key")
            page.evaluate(
                "() => { const s = document.querySelector('#stage'); s.scrollTop = s.scrollHeight; }"
            )
            page.wait_for_timeout(300)
            shown = page.evaluate(LAYOUT_JS)
            browser.close()
    finally:
        server.stop()
    assert shown["nav"] > 200, shown  # on a projector the list is a sidebar again
    assert shown["prompt"]["top"] >= shown["header"] - 1, shown  # not under the header
    assert shown["prompt"]["bottom"] <= 800 and shown["prompt"]["height"] > 20, shown
    assert shown["controls"]["bottom"] <= 801, shown  # the buttons stay on the screen
