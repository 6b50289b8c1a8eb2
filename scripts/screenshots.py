"""Screenshots of the pages people read, on a desktop and on a phone, for docs/screenshots/.

    python scripts/screenshots.py [OUT_FOLDER]

A copy of the sample course goes through the golden flow (tests/test_golden.py:
build, seven trainees hand in, grade, mark, feedback), then every handout, the
guide, the cohort report and the programme report are written, and Debian's
Chromium (through Playwright, offline) photographs them at 1280 px and at
390 px (a phone, drawn at twice the pixels). Pages are fixed at a date after
every due time, so the pictures do not change with the day they are taken.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

COHORT = "2026-spring"
NOW = datetime(2026, 7, 1, tzinfo=UTC)

#: name → (page under build/, viewport) — desktop pictures show the top of the page,
#: phone pictures the first screens.
DESKTOP = {"width": 1280, "height": 1400}
PHONE = {"width": 390, "height": 1500}


def sample_state(folder: Path) -> Path:
    """The sample course, graded and with every page written, in `folder`."""
    from test_golden import run_sample

    import kit
    from kit.grading import feedback
    from kit.programme import guide, programme_report, report

    root = folder / "sample"
    root.mkdir(parents=True)
    for name in ("course.toml", "catalog", "cohorts", "cases", "exercises"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    assert kit.build(root, COHORT, progress=False).ok
    run_sample(root)
    feedback(root, COHORT, now=NOW)
    assert kit.handouts(root, COHORT, progress=False).ok
    guide(root)
    report(root, COHORT, now=NOW)
    programme_report(root, now=NOW)
    return root


def shots(root: Path) -> dict[str, tuple[Path, dict]]:
    b = root / "build" / COHORT
    out = {
        "index": (b / "handouts/index.html", DESKTOP),
        "instructor-index": (b / "instructor/handouts/index.html", DESKTOP),
        "guide": (root / "build/guide/index.html", DESKTOP),
        "feedback": (b / "feedback/sp02/blue-2.html", DESKTOP),
        "report": (b / "report.html", DESKTOP),
        "programme": (root / "build/programme/report.html", DESKTOP),
        "instructor-handout": (b / "instructor/handouts/gold-1.html", DESKTOP),
        "phone-feedback": (b / "feedback/sp01/red-2.html", PHONE),
        "phone-handout": (b / "handouts/blue-2.html", PHONE),
        "phone-report": (b / "report.html", PHONE),
        "phone-guide": (root / "build/guide/index.html", PHONE),
    }
    for unit in ("red", "green", "blue", "gold"):
        out[f"handout-{unit}"] = (b / f"handouts/{unit}-1.html", DESKTOP)
    return out


def main(out: str | None = None) -> None:
    from playwright.sync_api import sync_playwright

    from kit.pages.pdf import CHROMIUM_ARGS, chromium_path

    target = Path(out) if out else ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="casekit-shots-") as tmp:
        root = sample_state(Path(tmp))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for name, (page_path, viewport) in shots(root).items():
                phone = viewport is PHONE
                page = browser.new_page(viewport=viewport, device_scale_factor=2 if phone else 1)
                page.set_default_timeout(120_000)
                page.goto(page_path.resolve().as_uri())
                page.wait_for_load_state("load")
                page.screenshot(path=str(target / f"{name}.png"))
                page.close()
                print(target / f"{name}.png")
            browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
