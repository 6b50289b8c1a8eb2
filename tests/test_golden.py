"""Golden: the sample course end to end, pinned to a committed dump.

A copy of the sample course is built (three sessions: code questions with
visible and hidden tests, an observation log and an upload, a ranking and a
multiple choice), released to seven trainees who answer through the workbook
runtime and hand in with ``submit`` (right, wrong, partial, blank, whitespace,
code in the store or only in the notebook, a changed locked cell, a removed
tests cell, a late and a repeated submission), then collected, graded, marked
by hand and exported. The gradebook rows (scores, statuses, tests, flags,
marks), the grades export and two feedback pages are compared with
``tests/fixtures/golden/sample-2026-spring.json``.

A restructuring must leave the dump identical; a bug fix changes it on
purpose: regenerate with ``CASEKIT_UPDATE_GOLDEN=1`` and commit the diff with
the fix, so the change is reviewed line by line.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from kit import workbook as W
from kit.builder import build
from kit.exchange import trust
from kit.gradebook import Gradebook
from kit.grading import collect, feedback, grade, grades
from kit.marking.notebook import record_mark

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "sample-2026-spring.json"
COHORT = "2026-spring"
SESSIONS = ["green-2", "red-2", "blue-2"]
# Receipt times: the exchange's clock, fixed so that lateness does not depend on today.
ON_TIME = {
    "green-2": "2026-04-24T06:00:00.000+00:00",
    "red-2": "2026-03-27T06:00:00.000+00:00",
    "blue-2": "2026-05-22T06:00:00.000+00:00",
}
LATE = {"green-2": "2026-04-26T03:00:00.000+00:00"}  # due 22:00 Beijing time: 2 days late
EARLIER = "2026-04-23T06:00:00.000+00:00"

MARKER = "# 答题区 answer: {qid}\n"
BY_INDUSTRY_RIGHT = (
    'by_industry = ledger.groupby("产业")["产值2025"].sum().sort_values(ascending=False)\n'
)
BY_INDUSTRY_UNSORTED = 'by_industry = ledger.groupby("产业")["产值2025"].sum()\n'
DECLINING_RIGHT = (
    'ledger["增速"] = (ledger["产值2025"] / ledger["产值2024"] - 1) * 100\n'
    'declining = ledger[(ledger["乡镇"] == focus_township) & (ledger["增速"] < 0)].sort_values("增速")\n'
)
DECLINING_HALF = (
    'ledger["增速"] = (ledger["产值2025"] / ledger["产值2024"] - 1) * 100\n'
    'declining = ledger[ledger["增速"] < 0]\n'
)


def _keys(course: Path, session: str) -> dict[str, Any]:
    doc = json.loads((course / f"build/{COHORT}/instructor/{session}.keys.json").read_text("utf-8"))
    return {qid: k["value"] for qid, k in doc["keys"].items()}


def _specs(course: Path, session: str) -> dict[str, dict]:
    doc = json.loads((course / f"build/{COHORT}/instructor/{session}.keys.json").read_text("utf-8"))
    return {q["id"]: q for q in doc["questions"]}


def _wrong_choice(spec: dict, right: Any) -> str:
    return next(o for o in spec["options"] if o != right)


def answers_for(course: Path, trainee: str, session: str) -> dict[str, Any]:
    """What each trainee answers (None: cleared after typing), by question id."""
    k, specs = _keys(course, session), _specs(course, session)
    if session == "green-2":
        plan = {
            "sp01": {
                "g2-by-industry": MARKER.format(qid="g2-by-industry") + BY_INDUSTRY_RIGHT,
                "g2-declining": MARKER.format(qid="g2-declining") + DECLINING_RIGHT,
                "g2-total-growth": k["g2-total-growth"],
                "g2-intensity": k["g2-intensity"],
                "g2-advice": "一、发展新能源装备，产值增长 30%；二、压减焦化能耗；三、培育文旅康养。"
                * 2,
                "g2-eval": 5,
                "g2-teacher": 4,
                "g2-eval-comment": "很有收获 <b>谢谢</b>",
            },
            "sp02": {
                "g2-by-industry": MARKER.format(qid="g2-by-industry") + "by_industry = None\n",
                "g2-declining": MARKER.format(qid="g2-declining") + "declining = 1 / 0\n",
                "g2-total-growth": k["g2-total-growth"] + 5,
                "g2-intensity": _wrong_choice(specs["g2-intensity"], k["g2-intensity"]),
                "g2-advice": "加强领导。",
                "g2-eval": 2,
            },
            "sp03": {  # partial, and late
                "g2-by-industry": MARKER.format(qid="g2-by-industry") + BY_INDUSTRY_UNSORTED,
                "g2-declining": MARKER.format(qid="g2-declining") + DECLINING_HALF,
                "g2-total-growth": k["g2-total-growth"] + 0.15,  # within tolerance 0.2
                "g2-intensity": k["g2-intensity"],
            },
            "sp04": {  # blank: the untouched stub, whitespace, a cleared answer
                "g2-by-industry": MARKER.format(qid="g2-by-industry") + "# 在下面写你的代码\n",
                "g2-advice": "   ",
                "g2-eval-comment": "  ",
                "g2-total-growth": None,
                "g2-eval": None,
            },
            "sp05": {  # code only in the notebook (see _edit_workbook), an unknown question
                "g2-total-growth": f"{k['g2-total-growth']}%",
                "g2-intensity": k["g2-intensity"],
                "g2-bogus": "我也答了这个",
            },
            "sp07": {
                "g2-by-industry": MARKER.format(qid="g2-by-industry") + BY_INDUSTRY_RIGHT,
                "g2-total-growth": k["g2-total-growth"],
            },
        }
    elif session == "red-2":
        spec = specs["r2-log"]
        fields = spec["fields"]
        plan = {
            "sp01": {
                "r2-discipline": k["r2-discipline"],
                "r2-log": {f: f"记录{i}" for i, f in enumerate(fields)},
                "r2-report": ("第一课题组报告.md", "# 课题报告\n\n现状、问题、对策。\n".encode()),
                "r2-eval": 4,
                "r2-eval-comment": "讲解员很专业",
            },
            "sp02": {
                "r2-discipline": [
                    o for o in specs["r2-discipline"]["options"] if o not in k["r2-discipline"]
                ],
                "r2-log": {fields[0]: "展品", fields[1]: ""},
            },
            "sp03": {
                "r2-discipline": k["r2-discipline"][:2],
                "r2-log": {f: "" for f in fields},  # every field empty
            },
            "sp04": {"r2-discipline": None, "r2-eval": 3},
        }
    else:
        items = specs["b2-dept-order"]["items"]
        plan = {
            "sp01": {
                "b2-category": k["b2-category"],
                "b2-urgent": k["b2-urgent"],
                "b2-overdue-share": k["b2-overdue-share"],
                "b2-dept": k["b2-dept"] if isinstance(k["b2-dept"], str) else k["b2-dept"][0],
                "b2-cause": k["b2-cause"],
                "b2-dept-order": k["b2-dept-order"],
                "b2-report": "按时办结率偏低，建议建立督办台账。",
            },
            "sp02": {
                "b2-category": _wrong_choice(specs["b2-category"], k["b2-category"]),
                "b2-urgent": specs["b2-urgent"]["options"],
                "b2-overdue-share": "不知道",
                "b2-dept": "  错误的部门 ",
                "b2-dept-order": list(reversed(k["b2-dept-order"])),
            },
            "sp03": {
                "b2-urgent": k["b2-urgent"][:1],
                "b2-dept-order": [
                    *k["b2-dept-order"][1:2],
                    k["b2-dept-order"][0],
                    *k["b2-dept-order"][2:],
                ],
                "b2-dept": str(
                    k["b2-dept"] if isinstance(k["b2-dept"], str) else k["b2-dept"][0]
                ).upper(),
            },
        }
        assert sorted(plan["sp01"]["b2-dept-order"]) == sorted(items)
    return plan.get(trainee, {})


def _edit_workbook(path: Path, trainee: str, session: str) -> None:
    """What some trainees do to the notebook itself before handing it in."""
    if session != "green-2" or trainee not in ("sp05", "sp02"):
        return
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        first = (cell.source.splitlines() or [""])[0]
        role = cell.metadata.get("casekit", {}).get("role")
        if trainee == "sp05" and first.startswith("# 答题区 answer: g2-by-industry"):
            cell.source = first + "\n" + BY_INDUSTRY_RIGHT
        if trainee == "sp05" and first.startswith("# 答题区 answer: g2-declining"):
            cell.source = first + "\n" + DECLINING_HALF
        if trainee == "sp02" and role == "locked":
            cell.source = cell.source.replace("n = 64", "n = 6")
    if trainee == "sp05":
        nb.cells = [c for c in nb.cells if c.metadata.get("casekit", {}).get("role") != "tests"]
    nbformat.write(nb, str(path))


def hand_in(course: Path, exchange: Path, trainee: str, session: str, received: str) -> None:
    """Answer through the workbook runtime, then submit; fix the receipt time."""
    wb = exchange / COHORT / "outbox" / trainee / f"{session}.ipynb"
    kinds = {q: s["kind"] for q, s in _specs(course, session).items()}
    rt = W.open_workbook(
        session, trainee=trainee, cohort=COHORT, exchange=exchange, store=W.store_path_for(wb)
    )
    try:
        for qid, value in answers_for(course, trainee, session).items():
            kind = kinds.get(qid, "text")
            if kind == "upload":
                name, content = value
                value = rt.save_file(qid, name, content)
            elif value is None:
                rt.save(qid, "x", kind)  # typed something, then cleared it
            rt.save(qid, value, kind)
    finally:
        W.close_workbook()
    _edit_workbook(wb, trainee, session)
    receipt = W.submit(wb)
    rpath = receipt.folder / "receipt.json"
    doc = json.loads(rpath.read_text("utf-8"))
    doc["received_at"] = received
    # as the exchange would have signed it had it received the hand-in then (kit.exchange.trust)
    doc = trust.sign_receipt(trust.course_secret(course), doc)
    rpath.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        v = v.item()
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is None or isinstance(v, str | int | bool):
        return v
    if isinstance(v, list | dict):
        return json.loads(json.dumps(v, default=str))
    return str(v)


# Rows are sorted by what identifies them, so that a changed value shows as one changed line.
IDENTITY = (
    "session",
    "trainee",
    "学员编号",
    "received_at",
    "question",
    "name",
    "criterion",
    "code",
    "where",
)


def _rows(df: pd.DataFrame, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    df = df.drop(columns=[c for c in drop if c in df.columns])
    rows = [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]
    return sorted(
        rows, key=lambda r: [str(r.get(k, "")) for k in IDENTITY] + [json.dumps(r, sort_keys=True)]
    )


def _page_text(path: Path) -> str:
    """The feedback page's body, one tag per line for a readable diff."""
    text = path.read_text("utf-8")
    body = text[text.index("<body") :] if "<body" in text else text
    return body.replace("><", ">\n<")


