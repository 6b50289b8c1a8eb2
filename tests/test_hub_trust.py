"""Hand-ins the instructor side can trust: signed receipts, release tokens, the exchange interface.

A real course is built and released; trainees hand in through the real
`submit`; `collect` and `grade` decide. Each hostile case edits only what a
trainee controls (their workbook, answer store, the receipt they can see).
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import write_course  # noqa: E402

from kit.exchange import trust  # noqa: E402
from kit.exchange.clients import FolderExchange, Handin  # noqa: E402
from kit.gradebook import Gradebook  # noqa: E402
from kit.grading import collect  # noqa: E402
from kit.workbook import AnswerStore, Runtime, release, store_path_for, submit  # noqa: E402

LONG_AGO = "2020-01-01T00:00:00.000+00:00"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kit.builder import build

    root = write_course(tmp_path_factory.mktemp("trust") / "course", cohorts={"c1": 0.05})
    assert build(root, "c1", progress=False).ok
    return root


@pytest.fixture
def course(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(built, root)
    assert not release(root, "c1").failures
    return root


def _answer(root: Path, trainee: str, word: str, *, claim: str | None = None) -> Path:
    """Answer q-word in `trainee`'s released copy; `claim` rewrites who the workbook says it is."""
    workbook = root / f"exchange/c1/outbox/{trainee}/coop.ipynb"
    header = {"trainee": claim or trainee, "session": "coop", "cohort": "c1"}
    header["exchange"] = str(root / "exchange")  # as the released setup cell says
    rt = Runtime(AnswerStore(store_path_for(workbook), header), session="coop", trainee=trainee)
    rt.save("q-word", word, "text")
    if claim:
        nb = json.loads(workbook.read_text("utf-8"))
        nb["metadata"]["casekit"]["trainee"] = claim
        workbook.write_text(json.dumps(nb, ensure_ascii=False), "utf-8")
    return workbook


def _stored(root: Path) -> dict[str, list[dict]]:
    with Gradebook.open(root) as gb:
        subs = gb.submissions("c1")
    out: dict[str, list[dict]] = {}
    for _, row in subs.iterrows():
        answers = json.loads((root / row["path"] / "answers.json").read_text("utf-8"))
        out.setdefault(row["trainee"], []).append(
            {"word": answers["answers"].get("q-word", {}).get("value"), "at": row["received_at"]}
        )
    return out


def test_secret_is_private_and_never_reaches_a_workbook(course: Path) -> None:
    path = trust.secret_path(course)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    secret_hex = path.read_text().strip()
    for wb in (course / "exchange").rglob("*"):
        if wb.is_file():
            assert secret_hex not in wb.read_text("utf-8", errors="replace")
    meta = json.loads((course / "exchange/c1/outbox/t01/coop.ipynb").read_text("utf-8"))
    token = meta["metadata"]["casekit"]["release"]
    assert token == trust.release_token(trust.course_secret(course), "c1", "coop", "t01")
    assert token != trust.release_token(trust.course_secret(course), "c1", "coop", "t02")


def test_owner_submit_signs_and_collect_keeps_the_exchange_time(course: Path) -> None:
    receipt = submit(_answer(course, "t01", "合作"))
    doc = json.loads((receipt.folder / "receipt.json").read_text("utf-8"))
    assert trust.receipt_is_signed(trust.course_secret(course), doc)
    res = collect(course, "c1")
    assert len(res.written) == 1 and not res.refused
    stored = json.loads((res.written[0] / "receipt.json").read_text("utf-8"))
    assert stored["collected"]["time_source"].startswith("signed receipt")
    got = _stored(course)["t01"][0]["at"]
    assert abs(got - datetime.fromisoformat(receipt.received_at).replace(tzinfo=None)) < timedelta(
        seconds=1
    )


@pytest.mark.parametrize("signed", [True, False], ids=["edited-signed", "unsigned"])
def test_backdated_receipt_is_not_believed(course: Path, signed: bool) -> None:
    workbook = _answer(course, "t02", "拖延")
    # a trainee's own account cannot read the secret: the folder exchange cannot sign
    if not signed:
        trust.secret_path(course).rename(course / "secret.away")
    receipt = submit(workbook)
    if not signed:
        (course / "secret.away").rename(trust.secret_path(course))
    path = receipt.folder / "receipt.json"
    doc = json.loads(path.read_text("utf-8"))
    assert ("signature" in doc) is signed
    doc["received_at"] = LONG_AGO  # the trainee backdates the hand-in
    path.write_text(json.dumps(doc), "utf-8")
    before = datetime.now(UTC).replace(tzinfo=None)
    res = collect(course, "c1")
    assert len(res.written) == 1
    got = _stored(course)["t02"][0]["at"]
    assert got >= before - timedelta(seconds=1), "the backdated time was believed"


def test_impersonation_is_refused_and_never_replaces_anyone(course: Path) -> None:
    submit(_answer(course, "t02", "本人作答"))
    assert len(collect(course, "c1").written) == 1
    # t01 rewrites store header and notebook metadata to claim t02, then hands in
    forged = submit(_answer(course, "t01", "冒名顶替", claim="t02"))
    assert forged.trainee == "t02"  # the folder exchange files by the claim ...
    res = collect(course, "c1")
    assert res.written == []  # ... and collect refuses it: the release token is t01's
    assert len(res.refused) == 1 and "release token" in res.refused[0], res.refused
    assert [s["word"] for s in _stored(course)["t02"]] == ["本人作答"]


