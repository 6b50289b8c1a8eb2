"""A real classroom: JupyterHub, its proxy and the exchange service on loopback, real system users.

`kit.hub` starts the hub for a cohort of three trainees and one instructor.
Through Chromium each trainee signs in, opens the workbook (Voilà: ready
without running anything), answers a choice, a number, a text and code, and
hands in; the instructor side collects and grades. Then a trainee tries to
reach what is not theirs through the browser, the Jupyter and hub APIs, the
exchange service and the file system; hands in a workbook claiming somebody
else; the hub and every server restart; and a trainee on a 390 px phone fills
in an observation log and uploads a photo.

Needs root (it makes and removes system users); `make test` runs as root.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlparse
from urllib.request import Request, urlopen
from zoneinfo import ZoneInfo

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import _code, _md, launch_chromium, python_notebook, write_course  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.hub,
    pytest.mark.xdist_group("hub"),
    pytest.mark.skipif(os.geteuid() != 0, reason="makes system users: run as root (make test)"),
]

COHORT = "hubc1"
#: Screenshots of failures and of the phone survive the fixture's clean-up.
SHOTS = Path("/var/tmp/casekit-hub-shots")
OWNER = "ckhubtest"
TRAINEES = ("t01", "t02", "t03")
ANSWERS = {  # choice, number, text, code → expected automatic points (max 5)
    "t01": ("求助", "12.5", "分级", "def total(xs):\n    return sum(xs)\n", 5.0),
    "t02": ("咨询", "12.5", "分级", "def total(xs):\n    return 0\n", 3.0),
    "t03": ("求助", "99", "不知道", "def total(xs):\n    return sum(xs)\n", 3.0),
}
OBSERVATION = {
    "what": "便民服务窗口六个",
    "who": "村党支部书记",
    "problems": "排队久",
    "ideas": "预约制",
}


def _notebook() -> nbformat.NotebookNode:
    return python_notebook(
        [
            _md("# 12345 热线工单处置（集训）\n\n某区热线积压了 300 件工单。"),
            _code(
                'cohort = "demo"\nsession = "coop"\nunit = "blue"\nunit_name = "社会治理"\n'
                'unit_colour = "#1565c0"\nmode = "assessed"\nseed = 1\ngrowth = 0.05',
                "parameters",
            ),
            _code("from kit.questions import ask, key, test"),
            _code('ask.choice("q-kind", "诉求 A 应归入哪一类？", ["咨询", "求助", "投诉"])'),
            _code('key("q-kind", "求助")', "key"),
            _code('ask.number("q-share", "超期工单占比是多少？", unit="%", tolerance=0.5)'),
            _code('key("q-share", 12.5)', "key"),
            _code('ask.text("q-word", "用两个字概括处置原则。")'),
            _code('key("q-word", "分级")', "key"),
            _code('ask.code("q-code", "写一个函数 total(xs)，返回列表之和。", points=2)'),
            _code("def total(xs):\n    return sum(xs)", "solution"),
            _code(
                '@test("q-code", points=1, name="sums")\ndef _():\n    assert total([1, 2]) == 3',
                "tests",
            ),
            _code(
                '@test("q-code", points=1, name="empty")\ndef _():\n    assert total([]) == 0',
                "hidden-tests",
            ),
            _code('ask.observation("q-visit", "现场观摩记录：东山村党群服务中心")'),
            _code('ask.upload("q-photo", "上传一张现场照片", accept=".png,.jpg,.jpeg")'),
        ]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(cond, timeout: float = 60, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Classroom:
    root: Path
    base: Path
    url: str
    passwords: dict[str, str]

    def home(self, user: str) -> Path:
        return self.base / "homes" / user

    def store(self, user: str) -> dict:
        try:
            doc = json.loads((self.home(user) / COHORT / "coop.answers.json").read_text("utf-8"))
            return {q: e.get("value") for q, e in doc["answers"].items()}
        except (OSError, ValueError, KeyError):
            return {}


@pytest.fixture(scope="module")
def classroom():
    import kit
    from kit.builder import build

    # /var/tmp, not /tmp: some machines clean /tmp under a long run
    base = Path(tempfile.mkdtemp(prefix="casekit-hub-", dir="/var/tmp"))
    base.chmod(0o755)  # mkdtemp makes it 0700: the exchange service must reach the course
    root = write_course(base / "course", cohorts={COHORT: 0.05})
    nbformat.write(_notebook(), root / "cases/coop.ipynb")
    assert build(root, COHORT, progress=False).ok
    port = _free_port()
    try:
        started = kit.hub(
            root, COHORT, "start", port=port, homes=base / "homes", owner=OWNER, view="voila"
        )
        assert set(started.passwords) == {*TRAINEES, "f1"}
        yield Classroom(root, base, started.url, started.passwords)
    finally:
        kit.hub(root, COHORT, "stop")
        SHOTS.mkdir(exist_ok=True)
        log = root / ".casekit" / "hub" / COHORT / "jupyterhub.log"
        if log.exists():
            shutil.copy(log, SHOTS / "jupyterhub.log")
        kit.hub(root, COHORT, "remove-users", homes=base / "homes", owner=OWNER)
        subprocess.run(["userdel", OWNER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ browser


def _guarded_page(browser, **context):
    blocked: list[str] = []

    def guard(route):
        if urlparse(route.request.url).hostname != "127.0.0.1":
            blocked.append(route.request.url)
            return route.abort()
        return route.continue_()

    ctx = browser.new_context(**context)
    ctx.route("**/*", guard)
    page = ctx.new_page()
    page.set_default_timeout(90_000)
    return page, blocked


def _sign_in(page, room: Classroom, user: str) -> None:
    page.goto(f"{room.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", room.passwords[user])
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/voila/tree**")
    page.wait_for_selector("text=coop.ipynb")  # the workbook is in their own folder


def _open_workbook(page, room: Classroom, user: str) -> float:
    """Open the workbook; return seconds until every question and the submit button are live."""
    t0 = time.monotonic()
    page.goto(f"{room.url}/user/{user}/voila/render/coop.ipynb")
    for qid in ("q-kind", "q-share", "q-word", "q-code", "q-visit", "q-photo"):
        page.wait_for_selector(f".casekit-q-{qid}", state="visible")
    page.wait_for_selector(".casekit-progress button:has-text('提交作业')", state="visible")
    return time.monotonic() - t0


def _answer(page, choice: str, number: str, text: str, code: str) -> None:
    page.locator(".casekit-q-q-kind label", has_text=choice).click()
    page.locator(".casekit-q-q-share input[type=text]").fill(number)
    page.locator(".casekit-q-q-word input[type=text]").fill(text)
    page.locator(".casekit-q-q-code textarea").fill(code)
    page.locator(".casekit-q-q-code button", has_text="运行并保存").click()


def _hand_in(page) -> str:
    page.locator(".casekit-progress button", has_text="提交作业").click()
    receipt = page.wait_for_selector(".casekit-receipt", state="visible")
    return receipt.inner_text()


def test_trainees_answer_and_hand_in_and_are_graded(classroom: Classroom, record_property) -> None:
    from playwright.sync_api import sync_playwright

    from kit.gradebook import Gradebook
    from kit.grading import collect, grade

    room = classroom
    ready: dict[str, float] = {}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for user in TRAINEES:
            page, blocked = _guarded_page(browser, viewport={"width": 1280, "height": 900})
            try:
                _sign_in(page, room, user)
                ready[user] = _open_workbook(page, room, user)
                # nothing is answered before the trainee acts: no radio is pre-selected
                assert page.locator(".casekit-q-q-kind input:checked").count() == 0
                # the progress panel and the submit button are at the top, no scrolling
                box = page.locator(".casekit-progress").bounding_box()
                assert box is not None and box["y"] < 900
                choice, number, text, code, _ = ANSWERS[user]
                _answer(page, choice, number, text, code)
                want = {"q-kind": choice, "q-word": text, "q-code": code}
                _wait_for(
                    lambda u=user, w=want: all(room.store(u).get(k) == v for k, v in w.items()),
                    30,
                    f"{user}'s answers in the store",
                )
                shown = _hand_in(page)
            except Exception:
                SHOTS.mkdir(exist_ok=True)
                page.screenshot(path=str(SHOTS / f"failure-{user}.png"), full_page=True)
                raise
            # the receipt shows the exchange's time in the course's zone (Beijing)
            inbox = room.root / "exchange" / COHORT / "inbox" / user / "coop"
            [folder] = [d for d in inbox.iterdir() if not d.name.startswith(".")]
            receipt = json.loads((folder / "receipt.json").read_text("utf-8"))
            local = datetime.fromisoformat(receipt["received_at"]).astimezone(
                ZoneInfo("Asia/Shanghai")
            )
            assert local.strftime("%Y-%m-%d %H:%M:%S") in shown, (shown, receipt)
            assert receipt["trainee"] == user and receipt["via"] == "hub"
            assert blocked == [], blocked
            page.context.close()
        browser.close()
    record_property("open_to_ready_s", ready)
    res = collect(room.root, COHORT)
    assert len(res.written) == 3 and not res.refused and not res.unknown, res
    assert not grade(room.root, COHORT, progress=False).failures
    with Gradebook.open(room.root) as gb:
        scores = gb.submission_scores(COHORT).set_index("trainee")["points"].to_dict()
    assert scores == {u: a[-1] for u, a in ANSWERS.items()}


# ------------------------------------------------------------- boundaries


def _token_of(user: str) -> str:
    """The hub API token a trainee's own server (and kernel) holds, read as root from /proc."""
    out = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"], capture_output=True)
    for pid in out.stdout.split():
        env = Path(f"/proc/{int(pid)}/environ").read_bytes().split(b"\0")
        for item in env:
            if item.startswith(b"JUPYTERHUB_API_TOKEN="):
                return item.split(b"=", 1)[1].decode()
    raise AssertionError(f"no running server of {user}")


