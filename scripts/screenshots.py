"""Screenshots of one handout per unit, the index and the guide, for docs/screenshots/.

    python scripts/screenshots.py [COHORT]   (after `make demo`)

Uses Debian's Chromium through Playwright, offline.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from kit.course import load_course

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main(cohort: str = "2026-spring") -> None:
    course = load_course(ROOT)
    handouts = ROOT / "build" / cohort / "handouts"
    shots = {"index": handouts / "index.html", "guide": ROOT / "build/guide/index.html"}
    for s in course.cohort(cohort).sessions:
        shots.setdefault(f"handout-{s.unit}", handouts / f"{s.session}.html")
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1300})
        for name, html in shots.items():
            page.goto(html.resolve().as_uri())
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}.png"))
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
