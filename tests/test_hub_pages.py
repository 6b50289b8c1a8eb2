"""Every page a trainee meets on the hub speaks the course's language: a real JupyterHub, Chromium at 390 px.

`kit.hub` starts a small hub of its own (one trainee and one instructor whose
ids carry this run's prefix, free ports). A trainee on a phone meets the
sign-in page, a wrong password, "your server is starting", the workbook list,
the workbook, the home page, a missing page and the token page: on none of them
is there an English word outside code and data (tests/page_checks.py). In
their JupyterLab there is no nbgrader: no menu, no panel, no formgrader.

Needs root (it makes and removes system users), like tests/test_hub.py.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import _code, _md, launch_chromium, python_notebook, write_course  # noqa: E402
from page_checks import check  # noqa: E402
from servers import LoopbackGuard, free_port  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.hub,
    pytest.mark.xdist_group("hub"),
    pytest.mark.skipif(os.geteuid() != 0, reason="makes system users: run as root (make test)"),
]

COHORT = "pagesc1"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _notebook() -> nbformat.NotebookNode:
    return python_notebook(
        [
            _md("# 12345 热线工单处置"),
            _code(
                'cohort = "demo"\nsession = "coop"\nunit = "blue"\nunit_name = "社会治理"\n'
                'unit_colour = "#1565c0"\nmode = "assessed"\nseed = 1\ngrowth = 0.05',
                "parameters",
            ),
            _code("import pandas as pd\nfrom kit.questions import ask, key"),
            _code("pd.Series([12.5, 3.0], index=['超期', '退单'], name='占比')"),
            _code('ask.multi("q-urgent", "哪些工单需要当天处置？", ["停水", "噪音", "供暖中断"])'),
            _code('key("q-urgent", ["停水", "供暖中断"])', "key"),
        ]
    )


@pytest.fixture(scope="module")
def hub():
    """(url, trainee, password, instructor, instructor's password) of a running hub of this module."""
    import kit
    from kit.builder import build

    prefix = f"p{secrets.token_hex(3)}-"
    base = Path(tempfile.mkdtemp(prefix=f"casekit-pages-{prefix}", dir="/var/tmp"))
    base.chmod(0o755)
    root = write_course(base / "course", cohorts={COHORT: 0.05}, prefix=prefix)
    roster = root / "cohorts" / COHORT / "roster.csv"
    roster.write_text("\n".join(roster.read_text("utf-8").splitlines()[:2]) + "\n", "utf-8")
    nbformat.write(_notebook(), root / "cases/coop.ipynb")
    assert build(root, COHORT, progress=False).ok
    homes, owner = base / "homes", f"{prefix}owner"
    # the hub shows "your server is starting" at once (kit.hub.waiting holds it 15 s by default,
    # and a server that starts in that time is a direct redirect: nothing to look at)
    os.environ["CASEKIT_PENDING_WAIT"] = "0"
    try:
        started = kit.hub(root, COHORT, "start", port=free_port(), homes=homes, owner=owner)
        trainee, instructor = f"{prefix}t01", f"{prefix}f1"
        yield (
            started.url,
            trainee,
            started.passwords[trainee],
            instructor,
            started.passwords[instructor],
        )
    finally:
        os.environ.pop("CASEKIT_PENDING_WAIT", None)
        kit.hub(root, COHORT, "stop")
        log = root / ".casekit" / "hub" / COHORT / "jupyterhub.log"
        if log.exists():
            shutil.copy(log, Path("/var/tmp") / f"casekit-pages-{COHORT}.log")
        kit.hub(root, COHORT, "remove-users", homes=homes, owner=owner)
        subprocess.run(["userdel", owner], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        assert not [u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(prefix)]


def test_no_english_on_any_trainee_page(hub) -> None:
    from playwright.sync_api import sync_playwright

    url, trainee, password, instructor, instructor_password = hub
    seen: dict[str, dict] = {}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(**PHONE)
        guard = LoopbackGuard()
        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(180_000)

        def look(name: str) -> None:
            page.wait_for_load_state()
            seen[name] = {**check(page), "url": page.url}

        try:
            page.goto(f"{url}/hub/login")
            look("sign-in")
            page.fill("input[name=username]", trainee)
            page.fill("input[name=password]", "not-the-password")
            page.click("#login_submit")
            page.wait_for_selector(".login_error")
            look("wrong password")
            page.fill("input[name=username]", trainee)
            page.fill("input[name=password]", password)
            page.click("#login_submit")
            page.wait_for_url("**/spawn-pending/**")
            page.wait_for_selector(".casekit-starting")
            look("server starting")
            page.wait_for_url(f"**/user/{trainee}/voila/tree**")
            page.wait_for_selector("text=coop.ipynb")
            look("workbook list")
            page.goto(f"{url}/user/{trainee}/voila/render/coop.ipynb")
            page.wait_for_selector(".casekit-q-q-urgent .widget-checkbox", state="visible")
            look("workbook")
            page.goto(f"{url}/hub/home")
            look("home")
            page.goto(f"{url}/hub/no-such-page")
            look("missing page")
            page.goto(f"{url}/hub/token")
            look("token page")
            # the hub's token.js takes the form once it has loaded (AMD, after the page)
            page.wait_for_function(
                "() => window.jQuery && (jQuery._data("
                "document.getElementById('request-token-form'), 'events') || {}).submit"
            )
            page.click("#request-token-form button[type=submit]")
            page.wait_for_selector("#token-result:not(:empty)")
            look("token made")
            # JupyterLab on a desktop (a phone gets its single-document view), signed in the same
            desk = browser.new_context(
                viewport={"width": 1280, "height": 900}, storage_state=context.storage_state()
            )
            page = desk.new_page()
            page.set_default_timeout(180_000)
            _no_nbgrader(page, url, trainee)
        except Exception:
            page.screenshot(path="/var/tmp/casekit-pages-failure.png", full_page=True)
            raise
        finally:
            browser.close()
    for name, found in seen.items():
        assert found["english"] == [], (name, found["url"], found["english"][:10])
        assert found["page_overflow"] <= 0, (name, found["page_overflow"])
    assert guard.blocked == [], guard.blocked  # nothing from a CDN


def _no_nbgrader(page, url: str, trainee: str) -> None:
    """The trainee's JupyterLab holds no nbgrader menu or panel, and the server no formgrader."""
    page.goto(f"{url}/user/{trainee}/lab")
    page.wait_for_selector("#jp-menu-panel .lm-MenuBar-itemLabel")
    page.wait_for_selector(".jp-LauncherCard", state="attached")
    menus = page.eval_on_selector_all(
        "#jp-menu-panel .lm-MenuBar-itemLabel", "els => els.map(e => e.textContent)"
    )
    assert "文件" in menus, menus  # the menu is there, in Chinese
    assert not [m for m in menus if "nbgrader" in m.lower()], menus
    config = page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
    )
    assert "@jupyter/nbgrader" in config["disabledExtensions"]
    assert page.locator("text=Create Assignment").count() == 0
    # the trainee's own session asks: with the extension served, this is nbgrader's page
    answer = page.request.get(f"{url}/user/{trainee}/formgrader", max_redirects=0)
    assert answer.status == 404, answer.status