def test_own_workbook_in_another_inbox_is_refused(course: Path) -> None:
    own = _answer(course, "t01", "我的")
    FolderExchange(course / "exchange").submit(
        Handin("c1", "coop", "t03", {"workbook.ipynb": own.read_bytes(), "answers.json": b"{}"})
    )
    res = collect(course, "c1")
    assert res.written == [] and len(res.refused) == 1
    assert "'t03'" in res.refused[0] and "'t01'" in res.refused[0]


def test_a_trainee_who_answered_nothing_can_hand_in(course: Path) -> None:
    from kit.grading import grade

    workbook = course / "exchange/c1/outbox/t03/coop.ipynb"
    assert not store_path_for(workbook).exists()
    receipt = submit(workbook)
    assert receipt.trainee == "t03" and (receipt.folder / "answers.json").exists()
    assert len(collect(course, "c1").written) == 1
    assert not grade(course, "c1", progress=False).failures
    with Gradebook.open(course) as gb:
        scores = gb.submission_scores("c1")
        per_question = gb.question_scores("c1")
    assert list(scores["points"]) == [0.0]
    assert set(per_question["status"]) == {"unanswered"}, per_question


def test_folder_exchange_interface_for_live_and_collect(tmp_path: Path) -> None:
    ex = FolderExchange(tmp_path / "ex", secret=b"k" * 32)
    ex.post_live("c1", "s1", "q1", "甲", trainee="t01")
    ex.post_live("c1", "s1", "q1", "乙", trainee="t02")
    ex.post_live("c1", "s1", "q1", "丙", trainee="t01")
    room = ex.live("c1", "s1")
    assert {t: a["value"] for t, a in room["q1"].items()} == {"t01": "丙", "t02": "乙"}
    # each answer carries the exchange's time of receipt: the later post is the later time
    assert room["q1"]["t01"]["at"] > room["q1"]["t02"]["at"]
    acc = ex.submit(Handin("c1", "s1", "t01", {"answers.json": b"{}"}))
    assert trust.receipt_is_signed(b"k" * 32, acc.receipt)
    [hid] = ex.handins("c1")
    files = ex.fetch("c1", hid)
    assert files["answers.json"] == b"{}" and "receipt.json" in files
    with pytest.raises(trust_error()):
        ex.submit(Handin("c1", "s1", "../t02", {"answers.json": b"{}"}))
    with pytest.raises(trust_error()):
        ex.submit(Handin("c1", "s1", "t01", {"../../x": b"{}"}))


def trust_error() -> type[Exception]:
    from kit.exchange.clients import ExchangeError

    return ExchangeError


def test_k8s_values_and_hub_status_from_the_command_line(built: Path, tmp_path: Path) -> None:
    import yaml
    from conftest import run_cli

    values = tmp_path / "values.yaml"
    r = run_cli("hub", "config", "c1", "-C", str(built), "--k8s", str(values))
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(values.read_text("utf-8"))
    assert doc["hub"]["config"]["Authenticator"]["admin_users"] == ["f1"]
    assert sorted(doc["hub"]["config"]["Authenticator"]["allowed_users"]) == [
        "f1",
        "t01",
        "t02",
        "t03",
    ]
    assert "access:services!service=casekit-exchange" in doc["hub"]["loadRoles"]["user"]["scopes"]
    assert doc["singleuser"]["extraEnv"]["TZ"] == "Asia/Shanghai"
    r = run_cli("hub", "status", "c1", "-C", str(built))
    assert r.returncode == 0 and "已停止" in r.stdout, r.stderr  # the course speaks Chinese
    r = run_cli("hub", "restart", "c1", "-C", str(built))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "未知操作 'restart'：可用 start, stop" in r.stderr, r.stderr  # the course's language
    r = run_cli("hub", "start", "c1", "-C", str(built), "--view", "desktop", "--lang", "en")
    assert r.returncode == 2 and "unknown view 'desktop': use one of voila, lab" in r.stderr


def test_release_without_a_readable_secret_names_the_file_and_writes_nothing(
    built: Path, tmp_path: Path
) -> None:
    from kit.problems import CourseError

    root = tmp_path / "course"
    shutil.copytree(built, root)
    trust.course_secret(root)
    trust.secret_path(root).write_text("not hex\n")  # damaged (or another user's, unreadable)
    with pytest.raises(CourseError) as info:
        release(root, "c1")
    assert str(trust.secret_path(root)) in str(info.value) and "casekit release" in str(info.value)
    assert not (root / "exchange/c1/outbox").exists()


def test_collect_from_a_hub_says_what_is_missing(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import run_cli
    from servers import free_port

    from kit.problems import CourseError

    url = f"http://127.0.0.1:{free_port()}/services/casekit-exchange/"
    for name in ("CASEKIT_HUB_TOKEN", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    r = run_cli("collect", "c1", "-C", str(course), "--source", url, "--lang", "en")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert url in r.stderr and f"{url.split('/services')[0]}/hub/token" in r.stderr, r.stderr
    with pytest.raises(CourseError, match="cannot be reached"):  # nothing listens there
        collect(course, "c1", source=url, token="t" * 32)
    assert not (course / "submissions").exists()