def run_sample(course: Path) -> dict[str, Any]:
    """The whole flow on a copy of the sample course; returns the canonical dump."""
    res = build(course, COHORT, sessions=SESSIONS, progress=False, workers=2)
    assert not res.failures, res.failures
    trainees = ["sp01", "sp02", "sp03", "sp04", "sp05", "sp06", "sp07"]
    rel = W.release(course, COHORT, sessions=SESSIONS, trainees=trainees)
    assert not rel.failures, rel.failures
    exchange = course / "exchange"
    for session in SESSIONS:
        for t in trainees:
            if not answers_for(course, t, session) and session != "green-2":
                continue
            if t == "sp06":
                continue  # hands in nothing
            if t == "sp07" and session == "green-2":
                hand_in_twice(course, exchange, t, session)
                continue
            when = LATE.get(session) if t == "sp03" else None
            hand_in(course, exchange, t, session, when or ON_TIME[session])
    col = collect(course, COHORT)
    assert not col.failures and not col.unknown, (col.failures, col.unknown)
    g = grade(course, COHORT, progress=False, workers=1)
    assert not g.failures, g.failures
    record_mark(
        course, COHORT, "green-2", "g2-advice", trainee="sp01",
        criteria={"data": True, "fit": 2}, comment="数据扎实 <i>好</i>",
    )  # fmt: skip
    record_mark(
        course, COHORT, "red-2", "r2-report", group="第一课题组", criteria={"problem": True}
    )
    record_mark(course, COHORT, "red-2", "r2-log", trainee="sp02", points=3)
    # after every due time, so the pages show what the authors allow then, whatever today is
    fb = feedback(course, COHORT, now=datetime(2026, 7, 1, tzinfo=UTC))
    assert not fb.failures, fb.failures
    out = course / "grades.csv"
    grades(course, COHORT, out)
    export = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    export = export[export["学员编号"].isin(trainees)]
    with Gradebook.open(course) as gb:
        dump = {
            "submissions": _rows(gb.submissions(COHORT), ("id", "sha256", "path")),
            "scores": _rows(gb.submission_scores(COHORT), ("submission_id",)),
            "questions": _rows(gb.question_scores(COHORT), ("submission_id",)),
            "tests": _rows(gb.tests(COHORT), ("submission_id",)),
            "flags": _rows(gb.flags(COHORT), ("submission_id",)),
            "marks": _rows(gb.marks(COHORT), ("at", "marker")),
        }
    dump["grades.csv"] = {"columns": list(export.columns), "rows": _rows(export)}
    fb_dir = course / "build" / COHORT / "feedback"
    dump["feedback"] = {
        f"{t}/{s}": _page_text(fb_dir / t / f"{s}.html")
        for t, s in (
            ("sp01", "green-2"),
            ("sp04", "green-2"),
            ("sp01", "red-2"),
            ("sp02", "blue-2"),
        )
    }
    return dump