def _get(url: str, token: str, body: dict | None = None) -> tuple[int, bytes]:
    req = Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except HTTPError as exc:
        return exc.code, exc.read()


def _as(user: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True)


def test_a_trainee_cannot_reach_what_is_not_theirs(classroom: Classroom) -> None:
    from playwright.sync_api import sync_playwright

    room = classroom
    other = room.home("t02") / COHORT / "coop.ipynb"
    secrets_ = {
        "another trainee's workbook": other,
        "another trainee's answers": room.home("t02") / COHORT / "coop.answers.json",
        "the keys": room.root / f"build/{COHORT}/instructor/coop.keys.json",
        "the instructor edition": room.root / f"build/{COHORT}/instructor/coop.ipynb",
        "the inbox": room.root / f"exchange/{COHORT}/inbox",
        "the course secret": room.root / ".casekit/secret",
        "the gradebook": room.root / "gradebook.sqlite",
        "the submission store": room.root / "submissions",
        "the hub's passwords": room.root / f".casekit/hub/{COHORT}/passwords.json",
    }
    # the file system, as the trainee's own system user
    for what, path in secrets_.items():
        assert path.exists(), path
        probe = _as("t01", "cat", str(path)) if path.is_file() else _as("t01", "ls", str(path))
        assert probe.returncode != 0 and "Permission denied" in probe.stderr, (what, probe)
    assert _as("t01", "cat", str(room.home("t01") / COHORT / "coop.ipynb")).returncode == 0

    # the Jupyter server and hub APIs with the trainee's own token
    token = _token_of("t01")
    for url in (
        f"{room.url}/user/t02/api/contents/coop.ipynb",
        f"{room.url}/user/t02/files/coop.answers.json",
        f"{room.url}/hub/api/users/t02",
        f"{room.url}/hub/api/users",
    ):
        status, body = _get(url, token)
        assert status in (403, 404), (url, status, body[:200])
        assert b"q-word" not in body
    # the exchange service: hand-ins and live answers are the instructor's
    svc = f"{room.url}/services/casekit-exchange/api"
    for url in (f"{svc}/handins/{COHORT}", f"{svc}/live/{COHORT}/coop"):
        status, body = _get(url, token)
        assert status == 403, (url, status, body)
    handins = [h for h in _list_handins(room) if h.startswith("t02/")]
    status, _ = _get(f"{svc}/handins/{COHORT}/{handins[0]}", token)
    assert status == 403

    # the browser, signed in as t01
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page, _ = _guarded_page(browser)
        _sign_in(page, room, "t01")
        for path in ("/user/t02/voila/render/coop.ipynb", "/user/t02/lab/tree/coop.ipynb"):
            resp = page.goto(room.url + path)
            assert "q-word" not in page.content() and "诉求 A" not in page.content()
            assert resp is None or resp.status in (403, 404) or "/user/t01/" in page.url
        browser.close()


