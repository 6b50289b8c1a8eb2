"""The live class: answers from workbooks reach the instructor's view, the class state reaches the workbooks.

Trainees answer through their workbook runtime (`kit.workbook.Runtime` over the
answer store, which posts through the exchange): the same path a workbook in
JupyterLab takes. Their question widgets are the real ipywidgets views.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import (  # noqa: E402
    LIVE_CELLS,
    STAFF,
    TRIAGE,
    class_course,
    runtime_of,
    spec_of,
    trainee_ids,
    wait_for,
)

from kit.workbook.livelink import banner_html, banner_of  # noqa: E402


@pytest.fixture(scope="module")
def practice_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kit.workbook import release

    root = class_course(tmp_path_factory.mktemp("live") / "course", *LIVE_CELLS, trainees=8,
                        mode="practice")  # fmt: skip
    assert not release(root, "c1").failures
    return root


def _act(server, qid: str, action: str) -> dict:
    req = Request(
        f"http://127.0.0.1:{server.port}/api/act",
        data=json.dumps({"question": qid, "action": action}).encode(),
        headers={"X-Casekit-Token": server.token, "Content-Type": "application/json"},
        method="POST",
    )
    with urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_practice_workbooks_follow_open_close_reveal_and_see_the_class_result(
    practice_class: Path,
) -> None:
    from kit.live.server import live
    from kit.questions import QuestionView

    root = practice_class
    server = live(root, "c1", "coop", port=0, background=True)
    try:
        rts = [runtime_of(root, t, mode="practice") for t in trainee_ids(8)]
        views = [QuestionView(spec_of(root, "q-kind"), rt) for rt in rts]
        essays = [QuestionView(spec_of(root, "q-plan"), rt) for rt in rts]
        radio = lambda v: v.inputs["radio"]  # noqa: E731
        # the class runs, nothing is open yet: widgets as usual
        wait_for(
            lambda: all(rt.live_link().running for rt in rts), 15, "workbooks to see the class"
        )
        assert not any(radio(v).disabled for v in views)

        _act(server, "q-kind", "open")
        wait_for(lambda: all("课堂作答中" in banner_of(v) for v in views), 15, "open")
        for i, v in enumerate(views):
            radio(v).value = ["咨询", "求助", "求助", "投诉"][i % 4]  # what a click does
        for i, v in enumerate(essays):
            v.inputs["textarea"].value = (TRIAGE[:3] + STAFF[:5])[i]
        for qid in ("q-kind", "q-plan"):
            wait_for(lambda q=qid: server.live.snapshot_of(q)["summary"]["n"] == 8, 15, "answers")
        bars = {
            b["label"]: b["count"] for b in server.live.snapshot_of("q-kind")["summary"]["bars"]
        }
        assert bars == {"咨询": 2, "求助": 4, "投诉": 2}
        groups = server.live.snapshot_of("q-plan")["summary"]["groups"]
        assert sorted(g["count"] for g in groups) == [3, 5]
        # the key is nowhere before the reveal: not on the page's data, not in the published state
        published = json.dumps(rts[0].live_link().exchange().live_state("c1", "coop"))
        assert (
            '"key"' not in json.dumps(server.live.snapshot_of("q-kind"))
            and '"key"' not in published
        )

        _act(server, "q-kind", "close")
        wait_for(lambda: all(radio(v).disabled for v in views), 15, "closed widgets")
        assert "已截止" in banner_of(views[0])
        assert not essays[0].inputs["textarea"].disabled  # only the closed question
        # an answer after the close is kept in the workbook, but does not count in the room
        rts[0].save("q-kind", "投诉", "choice")
        assert rts[0].answers()["q-kind"]["value"] == "投诉"
        server.live.refresh()
        bars = {
            b["label"]: b["count"] for b in server.live.snapshot_of("q-kind")["summary"]["bars"]
        }
        assert bars == {"咨询": 2, "求助": 4, "投诉": 2}

        _act(server, "q-kind", "reveal")
        wait_for(lambda: all("已揭晓" in banner_of(v) for v in views), 15, "revealed")
        banner = banner_of(views[1])
        assert "全班结果" in banner and "求助 — 4 人" in banner and "参考答案：求助" in banner
        assert radio(views[1]).disabled
        _act(server, "q-kind", "reopen")
        wait_for(lambda: not any(radio(v).disabled for v in views), 15, "reopened")
    finally:
        server.stop()
    # the class ended: workbooks back to normal, no banner
    wait_for(lambda: not rts[2].live_link().running, 15, "the end of the class")
    assert banner_of(views[2]) == "" and not radio(views[2]).disabled
    assert all(rt.live_link().failed == 0 for rt in rts)


def test_a_failing_exchange_never_costs_the_local_save(
    practice_class: Path, tmp_path: Path
) -> None:
    from kit.live.server import live

    root = practice_class
    server = live(root, "c1", "coop", port=0, background=True)
    try:
        good = runtime_of(root, "t01", mode="practice")
        wait_for(lambda: good.live_link().running, 15, "the class")
        # the exchange goes away under a running class: posts fail, are counted, the store keeps all
        blocker = tmp_path / "exchange-is-a-file"
        blocker.write_text("x")
        link = good.live_link()
        link._exchange.root = blocker  # the folder is gone (as a disk that went away)
        for n in range(5):
            good.save("q-plan", f"第 {n} 稿：先分级派单", "essay")
        assert good.answers()["q-plan"]["value"] == "第 4 稿：先分级派单"
        wait_for(lambda: link.failed >= 1, 15, "the failure to be counted")
    finally:
        server.stop()


def test_the_page_needs_the_token_and_the_trainee_state_never_holds_an_assessed_key(
    tmp_path: Path,
) -> None:
    from kit.live.server import live
    from kit.workbook import release

    root = class_course(tmp_path / "course", *LIVE_CELLS, trainees=3)
    assert not release(root, "c1").failures
    server = live(root, "c1", "coop", port=0, background=True)
    try:
        with pytest.raises(HTTPError) as err:
            urlopen(f"http://127.0.0.1:{server.port}/api/snapshot", timeout=10)
        assert err.value.code == 403
        rt = runtime_of(root, "t01")
        rt.save("q-kind", "求助", "choice")
        room = server.live.exchange
        wait_for(lambda: "t01" in room.live("c1", "coop").get("q-kind", {}), 15, "t01's answer")
        _act(server, "q-kind", "reveal")
        state = json.loads((root / "exchange/c1/live/coop.state.json").read_text("utf-8"))
        assert state["questions"]["q-kind"] == {"status": "revealed"}  # assessed: no key, no result
        with urlopen(server.url.replace("/?", "/api/snapshot?"), timeout=10) as r:
            snap = json.loads(r.read())
        assert next(q for q in snap["questions"] if q["id"] == "q-kind")["summary"]["key"] == "求助"
        # an answer from someone not on the roster is not counted
        from kit.exchange.clients import FolderExchange

        FolderExchange(root / "exchange").post_live("c1", "coop", "q-kind", "投诉", trainee="x99")
        server.live.refresh()
        assert server.live.snapshot_of("q-kind")["summary"]["n"] == 1
    finally:
        server.stop()


def test_banner_is_escaped() -> None:
    spec = {"id": "q", "kind": "text", "colour": "#123456"}
    qstate = {"status": "revealed", "key": "<b>x</b>",
              "result": {"rows": [{"label": "<script>alert(1)</script>", "value": "2 人"}]}}  # fmt: skip
    out = banner_html(spec, qstate, {"running": True}, "zh")
    assert "<script>" not in out and "&lt;script&gt;" in out and "&lt;b&gt;x&lt;/b&gt;" in out


def test_summaries_ignore_forged_values_and_name_only_when_asked() -> None:
    from kit.live.stats import summarise

    choice = {"id": "q", "kind": "choice", "options": ["甲", "乙"], "points": 1}
    s = summarise(choice, {"t1": "甲", "t2": "乙", "t3": "<img src=x>", "t4": None},
                  {"value": "乙"}, revealed=False)  # fmt: skip
    assert (s["n"], s["ignored"]) == (2, 1) and "key" not in s and "correct" not in s
    s = summarise(choice, {"t1": "甲", "t2": "乙"}, {"value": "乙"}, revealed=True)
    assert s["key"] == "乙" and s["correct"] == 1
    assert [b["key"] for b in s["bars"]] == [False, True]
    number = {"id": "n", "kind": "number", "points": 1, "number_unit": "%"}
    values = {f"t{i}": float(v) for i, v in enumerate([3, 7, 7.5, 9, 11, 12, 12.5, 13, 20, 31])}
    s = summarise(number, values, {"value": 12.5}, revealed=True)
    assert sum(b["count"] for b in s["bins"]) == 10 and s["key"] == "12.5 %"
    assert [b["label"] for b in s["bins"] if b.get("key")] and s["correct"] == 1
    essay = {"id": "e", "kind": "essay"}
    texts = {"t1": TRIAGE[0], "t2": TRIAGE[1], "t3": STAFF[0]}
    anon = summarise(essay, texts, None, revealed=False)
    assert all("who" not in g for g in anon["groups"])
    named = summarise(
        essay, texts, None, revealed=False, names={"t1": "王一", "t2": "李二", "t3": "赵三"}
    )
    assert sorted(g["who"] for g in named["groups"]) == [["王一", "李二"], ["赵三"]]


def test_a_close_counts_what_the_exchange_received_before_it(practice_class: Path) -> None:
    from kit import artifacts
    from kit.course import load_course
    from kit.exchange.clients import FolderExchange
    from kit.live.server import LiveClass

    class SlowRoom(FolderExchange):
        """A real folder exchange where two posts arrive just after it took the close."""

        def set_live_state(self, cohort: str, session: str, state: dict) -> str:
            at = super().set_live_state(cohort, session, state)
            if state["questions"].get("q-kind", {}).get("status") == "closed":
                self.post_live(cohort, session, "q-kind", "投诉", trainee="t01")  # changed after
                self.post_live(cohort, session, "q-kind", "求助", trainee="t03")  # first after
            return at

    course = load_course(practice_class)
    # a class of its own: the module's other tests keep their record of the session
    record = artifacts.live_class_path(course, "c1", "coop")
    kept = record.read_bytes() if record.exists() else None
    record.unlink(missing_ok=True)
    exchange = SlowRoom(practice_class / "exchange-late")
    exchange.post_live("c1", "coop", "q-kind", "求助", trainee="t01")
    exchange.post_live("c1", "coop", "q-kind", "投诉", trainee="t02")
    klass = LiveClass.open(course, "c1", "coop", exchange)
    klass.start()
    klass.act("q-kind", "close")
    # by the exchange's clock: t01 counts with the answer given before the close, t03 not at all
    assert klass.frozen["q-kind"] == {"t01": "求助", "t02": "投诉"}
    assert exchange.live("c1", "coop")["q-kind"]["t01"]["value"] == "投诉"  # nothing is lost
    bars = {b["label"]: b["count"] for b in klass.snapshot_of("q-kind")["summary"]["bars"]}
    assert (bars["求助"], bars["投诉"]) == (1, 1)
    klass.act("q-kind", "reopen")  # another round counts what the room holds now
    assert klass.snapshot_of("q-kind")["summary"]["n"] == 3
    klass.end()
    record.unlink()
    if kept is not None:
        record.write_bytes(kept)


def test_a_record_that_cannot_be_kept_is_said_and_the_class_goes_on(practice_class: Path) -> None:
    from kit import artifacts
    from kit.course import load_course
    from kit.exchange.clients import FolderExchange
    from kit.live.server import LiveClass

    course = load_course(practice_class)
    folder = artifacts.live_class_path(course, "c1", "coop").parent
    aside = folder.with_name("live-aside")
    if folder.exists():
        folder.rename(aside)
    folder.write_text("not a folder", "utf-8")  # as an instructor without write access finds it
    try:
        exchange = FolderExchange(practice_class / "exchange-norecord")
        klass = LiveClass.open(course, "c1", "coop", exchange, anonymous=True)
        assert klass.record_problem and str(folder) in klass.record_problem
        klass.start()
        klass.act("q-kind", "open")  # the buttons still work
        assert exchange.live_state("c1", "coop")["questions"]["q-kind"]["status"] == "open"
        klass.end()
    finally:
        folder.unlink()
        if aside.exists():
            aside.rename(folder)