def hand_in_twice(course: Path, exchange: Path, trainee: str, session: str) -> None:
    """A first attempt with one answer, then the full one: the later counts."""
    wb = exchange / COHORT / "outbox" / trainee / f"{session}.ipynb"
    rt = W.open_workbook(
        session, trainee=trainee, cohort=COHORT, exchange=exchange, store=W.store_path_for(wb)
    )
    rt.save("g2-intensity", "焦化", "choice")
    W.close_workbook()
    first = W.submit(wb)
    rpath = first.folder / "receipt.json"
    doc = json.loads(rpath.read_text("utf-8"))
    doc["received_at"] = EARLIER
    doc = trust.sign_receipt(trust.course_secret(course), doc)
    rpath.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    hand_in(course, exchange, trainee, session, ON_TIME[session])


def canonical(dump: dict[str, Any]) -> str:
    return json.dumps(dump, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def test_sample_course_is_graded_as_pinned(sample_course: Path) -> None:
    got = canonical(run_sample(sample_course))
    if os.environ.get("CASEKIT_UPDATE_GOLDEN"):
        # written, then failed on purpose: an update is a diff to review, never a pass
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got, "utf-8")
        pytest.fail(
            f"{GOLDEN} rewritten: review `git diff` on it, commit, and run without the flag"
        )
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} missing: run with CASEKIT_UPDATE_GOLDEN=1 and commit it")
    want = GOLDEN.read_text("utf-8")
    if got != want:
        diff = difflib.unified_diff(
            want.splitlines(), got.splitlines(), "golden", "now", lineterm="", n=2
        )
        pytest.fail("the sample course grades differently:\n" + "\n".join(list(diff)[:300]))
