"""PDF copies of casekit's pages, printed by Chromium (``--pdf`` on handouts, feedback and report).

The HTML page is the source: Chromium opens it from disk, with no network,
and prints it with the page's own print rules (A4, backgrounds kept so the
unit colours show). One browser serves a whole batch; a page that fails
becomes a failure of the batch, never its end. Chinese needs a CJK font on
the machine (``fonts-noto-cjk`` on Debian, see ``scripts/system-deps.sh``);
the browser is the system's Chromium, driven through Playwright
(``pip install 'casekit[pdf]'``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from kit.messages import t
from kit.problems import Failure, Outcome, UserError

#: Debian's Chromium, headless, with nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class PdfResult(Outcome):
    """The PDFs written, and the pages that could not be printed."""


def chromium_path() -> str:
    """The Chromium to print with: ``CASEKIT_CHROMIUM``, else the system's."""
    for candidate in (
        os.environ.get("CASEKIT_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise UserError(t("pdf.no_chromium"))


def to_pdf(pages: Iterable[Path]) -> PdfResult:
    """Print each HTML page to a PDF beside it (``x.html`` → ``x.pdf``)."""
    pages = [Path(p) for p in pages]
    result = PdfResult()
    if not pages:
        return result
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise UserError(t("pdf.no_playwright")) from None
    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True)
            for html in pages:
                target = html.with_suffix(".pdf")
                page = context.new_page()
                try:
                    page.goto(html.resolve().as_uri(), wait_until="load", timeout=120_000)
                    tmp = target.with_name(f".{target.name}.tmp")
                    page.pdf(
                        path=str(tmp),
                        format="A4",
                        print_background=True,
                        margin={"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"},
                    )
                    tmp.replace(target)
                    result.written.append(target)
                except Exception as e:  # noqa: BLE001 - one page never sinks the batch
                    result.failures.append(
                        Failure(html.name, f"{type(e).__name__}: {e}", str(html))
                    )
                finally:
                    page.close()
        finally:
            browser.close()
    return result
