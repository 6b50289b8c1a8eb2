"""A trainee answers a released workbook in real JupyterLab in headless Chromium.

Build a small course, release it, start JupyterLab on loopback in the trainee's
folder, run all cells, answer a choice, a number and an essay by clicking and
typing, restart the kernel and run all, reload the page: the answers are still
shown and stored. Then submit with the button and find the submission in the
inbox. Every request that is not to 127.0.0.1 is blocked and must not happen.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import _code, _md, launch_chromium, python_notebook, write_course  # noqa: E402
from servers import LoopbackGuard, free_port, wait_for  # noqa: E402

pytestmark = pytest.mark.browser

ESSAY = "先摸清诉求，再分级派单。"
#: The parameters cell of the demo workbooks (this file's and test_workbook_ui's).
PARAMETERS = (
    'cohort = "demo"\nsession = "s1"\nunit = "blue"\nunit_name = "社会治理"\n'
    'unit_colour = "#1565c0"\nmode = "assessed"\nseed = 1\ngrowth = 0.05'
)


def _workbook_notebook() -> nbformat.NotebookNode:
    return python_notebook(
        [
            _md("# 12345 热线工单处置"),
            _code(PARAMETERS, "parameters"),
            _code("from kit.questions import ask, key"),
            _code('ask.choice("qc", "诉求 A 应归入哪一类？", ["咨询", "求助", "投诉"])'),
            _code('key("qc", "求助")', "key"),
            _code('ask.number("qn", "超期工单占比是多少？", unit="%", tolerance=0.5)'),
            _code('key("qn", 12.5)', "key"),
            _code(
                'ask.essay("qe", "你会如何处置积压？", rubric=[{"text": "思路清楚", "points": 2}])'
            ),
        ]
    )


def _answers(store: Path) -> dict:
    try:
        return {
            q: e.get("value") for q, e in json.loads(store.read_text("utf-8"))["answers"].items()
        }
    except (OSError, ValueError, KeyError):
        return {}


@pytest.fixture
def released(tmp_path: Path):
    """A course built and released; the trainee's copy of one workbook in lab/."""
    from kit.builder import build
    from kit.workbook import release

    root = write_course(tmp_path / "course", cohorts={"c1": 0.05})
    nbformat.write(_workbook_notebook(), root / "cases/coop.ipynb")
    assert not build(root, "c1").failures
    assert not release(root, "c1", trainees=["t01"]).failures
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copy(root / "exchange/c1/outbox/t01/coop.ipynb", lab / "coop.ipynb")
    return root, lab


@pytest.fixture
def jupyterlab(released, tmp_path: Path):
    root, lab = released
    with lab_server(lab, tmp_path) as (base, token):
        yield root, lab, base, token


def hub_args() -> list[str]:
    """What the hub adds to every trainee's server (kit.hub.config, kit.hub.look): casekit's Voilà."""
    from kit.hub import look

    return ["--VoilaConfiguration.template=casekit", *look.server_args("zh")]


