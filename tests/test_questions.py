"""Question widgets, the answer store, scoring, practice hashes, submit, release.

Widgets are driven in Python (values set, buttons clicked) against a real
answer file; the kernel-only parts (live widget views, the code-cell hook,
key refusal) run in real Jupyter kernels through nbclient.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kit import questions as Q
from kit import workbook as W
from kit.questions import ask, practice_check, practice_hashes, score

sys.path.insert(0, str(Path(__file__).parent))
from conftest import _code, write_course  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_kernel_state():
    """Each test is a fresh notebook: no questions or workbook left from another."""
    Q.QUESTIONS.clear()
    W.close_workbook()
    yield
    W.close_workbook()


@pytest.fixture
def rt(tmp_path: Path):
    """An open workbook runtime whose store lives in tmp_path."""
    os.environ.pop("CASEKIT_MODE", None)
    (tmp_path / "s01.ipynb").write_text("{}", encoding="utf-8")
    runtime = W.open_workbook(
        "s01",
        trainee="t01",
        name="王一",
        cohort="c1",
        exchange=tmp_path / "exchange",
        store=tmp_path / "s01.answers.json",
    )
    yield runtime
    W.close_workbook()


def stored(rt) -> dict:
    return json.loads(rt.store.path.read_text(encoding="utf-8"))["answers"]


# ------------------------------------------------------------------ widgets


def test_choice_starts_unanswered_and_stores_the_pick(rt):
    q = ask.choice("q1", "哪一项？", ["甲", "乙", "丙"])
    v = q.widget()
    assert v.inputs["radio"].value is None and v.inputs["radio"].index is None
    assert not rt.store.path.exists()  # building a widget never stores a default
    v.inputs["radio"].value = "乙"
    assert stored(rt)["q1"]["value"] == "乙"
    assert stored(rt)["q1"]["kind"] == "choice"
    # a rebuilt widget (re-run cell, restarted kernel) shows the saved answer
    assert q.widget().inputs["radio"].value == "乙"


def test_multi_number_text_essay(rt):
    m = ask.multi("q2", "哪些？", ["a", "b", "c"]).widget()
    m.inputs["checkboxes"][0].value = True
    m.inputs["checkboxes"][2].value = True
    assert stored(rt)["q2"]["value"] == ["a", "c"]
    m.inputs["checkboxes"][0].value = False
    m.inputs["checkboxes"][2].value = False
    assert stored(rt)["q2"]["value"] is None  # cleared = unanswered, not []

    n = ask.number("q3", "占比？", unit="%", tolerance=0.5).widget()
    assert n.inputs["text"].value == ""
    n.inputs["text"].value = "１２.５%"
    assert stored(rt)["q3"]["value"] == 12.5
    n.inputs["text"].value = "十二"
    assert "不是有效数字" in n.message.value
    assert stored(rt)["q3"]["value"] == 12.5  # an invalid entry never replaces an answer
    n.inputs["text"].value = "1,234.5"
    assert stored(rt)["q3"]["value"] == 1234.5
    assert ask.number("q3", "占比？", unit="%").widget().inputs["text"].value == "1,234.5"

    t = ask.text("q4", "一个词", max_length=5).widget()
    t.inputs["text"].value = "担当"
    assert stored(rt)["q4"]["value"] == "担当"
    t.inputs["text"].value = "太长太长太长的答案"
    assert "过长" in t.message.value and stored(rt)["q4"]["value"] == "太长太长太长的答案"

    e = ask.essay(
        "q5", "谈谈看法", rubric=[{"text": "观点明确", "points": 2}], min_chars=5
    ).widget()
    e.inputs["textarea"].value = "我认为<script>x</script>应当……"
    assert stored(rt)["q5"]["value"].startswith("我认为<script>")
    html = Q.Question(Q.QUESTIONS["q5"]).to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html  # trainee text escaped


def test_ranking_rating_observation_upload_code(rt, tmp_path):
    r = ask.ranking("q6", "排序", ["A", "B", "C"]).widget()
    assert not rt.store.path.exists()  # the shown order is not an answer
    r.inputs["down"][0].click()
    assert stored(rt)["q6"]["value"] == ["B", "A", "C"]
    r.inputs["up"][2].click()
    assert stored(rt)["q6"]["value"] == ["B", "C", "A"]
    r2 = ask.ranking("q6b", "排序", ["A", "B"]).widget()
    r2.inputs["confirm"].click()
    assert stored(rt)["q6b"]["value"] == ["A", "B"]
    assert ask.ranking("q6", "排序", ["A", "B", "C"]).widget().order == ["B", "C", "A"]

    g = ask.rating("q7", "评价本课", scale=5, labels=list("12345")).widget()
    assert g.inputs["toggles"].value is None
    assert "q7" not in stored(rt)
    g.inputs["toggles"].value = 4
    assert stored(rt)["q7"]["value"] == 4

    o = ask.observation("q8", "现场记录").widget()
    o.inputs["what"].value = "便民服务大厅"
    o.inputs["ideas"].value = "增加自助机"
    assert stored(rt)["q8"]["value"] == {
        "what": "便民服务大厅",
        "who": "",
        "problems": "",
        "ideas": "增加自助机",
    }

    u = ask.upload("q9", "上传报告", accept=".pdf,.md", max_mb=0.001).widget()
    u.receive_upload([{"name": "../../报告 1.md", "content": memoryview(b"# report\n")}])
    rec = stored(rt)["q9"]["value"]
    assert rec["name"] == "报告 1.md" and rec["size"] == 9 and len(rec["sha256"]) == 64
    assert (tmp_path / "s01.files" / "q9" / "报告 1.md").read_bytes() == b"# report\n"
    u.receive_upload([{"name": "big.md", "content": b"x" * 5000}])
    assert "过大" in u.message.value and stored(rt)["q9"]["value"]["name"] == "报告 1.md"
    u.receive_upload([{"name": "virus.exe", "content": b"x"}])
    assert "类型不符" in u.message.value

    c = ask.code("q10", "写代码").widget()
    assert "答题区" in c.box.children[2].value
    # the hook is what the kernel calls after a cell runs
    info = type("Info", (), {"raw_cell": Q.answer_stub("q10") + "x = 1\n"})
    W._code_hook(type("Result", (), {"info": info})())
    assert stored(rt)["q10"]["value"].endswith("x = 1\n")
    assert "代码已保存" in c.status.value
    # running the untouched stub again (Voilà runs every cell on open) keeps the answer
    info = type("Info", (), {"raw_cell": Q.answer_stub("q10")})
    W._code_hook(type("Result", (), {"info": info})())
    assert stored(rt)["q10"]["value"].endswith("x = 1\n")
    assert Q.answer_cell_qid(Q.answer_stub("q10", "en")) == "q10"


def test_two_runtimes_merge_per_question(tmp_path):
    path = tmp_path / "s.answers.json"
    a = W.Runtime(W.AnswerStore(path, {"workbook": "s.ipynb"}))
    b = W.Runtime(W.AnswerStore(path, {"workbook": "s.ipynb"}))
    a.save("q1", "甲", "choice")
    b.save("q2", 3.0, "number")  # b never saw q1: it must not drop it
    a.save("q3", "x", "text")
    b.save("q1", "乙", "choice")  # same question: last write wins
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert {q: e["value"] for q, e in doc["answers"].items()} == {"q1": "乙", "q2": 3.0, "q3": "x"}


def test_corrupt_store_keeps_other_answers(rt, tmp_path):
    ask.choice("q1", "哪一项？", ["甲", "乙"]).widget().inputs["radio"].value = "甲"
    ask.text("q2", "一个词").widget().inputs["text"].value = "实干"
    doc = json.loads(rt.store.path.read_text(encoding="utf-8"))
    doc["answers"]["q1"] = "nonsense"  # hand-edited into nonsense
    rt.store.path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    v = ask.choice("q1", "哪一项？", ["甲", "乙"]).widget()
    assert v.inputs["radio"].value is None
    assert "s01.answers.json" in v.message.value and "q1" in v.message.value
    assert ask.text("q2", "一个词").widget().inputs["text"].value == "实干"
    with pytest.raises(W.StoreError) as err:
        W.load_store(rt.store.path)
    assert "s01.answers.json" in str(err.value) and "'q1'" in str(err.value)
    ask.text("q3", "另一个").widget().inputs["text"].value = "新答案"
    after = json.loads(rt.store.path.read_text(encoding="utf-8"))["answers"]
    assert after["q2"]["value"] == "实干" and after["q3"]["value"] == "新答案"
    assert after["q1"] == "nonsense"  # the bad entry is left for a human, not destroyed
    assert list(tmp_path.glob("s01.answers.json.corrupt-*"))

    # a value that does not fit the question (edited option) is reported by name
    after["q2"] = {"value": 42, "at": "2999-01-01T00:00:00+00:00", "kind": "text"}
    rt.store.path.write_text(json.dumps({"answers": after}), encoding="utf-8")
    v2 = ask.text("q2", "一个词").widget()
    assert "q2" in v2.message.value and v2.inputs["text"].value == ""

    # the whole file broken: clear message, a copy kept, known answers rewritten
    rt.store.path.write_text('{"answers": {"q3": ', encoding="utf-8")
    v3 = ask.text("q3", "另一个").widget()
    assert v3.inputs["text"].value == "新答案"
    assert any("已损坏" in w for w in rt.store.warnings)
    with pytest.raises(W.StoreError, match="s01.answers.json"):
        W.load_store(rt.store.path)
    v3.inputs["text"].value = "新答案2"
    final = W.load_store(rt.store.path, strict=False)["answers"]
    assert (
        final["q3"]["value"] == "新答案2" and final["q2"]["value"] == 42
    )  # latest write per question
    assert len(list(tmp_path.glob("s01.answers.json.corrupt-*"))) >= 2


def test_progress_and_practice_check(tmp_path):
    (tmp_path / "p.ipynb").write_text("{}", encoding="utf-8")
    spec_q = {"id": "q1", "kind": "choice", "options": ["甲", "乙"], "points": 1}
    hashes = {"q1": practice_hashes(spec_q, {"id": "q1", "value": "乙"}, "salt1")}
    rt = W.open_workbook(
        "p", mode="practice", practice=hashes, store=tmp_path / "p.answers.json", cohort="c"
    )
    try:
        rt.panel = W.ProgressPanel(rt)
        v = ask.choice("q1", "哪一项？", ["甲", "乙"], unit="red").widget()
        ask.number("q2", "多少？", unit="个", points=1)
        rt.questions["q2"]["unit"] = "gold"
        assert "0 / 2" in rt.panel.bars.value
        v.check_button.click()
        assert "请先作答" in v.feedback.value
        v.inputs["radio"].value = "甲"
        v.check_button.click()
        assert "还不对" in v.feedback.value
        v.inputs["radio"].value = "乙"
        assert v.check() is True and "正确" in v.feedback.value
        assert "1 / 2" in rt.panel.bars.value and "#c0392b" in rt.panel.bars.value
        assert "已通关" in rt.panel.bars.value
    finally:
        W.close_workbook()
    # assessed mode never offers a check, even if hashes were passed
    W.open_workbook("p", mode="assessed", practice=hashes, store=tmp_path / "p.answers.json")
    try:
        assert ask.choice("q1", "哪一项？", ["甲", "乙"]).widget().check_button is None
    finally:
        W.close_workbook()


# ------------------------------------------------------------------ scoring


def test_score_every_kind():
    def s(kind, key, answer, **spec):
        spec = {"id": "q", "kind": kind, "points": spec.pop("points", 2), **spec}
        return score(spec, None if key is None else {"id": "q", "value": key}, answer)

    opts = {"options": ["甲", "乙", "丙", "丁"]}
    assert s("choice", "乙", "乙", **opts).status == "correct"
    assert s("choice", 1, "乙", **opts).points == 2
    assert s("choice", "乙", "甲", **opts).status == "wrong"
    assert s("choice", "乙", None, **opts).status == "unanswered"
    assert s("multi", ["甲", "乙"], ["甲", "乙"], **opts).status == "correct"
    part = s("multi", ["甲", "乙"], ["甲"], **opts)
    assert part.status == "partial" and part.points == 1
    assert s("multi", ["甲", "乙"], ["甲", "乙", "丙", "丁"], **opts).points == 0
    assert s("multi", ["甲"], [], **opts).status == "unanswered"
    assert s("number", 12.3, 12.6, tolerance=0.5).status == "correct"
    assert s("number", 12.3, "１２.９", tolerance=0.5).status == "wrong"
    assert s("number", 200, 209, tolerance=0, rel_tolerance=0.05).status == "correct"
    assert s("number", 0.1 + 0.2, 0.3).status == "correct"
    assert s("number", 5, "abc").status == "wrong"
    assert s("number", 5, "").status == "unanswered"
    assert s("number", 0, None).status == "unanswered"  # never a default 0
    assert s("text", "Ｐｏｌｉｃｙ  Paper", "  policy paper ").status == "correct"
    assert s("text", ["网格化", "网格化管理"], "网格化管理").status == "correct"
    assert s("text", "x", "y").status == "wrong"
    rk = s("ranking", ["A", "B", "C"], ["A", "C", "B"], items=["A", "B", "C"], points=3)
    assert rk.status == "partial" and rk.points == 2.0
    assert s("ranking", ["A", "B", "C"], ["A", "B", "C"], items=["A", "B", "C"]).points == 2
    assert s("essay", None, "文章", rubric=[{"id": "r1", "points": 2}]).status == "needs-marking"
    assert s("essay", None, "  ", rubric=[{"id": "r1", "points": 2}]).status == "unanswered"
    assert s("rating", None, 4, points=0).status == "answered"
    assert s("rating", None, None, points=0).status == "unanswered"
    assert s("observation", None, {"what": "", "who": ""}, points=0).status == "unanswered"
    assert s("observation", None, {"what": "看到", "who": ""}, points=0).status == "answered"
    assert s("upload", None, {"name": "a.pdf", "sha256": "0" * 64}, points=5).status == (
        "needs-marking"
    )
    assert s("code", None, "x = 1").status == "needs-marking"
    tests = [{"points": 1, "passed": True}, {"points": 3, "passed": False}]
    code = score({"id": "q", "kind": "code", "points": 4}, None, "x=1", tests=tests)
    assert code.status == "partial" and code.points == 1
    assert s("choice", None, "乙", **opts).status == "ungraded"  # no key: never guessed


def test_practice_hashes_never_hold_the_key():
    marker = "KEYMARKER-91c2"
    spec = {"id": "t", "kind": "text", "points": 1}
    h = practice_hashes(spec, {"id": "t", "value": [marker, "别名"]}, "s")
    assert marker not in json.dumps(h) and marker.lower() not in json.dumps(h)
    assert practice_check(spec, h, " keymarker-91C2 ") is True
    assert practice_check(spec, h, "别的") is False
    num = {"id": "n", "kind": "number", "points": 1, "tolerance": 0.5}
    hn = practice_hashes(num, 987654.25, "s")
    assert "987654" not in json.dumps(hn)
    assert practice_check(num, hn, "987,654.6") is True and practice_check(num, hn, 987656) is False
    rk = {"id": "r", "kind": "ranking", "items": ["a", "b"]}
    assert practice_check(rk, practice_hashes(rk, ["b", "a"], "s"), ["b", "a"]) is True
    assert practice_hashes({"id": "e", "kind": "essay"}, "x", "s") == {}


def test_test_decorator_records_and_registers(monkeypatch):
    @Q.test("qq", points=2, name="ok")
    def _ok():
        assert 1 + 1 == 2

    @Q.test("qq", points=1, name="bad")
    def _bad():
        assert 1 == 2, "one is not two"

    @Q.test("qq", name="crash")
    def _crash():
        raise KeyError("k")

    recs = {r["name"]: r for r in Q.rerun_tests("qq")}
    assert recs["ok"]["passed"] and not recs["bad"]["passed"]
    assert (
        recs["bad"]["message"].startswith("one is not two")
        and "KeyError" in recs["crash"]["message"]
    )
    monkeypatch.setenv("CASEKIT_HIDDEN_TESTS", "1")

    @Q.test("qq", name="secret")
    def _secret():
        pass

    assert Q.TESTS[("qq", "secret")].hidden and not Q.TESTS[("qq", "ok")].hidden


def test_authoring_errors_are_clear():
    with pytest.raises(Q.AuthoringError, match="not valid"):
        ask.choice("Q 1", "x", ["a", "b"])
    with pytest.raises(Q.AuthoringError, match="different"):
        ask.choice("q", "x", ["a", "a"])
    with pytest.raises(Q.AuthoringError, match="rubric"):
        ask.essay("q", "x", rubric=[])


# ------------------------------------------------------------- submit


def test_submit_never_overwrites(rt, tmp_path):
    ask.text("q1", "词").widget().inputs["text"].value = "第一次"
    r1 = W.submit(tmp_path / "s01.ipynb")
    ask.text("q1", "词").widget().inputs["text"].value = "第二次"
    r2 = W.submit(tmp_path / "s01.ipynb")
    r3 = W.submit(tmp_path / "s01.ipynb")  # same content, still a new folder
    inbox = tmp_path / "exchange" / "c1" / "inbox" / "t01" / "s01"
    folders = sorted(p for p in inbox.iterdir() if not p.name.startswith("."))
    assert len(folders) == 3 and {r1.folder, r2.folder, r3.folder} == set(folders)
    got = json.loads((r1.folder / "answers.json").read_text(encoding="utf-8"))
    assert got["answers"]["q1"]["value"] == "第一次"
    receipt = json.loads((r2.folder / "receipt.json").read_text(encoding="utf-8"))
    assert receipt["trainee"] == "t01" and receipt["session"] == "s01"
    assert receipt["sha256"] == r2.sha256 and r2.folder.name.endswith(r2.sha256[:8])
    assert r2.sha256 == r3.sha256 != r1.sha256


# ------------------------------------------------ real kernels and editions


def _run(nb, cwd: Path, env: dict | None = None) -> nbformat.NotebookNode:
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def test_live_kernel_widget_hook_and_key_refusal(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        _code(
            "from kit.workbook import open_workbook\nrt = open_workbook('s9', trainee='t9', cohort='c')"
        ),
        _code("from kit.questions import ask, key\nq = ask.choice('c1', '选', ['甲', '乙'])\nq"),
        _code("q.view.inputs['radio'].value = '甲'"),
        _code(Q.answer_stub("k1") + "total = 41 + 1\n"),
        _code(
            "try:\n    key('c1', 'SECRET-77a1')\nexcept Exception as e:\n    print(type(e).__name__)"
        ),
    ]
    (tmp_path / "s9.ipynb").write_text("{}", encoding="utf-8")
    _run(nb, tmp_path)
    outs = nb.cells[1].outputs[0]["data"]
    assert Q.MIME_WIDGET in outs and Q.MIME_QUESTION in outs
    assert nb.cells[4].outputs[0]["text"].strip() == "KeyRefused"
    answers = json.loads((tmp_path / "s9.answers.json").read_text(encoding="utf-8"))["answers"]
    assert answers["c1"]["value"] == "甲"
    assert "total = 41 + 1" in answers["k1"]["value"]
    assert "SECRET-77a1" not in json.dumps(answers)

    # build/grade mode: no widget view, store read-only, key allowed
    nb2 = nbformat.v4.new_notebook(cells=[c.copy() for c in nb.cells[:2]])
    nb2.cells.append(_code("key('c1', '乙')"))
    nb2.metadata = nb.metadata
    _run(nb2, tmp_path, {"CASEKIT_MODE": "grade"})
    assert Q.MIME_WIDGET not in nb2.cells[1].outputs[0]["data"]
    assert nb2.cells[2].outputs[0]["data"][Q.MIME_KEY]["value"] == "乙"


@pytest.mark.parametrize("mode", ["assessed", "practice"])
def test_no_key_in_released_workbook_or_store(tmp_path, mode):
    from kit.builder import build

    root = write_course(tmp_path / "course", cohorts={"c1": 0.05})
    marker = "ZEBRA-KEY-MARKER-4e1b"
    nb = nbformat.read(root / "cases/coop.ipynb", as_version=4)
    nb.cells += [
        _code('ask.text("q-secret", "口号是什么？")'),
        _code(f'key("q-secret", "{marker}")', "key"),
        _code('ask.number("q-big", "多少？", tolerance=0.5)'),
        _code('key("q-big", 987654.25)', "key"),
    ]
    nbformat.write(nb, root / "cases/coop.ipynb")
    sched = root / "cohorts/c1/schedule.csv"
    sched.write_text(sched.read_text(encoding="utf-8").replace("assessed", mode), encoding="utf-8")
    assert not build(root, "c1").failures
    rel = W.release(root, "c1")
    assert not rel.failures and len(rel.written) == 3
    assert len(W.release(root, "c1").unchanged) == 3  # idempotent
    wb = root / "exchange/c1/outbox/t01/coop.ipynb"
    first = nbformat.read(wb, as_version=4).cells[0]
    assert first.metadata["casekit"]["role"] == "setup" and "locked" in first.metadata["tags"]
    assert "trainee='t01'" in first.source and "王一" in first.source
    # open the released workbook in a real kernel and answer the secret question
    work = tmp_path / "work"
    work.mkdir()
    (work / "coop.ipynb").write_bytes(wb.read_bytes())
    run = nbformat.read(work / "coop.ipynb", as_version=4)
    run.cells.append(
        _code(
            "from kit.questions import QUESTIONS, Question\n"
            "v = Question(QUESTIONS['q-secret']).widget()\nv.inputs['text'].value = '我的答案'\n"
            "print(v.check_button is None)"
        )
    )
    _run(run, work)
    assert run.cells[-1].outputs[0]["text"].strip() == str(mode == "assessed")
    store = work / "coop.answers.json"
    assert (
        json.loads(store.read_text(encoding="utf-8"))["answers"]["q-secret"]["value"] == "我的答案"
    )
    for path in [
        *root.joinpath("exchange").rglob("*"),
        *work.rglob("*"),
        *root.glob("build/c1/trainee/*"),
    ]:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert marker not in text and "987654" not in text, path