def _list_handins(room: Classroom) -> list[str]:
    from kit.hub.exchange import FolderExchange

    return FolderExchange(room.root / "exchange").handins(COHORT)


def test_a_hand_in_carries_the_service_time_and_the_account(classroom: Classroom) -> None:
    from kit.grading import collect
    from kit.hub.exchange import ExchangeError, Handin, HubExchange

    room = classroom
    own = (room.home("t01") / COHORT / "coop.ipynb").read_bytes()
    nb = json.loads(own)
    nb["metadata"]["casekit"]["trainee"] = "t02"  # t01 claims to be t02 ...
    forged = {
        "workbook.ipynb": json.dumps(nb).encode(),
        "answers.json": json.dumps(
            {"trainee": "t02", "session": "coop", "cohort": COHORT, "answers": {}}
        ).encode(),
        # ... with a receipt of its own making, backdated
        "receipt.json": json.dumps(
            {"trainee": "t02", "received_at": "2020-01-01T00:00:00+00:00"}
        ).encode(),
    }
    ex = HubExchange(f"{room.url}/services/casekit-exchange/", _token_of("t01"))
    before = datetime.now(UTC)
    accepted = ex.submit(Handin(COHORT, "coop", "t02", forged))
    after = datetime.now(UTC)
    r = accepted.receipt
    assert r["trainee"] == "t01" and r["claimed_trainee"] == "t02"  # the account decides
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(r["received_at"]) <= after
    assert "/inbox/t01/" in accepted.location
    with pytest.raises(ExchangeError, match="404"):
        ex.submit(Handin("another-cohort", "coop", "t01", forged))
    stored_t02 = sorted((room.root / "submissions" / COHORT / "t02" / "coop").iterdir())
    res = collect(room.root, COHORT)
    assert res.written == [] and len(res.refused) == 1 and "t02" in res.refused[0], res
    assert sorted((room.root / "submissions" / COHORT / "t02" / "coop").iterdir()) == stored_t02


