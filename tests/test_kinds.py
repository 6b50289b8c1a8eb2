"""The registry of question kinds: one declaration per kind, one emptiness, one scoring function."""

from __future__ import annotations

import inspect

import pytest

from kit import kinds
from kit.questions import AuthoringError, ask


def test_every_kind_is_registered_once_and_asked_through_the_registry():
    assert kinds.names() == (
        "choice", "multi", "number", "text", "essay", "ranking", "code", "rating", "observation",
        "upload",
    )  # fmt: skip
    assert sorted(dir(ask)) == sorted(kinds.names())
    assert kinds.names(manual=True) == ("essay", "observation", "upload")
    assert kinds.names(keyed=True) == ("choice", "multi", "number", "text", "ranking")
    assert kinds.names(graded=False) == ("rating",)
    assert kinds.names(tested=True) == ("code",)
    with pytest.raises(AttributeError, match="no such question kind.*choice"):
        ask.poll("q1", "哪一个？")
    with pytest.raises(kinds.UnknownKind, match="known kinds"):
        kinds.get("poll")
    # the constructor is the kind's declaration: its signature and checks
    assert list(inspect.signature(ask.choice).parameters)[:4] == [
        "qid",
        "prompt",
        "options",
        "points",
    ]
    with pytest.raises(AuthoringError, match="at least two options"):
        ask.choice("q1", "哪一个？", ["只有一个"])


@pytest.mark.parametrize(
    ("kind", "value", "empty"),
    [
        ("essay", "   ", True),
        ("essay", "\n\t", True),
        ("text", "  ", True),
        ("observation", {"what": "", "who": "  "}, True),
        ("observation", {"what": "看到了展品"}, False),
        ("upload", {"name": "报告.md", "size": 0, "sha256": ""}, False),
        ("upload", {}, True),
        ("code", "# 答题区 answer: q1\n# 在下面写你的代码\npass\n", True),
        ("code", "# 答题区 answer: q1\nx = 1\n", False),
        ("number", 0, False),
        ("rating", None, True),
        ("multi", [], True),
    ],
)
def test_one_emptiness_for_scoring_storing_and_feedback(kind, value, empty):
    """Whitespace and a log of blank fields are no answer wherever casekit looks (it was two checks)."""
    spec = {"id": "q1", "kind": kind, "points": 2, "rubric": [{"id": "r", "points": 2}]}
    assert kinds.is_empty(kind, value) is empty
    got = kinds.score(spec, {"id": "q1", "value": "x"}, value)
    assert (got.status == "unanswered") is empty
    assert ("<em>—</em>" in kinds.get(kind).answer_html(value)) is empty


def test_code_score_is_the_graders():
    """Judged test records (points earned, max_points) give the grader's points, status and detail."""
    spec = {"id": "q", "kind": "code", "points": 3}
    judged = [
        {"name": "a", "passed": True, "points": 1.0, "max_points": 1.0, "hidden": False},
        {"name": "b", "passed": False, "points": 0.0, "max_points": 1.0, "message": "不对"},
        {"name": "c", "passed": False, "points": 0.0, "max_points": 1.0, "hidden": True},
    ]
    got = kinds.score(spec, None, "x = 1", tests=judged, run_error="")
    assert (got.points, got.max_points, got.status, got.detail) == (1.0, 3.0, "partial", "b: 不对")
    timed_out = kinds.score(spec, None, "x = 1", tests=judged[1:], run_error="CellTimeoutError")
    assert timed_out.status == "wrong" and timed_out.detail.startswith("CellTimeoutError; b:")
    assert kinds.score(spec, None, "x = 1", tests=judged[:1]).points == 3.0
    assert kinds.score(spec, None, None, tests=judged).status == "unanswered"


def test_hand_marked_items_worth_nothing_are_not_left_waiting():
    spec = {"id": "q", "kind": "essay", "points": 0, "rubric": [{"id": "r", "points": 0}]}
    assert kinds.score(spec, None, "我的体会").status == "answered"
    spec["points"], spec["rubric"][0]["points"] = 4, 4
    assert kinds.score(spec, None, "我的体会").status == "needs-marking"