@contextlib.contextmanager
def lab_server(lab: Path, tmp_path: Path, *, hub_voila: bool = False):
    """A real JupyterLab (with Voilà's extension) on loopback serving `lab`: (base URL, token).

    ``hub_voila`` serves Voilà as the hub does (casekit's template).
    """
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jrun"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "jsettings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "jws"),
    }
    env.pop("CASEKIT_MODE", None)
    if hub_voila:
        from kit.hub import look

        env["JUPYTER_PATH"] = str(look.SHARE)
        env["JUPYTER_CONFIG_PATH"] = str(look.SERVER_CONFIG)
    cmd = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        "--allow-root",
        f"--ServerApp.token={token}",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--ServerApp.root_dir={lab}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(hub_args() if hub_voila else ()),
    ]
    log = open(tmp_path / "jupyter.log", "wb")
    proc = subprocess.Popen(cmd, cwd=lab, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urlopen(f"{base}/api/status?token={token}", timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_for(up, 60, "JupyterLab to start")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_answers_survive_restart_reload_and_submit(jupyterlab):
    from playwright.sync_api import sync_playwright

    root, lab, base, token = jupyterlab
    store = lab / "coop.answers.json"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        guard = LoopbackGuard()
        context.route("**/*", guard)
        blocked = guard.blocked
        page = context.new_page()
        page.set_default_timeout(60_000)

        def command(cmd: str, accept: bool = False) -> None:
            page.wait_for_function("window.jupyterapp && window.jupyterapp.commands")
            # not awaited: a command that opens a dialog resolves only after it closes
            page.evaluate("(c) => { window.jupyterapp.commands.execute(c); }", cmd)
            if accept:
                page.locator(".jp-Dialog .jp-mod-accept").click()

        def open_notebook() -> None:
            page.goto(f"{base}/lab/tree/coop.ipynb?token={token}&reset")
            page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
            kernel_idle()

        def kernel_idle() -> None:
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }"
            )

        def widgets_rendered() -> None:
            # "attached", not "visible": JupyterLab 4 virtualises off-screen cells
            for qid in ("qc", "qn", "qe"):
                page.wait_for_selector(f".casekit-q-{qid}", state="attached")
            page.wait_for_selector(".casekit-progress", state="attached")

        try:
            _drive(page, command, open_notebook, widgets_rendered, kernel_idle, store)
        except Exception:
            page.screenshot(path=str(lab.parent / "failure.png"))
            raise
        browser.close()
    _check_inbox(root, blocked)


def _drive(page, command, open_notebook, widgets_rendered, kernel_idle, store):
    """Answer, restart and run all, reload, submit: as a trainee would."""
    open_notebook()
    command("notebook:run-all-cells")
    widgets_rendered()
    assert page.locator(".casekit-q-qc input[type=radio]:checked").count() == 0

    page.locator(".casekit-q-qc label", has_text="求助").click()
    page.locator(".casekit-q-qn input[type=text]").click()
    page.keyboard.type("１２.５%")
    page.locator(".casekit-q-qe textarea").click()
    page.keyboard.type(ESSAY)
    want = {"qc": "求助", "qn": 12.5, "qe": ESSAY}
    wait_for(lambda: _answers(store) == want, 30, f"store to hold {want}")
    page.wait_for_selector(".casekit-progress :text('3 / 3')", state="attached")

    def shows_answers() -> None:
        widgets_rendered()
        radio = page.locator(".casekit-q-qc label", has_text="求助").locator("input")
        wait_for(radio.is_checked, 30, "the saved choice to show")
        assert page.locator(".casekit-q-qn input[type=text]").input_value() == "１２.５%"
        assert page.locator(".casekit-q-qe textarea").input_value() == ESSAY

    # restart the kernel and run everything again: the widgets are rebuilt from the store
    # Mark the current views so the check below can only pass on rebuilt ones.
    page.evaluate("() => document.querySelectorAll('.casekit-q').forEach(e => e.dataset.old = '1')")
    command("notebook:restart-run-all", accept=True)
    page.wait_for_function(
        "() => document.querySelectorAll('.casekit-q[data-old]').length === 0"
        " && document.querySelectorAll('.casekit-q-qe').length > 0"
    )
    kernel_idle()
    shows_answers()
    # reload the page (after the usual save): the same answers are shown
    command("docmanager:save")
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    kernel_idle()
    shows_answers()
    assert _answers(store) == want

    page.locator(".casekit-progress button", has_text="提交作业").click()
    receipt = page.wait_for_selector(".casekit-receipt", state="attached")
    assert "已提交" in receipt.inner_text()


WANT = {"qc": "求助", "qn": 12.5, "qe": ESSAY}


def _check_inbox(root, blocked):
    want = WANT
    inbox = root / "exchange/c1/inbox/t01/coop"
    folders = [d for d in inbox.iterdir() if not d.name.startswith(".")]
    assert len(folders) == 1
    got = json.loads((folders[0] / "answers.json").read_text("utf-8"))
    assert {q: e["value"] for q, e in got["answers"].items()} == want
    assert json.loads((folders[0] / "receipt.json").read_text("utf-8"))["trainee"] == "t01"
    assert (folders[0] / "workbook.ipynb").exists()
    assert blocked == [], blocked
