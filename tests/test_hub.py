"""A real classroom: JupyterHub, its proxy and the exchange service on loopback, real system users.

`kit.hub` starts the hub once for the module: a cohort of three trainees and
one instructor whose ids (and so system users) carry a prefix of this run
alone, so that two runs on one machine never share an account or a home.
Through Chromium the three trainees, at once, sign in, open the workbook
(Voilà: ready without running anything), answer a choice, a number, a text
and code, and hand in; one of them is on a 390 px phone and also fills in an
observation log and uploads a photo. The instructor side collects and grades.
Then a trainee tries to reach what is not theirs through the browser, the
Jupyter and hub APIs, the exchange service and the file system; their
JupyterLab speaks Chinese without the news pop-up; a hand-in claiming somebody
else is filed under the account at the service's time; last, the hub and every
server restart and no answer is lost.

Needs root (it makes and removes system users); `make test` runs as root.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
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
from servers import LoopbackGuard, free_port, wait_for  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.hub,
    pytest.mark.xdist_group("hub"),
    pytest.mark.skipif(os.geteuid() != 0, reason="makes system users: run as root (make test)"),
]

COHORT = "hubc1"
#: Screenshots of failures and of the phone survive the fixture's clean-up.
SHOTS = Path("/var/tmp/casekit-hub-shots")
TRAINEES = ("t01", "t02", "t03")
PHONE = "t03"  # at a site visit: answers on a 390 px screen, logs what they saw, adds a photo
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
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE_VIEW = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
#: JupyterLab's menu bar in the Chinese language pack (English: File, Edit, View, Kernel, Help).
MENUS_ZH = {"文件", "编辑", "查看", "内核", "帮助"}


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


@dataclass
class Classroom:
    """One running hub; ``user("t01")`` is this run's account of roster line t01."""

    root: Path
    base: Path
    prefix: str
    owner: str
    author: str = ""  # the instructor account the course folder belongs to
    url: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    failed_start: str = ""  # what the first `hub start` said

    @property
    def homes(self) -> Path:
        return self.base / "homes"

    @property
    def service(self) -> str:
        return f"{self.url}/services/casekit-exchange/"

    def user(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def home(self, short: str) -> Path:
        return self.homes / self.user(short)

    def store(self, short: str) -> dict:
        try:
            doc = json.loads((self.home(short) / COHORT / "coop.answers.json").read_text("utf-8"))
            return {q: e.get("value") for q, e in doc["answers"].items()}
        except (OSError, ValueError, KeyError):
            return {}

    def casekit(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``sudo casekit ARGS`` typed in the course folder, with this course's own ``.venv``."""
        venv_bin = self.root / ".venv" / "bin"
        proc = subprocess.run(
            [str(venv_bin / "casekit"), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
        )
        if check:
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc

    def hub(self, action: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``sudo casekit hub ACTION hubc1 ARGS`` (this run's homes and course owner)."""
        return self.casekit(
            "hub", action, COHORT, *args, "--homes", str(self.homes), "--owner", self.owner,
            check=check,
        )  # fmt: skip

    def start(self, port: int, warm: bool = True) -> dict[str, str]:
        """``sudo casekit hub start`` then ``hub warm`` (every trainee's server up); the slips."""
        proc = self.hub("start", "--port", str(port))
        self.url = f"http://127.0.0.1:{port}"
        if warm:
            self.hub("warm", "coop")
            token = _admin_token(self)
            for short in TRAINEES:  # up before anybody signs in
                status, body = _call(f"{self.url}/hub/api/users/{self.user(short)}", token)
                assert json.loads(body)["servers"][""]["ready"], body
        return _slips(proc.stdout)


def _get(url: str) -> int | None:
    """The status of a plain GET, None while nothing answers."""
    try:
        with urlopen(url, timeout=10) as resp:
            return resp.status
    except HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _slips(printed: str) -> dict[str, str]:
    """The password slips `hub start` printed: ``name<TAB>password<TAB>role<TAB>full name``."""
    slip = re.compile(r"^(\S+)\s+([2-9a-z]{4}-[2-9a-z]{4})\s")
    return {m[1]: m[2] for line in printed.splitlines() if (m := slip.match(line))}


def _course_venv(root: Path) -> None:
    """``.venv`` inside the course folder, as ``make setup`` leaves a clone.

    Made from the system's Python (trainees can run it) with this checkout's
    packages on its path; ``bin/`` holds its own ``casekit``, ``jupyterhub``
    and ``jupyterhub-singleuser``, so the hub runs them from inside the course.
    """
    import sysconfig

    from kit.hub.access import closed_folder

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base_python = Path(f"/usr/bin/python{version}")
    packages = Path(sysconfig.get_paths()["purelib"])
    blocked = closed_folder(packages / "jupyterhub")
    if blocked is not None:
        pytest.skip(
            f"this clone is inside {blocked}, which other users cannot enter, so trainees' "
            f"servers cannot run its packages: `chmod o+x {blocked}` or clone elsewhere"
        )
    if not base_python.exists():
        pytest.skip(f"needs {base_python} (trainees' servers run the course's own .venv)")
    venv = root / ".venv"
    subprocess.run([str(base_python), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{version}" / "site-packages"
    (site / "casekit-checkout.pth").write_text(f"import site; site.addsitedir({str(packages)!r})\n")
    for name in ("share", "etc"):  # Jupyter's data and server-extension settings of the checkout
        (venv / name).symlink_to(Path(sys.prefix) / name)
    for name, (module, func) in {
        "casekit": ("kit.cli", "main"),
        "jupyterhub": ("jupyterhub.app", "main"),
        "jupyterhub-singleuser": ("jupyterhub.singleuser", "main"),
    }.items():
        script = venv / "bin" / name
        script.write_text(
            f"#!{venv}/bin/python\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
        )
        script.chmod(0o755)


def _admin_token(room: Classroom) -> str:
    from kit.hub.deploy import admin_token

    return admin_token(room.root, COHORT)


def _instructor_token(room: Classroom) -> str:
    """A hub API token of the instructor, as they would make one at /hub/token."""
    url = f"{room.url}/hub/api/users/{room.user('f1')}/tokens"
    status, body = _call(url, _admin_token(room), {"note": "collect"})
    assert status == 201, (status, body)
    return json.loads(body)["token"]


@pytest.fixture(scope="module")
def classroom():
    """The README's classroom, typed in the course folder (course and ``.venv`` together).

    The course belongs to an instructor account (the author), who built it
    with ``sudo casekit build``; a first ``hub start`` stops because trainees
    cannot run the environment (and says what to change), keeping the
    passwords it made; the second prints the same slips and the hub runs.
    """
    import kit

    prefix = f"k{secrets.token_hex(3)}-"  # this run's accounts: no other run or test has them
    # /var/tmp, not /tmp: some machines clean /tmp under a long run
    base = Path(tempfile.mkdtemp(prefix=f"casekit-hub-{prefix}", dir="/var/tmp"))
    base.chmod(0o755)  # mkdtemp makes it 0700: the exchange service must reach the course
    root = write_course(base / "course", cohorts={COHORT: 0.05}, prefix=prefix)
    nbformat.write(_notebook(), root / "cases/coop.ipynb")
    room = Classroom(root, base, prefix, owner=f"{prefix}owner", author=f"{prefix}author")
    accounts = {room.user(u) for u in (*TRAINEES, "f1")}
    subprocess.run(["useradd", "--system", "--no-create-home", room.author], check=True)
    try:
        _course_venv(root)
        subprocess.run(["chown", "-R", f"{room.author}:", str(root)], check=True)
        room.casekit("build", COHORT)
        (root / ".venv").chmod(0o700)  # as if the environment were private
        failed = room.hub("start", "--port", str(free_port()), check=False)
        room.failed_start = failed.stdout + failed.stderr
        (root / ".venv").chmod(0o755)
        room.passwords = room.start(free_port())
        assert set(room.passwords) == accounts, room.passwords
        yield room
    finally:
        kit.hub(root, COHORT, "stop")
        SHOTS.mkdir(exist_ok=True)
        log = root / ".casekit" / "hub" / COHORT / "jupyterhub.log"
        if log.exists():
            shutil.copy(log, SHOTS / "jupyterhub.log")
        gone = kit.hub(root, COHORT, "remove-users", homes=room.homes, owner=room.owner)
        for user in (room.owner, room.author):
            subprocess.run(["userdel", user], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        # every account this run made is gone (and remove-users touches no other run's)
        assert not gone.left, gone
        assert not [u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(prefix)]


def test_the_readme_start_says_what_to_change_and_loses_no_password(classroom: Classroom) -> None:
    """A first start that trainees could not use names the folder; its passwords come back."""
    room = classroom
    said = " ".join(room.failed_start.split())
    assert room.user("t01") in said and "chmod o+x" in said, said
    assert str(room.root / ".venv") in said, said
    slips = room.root / ".casekit" / "hub" / COHORT / "slips.json"
    assert str(slips) in said, said  # where the passwords of the accounts it made are
    # the slips file is root's alone, and holds exactly the passwords the second start printed
    assert slips.stat().st_uid == 0 and slips.stat().st_mode & 0o777 == 0o600
    assert json.loads(slips.read_text("utf-8")) == room.passwords
    probe = _as(room.user("t01"), "cat", str(slips))
    assert probe.returncode != 0, probe


def test_the_course_stays_its_authors(classroom: Classroom) -> None:
    """After ``sudo casekit build`` and ``hub start`` the author still builds and keeps live records."""
    room = classroom
    author = pwd.getpwnam(room.author).pw_uid
    built = [p for p in (room.root / "build").rglob("*")]
    assert built and all(p.lstat().st_uid == author for p in built), [
        p for p in built if p.lstat().st_uid != author
    ][:5]
    # their `casekit live` runs from the course folder and shows the room (the exchange is the
    # service's, open to them by ACL, to nobody else)
    port = free_port()
    venv = room.root / ".venv" / "bin"
    proc = subprocess.Popen(
        ["runuser", "-u", room.author, "--", str(venv / "casekit"), "live", COHORT, "coop",
         "--port", str(port)],
        cwd=room.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    said = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until it prints its address (or ends)
            said.append(line)
            if (m := re.search(r"http://\S+token=\S+", line)) is not None:
                assert _get(m[0]) == 200, said
                break
        else:
            raise AssertionError(said)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert _as(room.user("t01"), "ls", str(room.root / "exchange")).returncode != 0
    # and no trainee can list the course, though the environment inside it runs for them
    assert _as(room.user("t01"), "ls", str(room.root)).returncode != 0
    assert (
        _as(room.user("t01"), str(room.root / ".venv/bin/python"), "-c", "import kit").returncode
        == 0
    )


def test_two_hubs_never_share_an_account_or_a_home(tmp_path: Path) -> None:
    """Same cohort and ids in another course (or another --homes): refused, and never removed."""
    from kit.hub.deploy import Account, HubError, ensure_user, remove_users

    name = f"k{secrets.token_hex(3)}-t01"
    account = Account(name, name, "trainee", "王一")
    first, second = tmp_path / "a", tmp_path / "b"
    try:
        assert ensure_user(account, COHORT, first, owner="root") == first / name
        with pytest.raises(HubError, match=str(first / name)):
            ensure_user(account, COHORT, second, owner="root")
        assert remove_users([account], COHORT, second) == ([], [name])
        assert (first / name).is_dir() and pwd.getpwnam(name)
        assert remove_users([account], COHORT, first) == ([name], [])
        assert not (first / name).exists()
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


# ------------------------------------------------------------------ browser


def _browse(flow):
    """Run ``flow(browser)`` (a coroutine function) in a headless Chromium; return its result."""
    from playwright.async_api import async_playwright

    async def main():
        async with async_playwright() as p:
            browser = await launch_chromium(p)
            try:
                return await flow(browser)
            finally:
                await browser.close()

    return asyncio.run(main())


async def _page(browser, **context):
    ctx = await browser.new_context(**context)
    guard = LoopbackGuard()
    await ctx.route("**/*", guard)
    page = await ctx.new_page()
    page.set_default_timeout(120_000)
    return page, guard.blocked


async def _sign_in(page, room: Classroom, short: str) -> None:
    user = room.user(short)
    await page.goto(f"{room.url}/hub/login")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", room.passwords[user])
    await page.click("#login_submit")
    await page.wait_for_url(f"**/user/{user}/voila/tree**")
    await page.wait_for_selector("text=coop.ipynb")  # the workbook is in their own folder


async def _open_workbook(page, room: Classroom, short: str) -> None:
    """Open the workbook until every question and the submit button are live."""
    await page.goto(f"{room.url}/user/{room.user(short)}/voila/render/coop.ipynb")
    for qid in ("q-kind", "q-share", "q-word", "q-code", "q-visit", "q-photo"):
        await page.wait_for_selector(f".casekit-q-{qid}", state="visible")
    await page.wait_for_selector(".casekit-progress button:has-text('提交作业')", state="visible")


async def _answer(page, choice: str, number: str, text: str, code: str) -> None:
    await page.locator(".casekit-q-q-kind label", has_text=choice).click()
    await page.locator(".casekit-q-q-share input[type=text]").fill(number)
    await page.locator(".casekit-q-q-word input[type=text]").fill(text)
    await page.locator(".casekit-q-q-code textarea").fill(code)
    await page.locator(".casekit-q-q-code button", has_text="运行并保存").click()


async def _site_visit(page, photo: bytes) -> None:
    fields = page.locator(".casekit-q-q-visit textarea")
    assert await fields.count() == 4
    for i, key in enumerate(("what", "who", "problems", "ideas")):
        await fields.nth(i).fill(OBSERVATION[key])
    async with page.expect_file_chooser() as chooser:  # as a phone's photo picker
        await page.locator(".casekit-q-q-photo button", has_text="选择文件上传").click()
    await (await chooser.value).set_files(
        files=[{"name": "现场.png", "mimeType": "image/png", "buffer": photo}]
    )


async def _trainee(browser, room: Classroom, short: str, photo: bytes) -> str:
    """One trainee's lesson in their own browser context; returns the receipt they are shown."""
    phone = short == PHONE
    page, blocked = await _page(browser, **(PHONE_VIEW if phone else DESKTOP))
    choice, number, text, code, _ = ANSWERS[short]
    try:
        await _sign_in(page, room, short)
        await _open_workbook(page, room, short)
        # nothing is answered before the trainee acts: no radio is pre-selected
        assert await page.locator(".casekit-q-q-kind input:checked").count() == 0
        # the progress panel and the submit button are at the top, no scrolling
        box = await page.locator(".casekit-progress").bounding_box()
        assert box is not None and box["y"] < page.viewport_size["height"]
        await _answer(page, choice, number, text, code)
        want = {"q-kind": choice, "q-word": text, "q-code": code}
        if phone:
            await _site_visit(page, photo)
            # nothing wider than the phone: no sideways scrolling to reach a field or the button
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390 + 2, width

        def saved() -> bool:
            got = room.store(short)
            if phone and (got.get("q-visit") != OBSERVATION or not got.get("q-photo")):
                return False
            return all(got.get(k) == v for k, v in want.items())

        await asyncio.to_thread(wait_for, saved, 60, f"{short}'s answers in the store")
        if phone:
            SHOTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(SHOTS / "phone.png"), full_page=True)
        await page.locator(".casekit-progress button", has_text="提交作业").click()
        # a question left open (this lesson skips some) is named first; hand in anyway
        anyway = page.locator(".casekit-confirm button", has_text="仍然提交")
        receipt = page.locator(".casekit-receipt")
        await anyway.or_(receipt).first.wait_for(state="visible")
        if await anyway.is_visible():
            await anyway.click()
        receipt = await page.wait_for_selector(".casekit-receipt", state="visible")
        shown = await receipt.inner_text()
    except Exception:
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"failure-{short}.png"), full_page=True)
        raise
    finally:
        await page.context.close()
    assert blocked == [], blocked
    return shown


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (21, 101, 192)).save(buf, format="PNG")
    return buf.getvalue()


def test_trainees_answer_hand_in_and_are_graded(classroom: Classroom) -> None:
    from kit.gradebook import Gradebook
    from kit.grading import collect, grade

    room, photo = classroom, _png()

    async def lesson(browser):
        return await asyncio.gather(*(_trainee(browser, room, s, photo) for s in TRAINEES))

    shown = dict(zip(TRAINEES, _browse(lesson), strict=True))
    for short in TRAINEES:
        # the receipt shows the exchange's time in the course's zone (Beijing)
        inbox = room.root / "exchange" / COHORT / "inbox" / room.user(short) / "coop"
        [folder] = [d for d in inbox.iterdir() if not d.name.startswith(".")]
        receipt = json.loads((folder / "receipt.json").read_text("utf-8"))
        local = datetime.fromisoformat(receipt["received_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
        assert local.strftime("%Y-%m-%d %H:%M:%S") in shown[short], (shown[short], receipt)
        assert receipt["trainee"] == room.user(short) and receipt["via"] == "hub"

    # the instructor collects through the exchange service, as from another machine
    res = collect(room.root, COHORT, source=room.service, token=_instructor_token(room))
    assert len(res.written) == 3 and not res.refused and not res.unknown, res
    assert not grade(room.root, COHORT, progress=False).failures
    with Gradebook.open(room.root) as gb:
        scores = gb.submission_scores(COHORT).set_index("trainee")["points"].to_dict()
    assert scores == {room.user(s): a[-1] for s, a in ANSWERS.items()}
    # the phone's observation log and photo reached the instructor's store
    [stored] = [p for p in res.written if f"/{room.user(PHONE)}/" in str(p)]
    answers = json.loads((stored / "answers.json").read_text("utf-8"))["answers"]
    assert answers["q-visit"]["value"] == OBSERVATION
    [image] = [p for p in (stored / "files").rglob("*") if p.is_file()]
    assert image.read_bytes() == photo and image.suffix == ".png"


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


def _call(url: str, token: str, body: dict | None = None) -> tuple[int, bytes]:
    """GET (or POST `body`) with a hub token; (status, body), errors included."""
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
    return subprocess.run(
        ["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, errors="replace"
    )


def test_a_trainee_cannot_reach_what_is_not_theirs(classroom: Classroom) -> None:
    from kit.grading import collect
    from kit.problems import CourseError

    room = classroom
    me, other = room.user("t01"), room.user("t02")
    secrets_ = {
        "another trainee's workbook": room.home("t02") / COHORT / "coop.ipynb",
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
        probe = _as(me, "cat", str(path)) if path.is_file() else _as(me, "ls", str(path))
        assert probe.returncode != 0 and "Permission denied" in probe.stderr, (what, probe)
    assert _as(me, "cat", str(room.home("t01") / COHORT / "coop.ipynb")).returncode == 0

    # the Jupyter server and hub APIs with the trainee's own token
    token = _token_of(me)
    for url in (
        f"{room.url}/user/{other}/api/contents/coop.ipynb",
        f"{room.url}/user/{other}/files/coop.answers.json",
        f"{room.url}/hub/api/users/{other}",
        f"{room.url}/hub/api/users",
    ):
        status, body = _call(url, token)
        assert status in (403, 404), (url, status, body[:200])
        assert b"q-word" not in body
    # the exchange service: hand-ins and live answers are the instructor's
    svc = f"{room.url}/services/casekit-exchange/api"
    for url in (f"{svc}/handins/{COHORT}", f"{svc}/live/{COHORT}/coop"):
        status, body = _call(url, token)
        assert status == 403, (url, status, body)
    handins = [h for h in _list_handins(room) if h.startswith(f"{other}/")]
    status, _ = _call(f"{svc}/handins/{COHORT}/{handins[0]}", token)
    assert status == 403
    with pytest.raises(CourseError, match="403"):  # nor collect with it
        collect(room.root, COHORT, source=room.service, token=token)

    # the trainee's JupyterLab: Chinese menus, no news question (settings as the server sees them)
    lab_api = f"{room.url}/user/{me}/lab/api/settings/@jupyterlab"
    status, body = _call(f"{lab_api}/translation-extension:plugin", token)
    assert status == 200 and json.loads(body)["settings"]["locale"] == "zh_CN", body[:300]
    status, body = _call(f"{lab_api}/apputils-extension:notification", token)
    assert status == 200 and json.loads(body)["settings"]["fetchNews"] == "false", body[:300]

    async def browse(browser):
        page, blocked = await _page(browser, **DESKTOP)
        await _sign_in(page, room, "t01")
        await page.goto(f"{room.url}/user/{me}/lab")
        await page.wait_for_selector(".lm-MenuBar-itemLabel >> text=文件")
        await page.wait_for_selector("#jupyterlab-splash", state="detached")  # restored
        menus = set(await page.locator(".lm-MenuBar-itemLabel").all_inner_texts())
        # the news question would be asked once the settings it reads have arrived
        await page.wait_for_load_state("networkidle")
        toasts = await page.locator(".Toastify__toast").all_inner_texts()
        pages = {}
        for path in (
            f"/user/{other}/voila/render/coop.ipynb",
            f"/user/{other}/lab/tree/coop.ipynb",
        ):
            resp = await page.goto(room.url + path)
            pages[path] = (resp.status if resp else None, page.url, await page.content())
        return menus, toasts, pages, blocked

    menus, toasts, pages, blocked = _browse(browse)
    assert MENUS_ZH <= menus, menus
    assert not any("新闻" in t or "news" in t for t in toasts), toasts
    for path, (status, url, content) in pages.items():
        assert "q-word" not in content and "诉求 A" not in content, path
        assert status in (403, 404) or f"/user/{me}/" in url, (path, status, url)
    assert blocked == [], blocked


def _list_handins(room: Classroom) -> list[str]:
    from kit.exchange.clients import FolderExchange

    return FolderExchange(room.root / "exchange").handins(COHORT)


def test_a_hand_in_carries_the_service_time_and_the_account(classroom: Classroom) -> None:
    from kit.exchange.clients import ExchangeError, Handin, HubExchange
    from kit.grading import collect

    room = classroom
    me, other = room.user("t01"), room.user("t02")
    nb = json.loads((room.home("t01") / COHORT / "coop.ipynb").read_bytes())
    nb["metadata"]["casekit"]["trainee"] = other  # t01 claims to be t02 ...
    forged = {
        "workbook.ipynb": json.dumps(nb).encode(),
        "answers.json": json.dumps(
            {"trainee": other, "session": "coop", "cohort": COHORT, "answers": {}}
        ).encode(),
        # ... with a receipt of its own making, backdated
        "receipt.json": json.dumps(
            {"trainee": other, "received_at": "2020-01-01T00:00:00+00:00"}
        ).encode(),
    }
    ex = HubExchange(room.service, _token_of(me))
    before = datetime.now(UTC)
    accepted = ex.submit(Handin(COHORT, "coop", other, forged))
    after = datetime.now(UTC)
    r = accepted.receipt
    assert r["trainee"] == me and r["claimed_trainee"] == other  # the account decides
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(r["received_at"]) <= after
    assert f"/inbox/{me}/" in accepted.location
    with pytest.raises(ExchangeError, match="404"):
        ex.submit(Handin("another-cohort", "coop", me, forged))
    store = room.root / "submissions" / COHORT / other / "coop"
    stored_other = sorted(store.iterdir())
    res = collect(room.root, COHORT)
    assert res.written == [] and len(res.refused) == 1 and other in res.refused[0], res
    assert sorted(store.iterdir()) == stored_other


def test_a_starting_server_lets_its_user_in_without_the_progress_stream(
    classroom: Classroom,
) -> None:
    """The "server starting" page reaches the server even when its EventStream never answers.

    The instructor's server is not warmed: signing in starts it. The browser
    gets no progress events at all (as under a class's load); the page must
    still end on the server.
    """
    room = classroom
    user = room.user("f1")

    async def flow(browser):
        page, blocked = await _page(browser, **DESKTOP)
        await page.route("**/server/progress**", lambda route: route.abort())
        await page.goto(f"{room.url}/hub/login")
        await page.fill("input[name=username]", user)
        await page.fill("input[name=password]", room.passwords[user])
        await page.click("#login_submit")
        await page.wait_for_url(f"**/user/{user}/voila/tree**", timeout=150_000)
        return blocked

    assert _browse(flow) == []


# ---------------------------------------------------------------- restart (last: it stops all)


def test_restarting_the_hub_and_servers_loses_no_answer(classroom: Classroom) -> None:
    import kit

    room = classroom
    before = {s: room.store(s) for s in TRAINEES}
    assert before["t01"]["q-word"] == "分级"
    kit.hub(room.root, COHORT, "stop")  # stops the proxy, the service and every server
    for short in TRAINEES:
        # dead processes only wait for PID 1 to reap them (here, a VM's init that reaps late)
        left = subprocess.run(["ps", "-u", room.user(short), "-o", "pid=,stat=,args="],
                              capture_output=True, text=True)  # fmt: skip
        running = [line for line in left.stdout.splitlines() if line.split()[1][0] not in "ZX"]
        assert not running, (short, running)
    # the same slips (no password changed) until the instructor deletes the file
    assert room.start(urlparse(room.url).port, warm=False) == room.passwords
    (room.root / ".casekit" / "hub" / COHORT / "slips.json").unlink()

    async def reopen(browser):
        page, _ = await _page(browser, **DESKTOP)
        await _sign_in(page, room, "t01")
        await _open_workbook(page, room, "t01")
        radio = page.locator(".casekit-q-q-kind label", has_text="求助").locator("input")
        await page.wait_for_function("(el) => el.checked", arg=await radio.element_handle())
        return {
            "q-share": await page.locator(".casekit-q-q-share input[type=text]").input_value(),
            "q-word": await page.locator(".casekit-q-q-word input[type=text]").input_value(),
            "q-code": await page.locator(".casekit-q-q-code textarea").input_value(),
        }

    shown = _browse(reopen)
    assert shown == {"q-share": "12.5", "q-word": "分级", "q-code": ANSWERS["t01"][3]}
    assert {s: room.store(s) for s in TRAINEES} == before
