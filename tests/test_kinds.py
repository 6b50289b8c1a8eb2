"""The registry of question kinds: one declaration per kind, one emptiness, one scoring function."""

from __future__ import annotations

import inspect

import pytest

from kit import kinds
from kit.kinds.base import Declared, KeyedKind, Score
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


# ---------------------------------------------------------------- adding a kind


class Slider(KeyedKind):
    """The worked example of docs/architecture.md: a keyed kind in one class (plus its widget)."""

    name = "slider"
    messages = {"zh": {"kind_slider": "滑块题"}, "en": {"kind_slider": "Slider"}}

    def declare(self, qid, prompt, low: int = 0, high: int = 10, points: float = 1, *, unit=None):
        if low >= high:
            raise AuthoringError(f"question {qid!r}: low must be below high")
        return Declared(qid, prompt, points, {"low": low, "high": high, "unit": unit})

    def valid(self, spec, value):
        ok = value is None or (isinstance(value, int) and spec["low"] <= value <= spec["high"])
        return None if ok else "not on the slider"

    def compare(self, spec, kv, opts, answer, maxp):
        right = abs(int(answer) - int(kv)) <= 1  # within one step of the key
        return Score(maxp if right else 0.0, maxp, "correct" if right else "wrong")

    def widget(self, view, value):
        slider = view.w.IntSlider(min=view.spec["low"], max=view.spec["high"], value=value or 0)
        slider.observe(lambda change: view.save(change["new"]), "value")
        view.inputs["slider"] = slider
        return [slider]


@pytest.fixture
def slider():
    kind = kinds.registry.register(Slider())
    yield kind
    kinds.registry.unregister("slider")


def test_a_new_kind_is_one_registration(slider, tmp_path):
    from kit.notebooks import check_notebook
    from kit.workbook import Runtime

    q = ask.slider("s1", "打几分？", low=1, high=5, points=2)
    assert q.spec["kind"] == "slider" and q.spec["high"] == 5
    with pytest.raises(AuthoringError, match="below high"):
        ask.slider("s2", "打几分？", low=5, high=1)
    assert kinds.score(q.spec, {"id": "s1", "value": 3}, 4).status == "correct"
    assert kinds.score(q.spec, {"id": "s1", "value": 3}, None).status == "unanswered"
    assert kinds.score(q.spec, None, 4).status == "ungraded"  # no key: never guessed
    assert "滑块题" in kinds.render_html(q.spec, 4, "zh") and "Slider" in kinds.render_plain(
        q.spec, "en"
    )
    view = q.widget(Runtime(None, language="zh"))
    view.inputs["slider"].value = 4
    assert view.current() == 4

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('ask.slider("s1", "打几分？", low=1, high=5)'),
        nbformat.v4.new_code_cell('key("s1", 3)', metadata={"tags": ["key"]}),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    assert [p for p in check_notebook(path) if p.severity == "error"] == []