def test_restarting_the_hub_and_servers_loses_no_answer(classroom: Classroom) -> None:
    from playwright.sync_api import sync_playwright

    import kit

    room = classroom
    before = room.store("t01")
    assert before["q-word"] == "分级"
    kit.hub(room.root, COHORT, "stop")  # stops the proxy, the service and every server
    assert subprocess.run(["pgrep", "-u", "t01"], capture_output=True).returncode != 0
    port = urlparse(room.url).port
    again = kit.hub(
        room.root, COHORT, "start", port=port, homes=room.base / "homes", owner=OWNER, view="voila"
    )
    assert again.passwords == {}  # nobody's password changed
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page, _ = _guarded_page(browser)
        _sign_in(page, room, "t01")
        _open_workbook(page, room, "t01")
        radio = page.locator(".casekit-q-q-kind label", has_text="求助").locator("input")
        _wait_for(radio.is_checked, 30, "the saved choice to show")
        assert page.locator(".casekit-q-q-share input[type=text]").input_value() == "12.5"
        assert page.locator(".casekit-q-q-word input[type=text]").input_value() == "分级"
        assert page.locator(".casekit-q-q-code textarea").input_value() == ANSWERS["t01"][3]
        browser.close()
    assert room.store("t01") == before


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (21, 101, 192)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_phone_at_a_site_visit(classroom: Classroom) -> None:
    from playwright.sync_api import sync_playwright

    from kit.grading import collect

    room = classroom
    photo = _png()
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page, blocked = _guarded_page(
            browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        try:
            _sign_in(page, room, "t02")
            _open_workbook(page, room, "t02")
            fields = page.locator(".casekit-q-q-visit textarea")
            assert fields.count() == 4
            for i, key in enumerate(("what", "who", "problems", "ideas")):
                fields.nth(i).fill(OBSERVATION[key])
            with page.expect_file_chooser() as chooser:  # as a phone's photo picker
                page.locator(".casekit-q-q-photo button", has_text="选择文件上传").click()
            chooser.value.set_files(
                files=[{"name": "现场.png", "mimeType": "image/png", "buffer": photo}]
            )
            _wait_for(
                lambda: (
                    room.store("t02").get("q-visit") == OBSERVATION
                    and (room.store("t02").get("q-photo") or {}).get("size") == len(photo)
                ),
                30,
                "the log and the photo in the store",
            )
            # nothing wider than the phone: no sideways scrolling to reach a field or the button
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390 + 2, width
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / "phone.png"), full_page=True)
            _hand_in(page)
        except Exception:
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / "failure-phone.png"), full_page=True)
            raise
        assert blocked == []
        browser.close()
    res = collect(room.root, COHORT)
    assert len(res.written) == 1, res
    stored = res.written[0]
    answers = json.loads((stored / "answers.json").read_text("utf-8"))["answers"]
    assert answers["q-visit"]["value"] == OBSERVATION
    [image] = [p for p in (stored / "files").rglob("*") if p.is_file()]
    assert image.read_bytes() == photo and re.search(r"\.png$", image.name)
