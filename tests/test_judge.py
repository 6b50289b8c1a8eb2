"""The judge and what crosses to it: honest answers get today's verdicts, typed failures, data-only values.

Honest submissions are graded twice on the same instructor editions — by the
unsandboxed grading path of ``kit.grading`` (instructor edition with the
trainee's code pasted in, one executor child) and by ``kit.sandbox.supervisor`` (trainee
box + judge box in the sandbox) — and must get the same verdicts.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import sandbox_quiz as sq  # noqa: E402
from conftest import MARKERS, ROOT, case_notebook  # noqa: E402

from kit.kinds.code import verdict_words  # noqa: E402
from kit.sandbox import safepickle  # noqa: E402
from kit.sandbox.answers import FailureKind, answer_names  # noqa: E402

pytestmark = pytest.mark.xdist_group("sandbox")


# ----------------------------------------------------------------------------- honest verdicts


def _green() -> tuple[nbformat.NotebookNode, dict[str, str]]:
    nb = nbformat.read(str(ROOT / "exercises" / "green-data.ipynb"), as_version=4)
    sol = {}
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            sol[len(sol)] = cell.source
    return nb, {"g2-by-industry": sol[0], "g2-declining": sol[1]}


GREEN_WRONG = {
    "g2-by-industry": 'by_industry = ledger.groupby("产业")["产值2025"].sum()',  # not sorted
    "g2-declining": (
        'ledger["增速"] = (ledger["产值2025"] / ledger["产值2024"] - 1) * 100\n'
        'declining = ledger[ledger["增速"] < 0]'  # every township
    ),
}
CASE_ANSWERS = {
    "right": "def total(d):\n    return float(d.iloc[:, 1].sum())",
    "off": "def total(d):\n    return float(d.iloc[:, 1].sum()) + 1e-6",
    "raises": "def total(d):\n    raise ValueError('not yet')",
    "none": "total = None",
}


@pytest.mark.parametrize("variant", ["right", "wrong", "partly"])
def test_green_data_verdicts_match_todays_grader(sandbox_grader, variant, tmp_path) -> None:
    nb, right = _green()
    answers = {
        "right": right,
        "wrong": GREEN_WRONG,
        "partly": {"g2-by-industry": right["g2-by-industry"], "g2-declining": ""},
    }[variant]
    instructor = sq.instructor_edition(nb)
    expected = sq.expected_tests(instructor)
    today = sq.todays_verdicts(instructor, answers, expected, tmp_path)
    run = sandbox_grader.run(instructor, answers, expected)
    assert [(t["name"], t["passed"], t["points"], verdict_words(t)) for t in run.tests] == [
        (t["name"], t["passed"], t["points"], t["message"]) for t in today
    ]
    if variant == "right":
        assert all(t["passed"] for t in run.tests) and len(run.tests) == 6
    if variant == "wrong":
        assert (
            sum(t["points"] for t in run.tests) == 3.0
        )  # series, column, declining-only-negatives
    assert not run.failures


@pytest.mark.parametrize("variant", sorted(CASE_ANSWERS))
def test_function_answer_verdicts_match_todays_grader(sandbox_grader, variant, tmp_path) -> None:
    instructor = sq.instructor_edition(case_notebook())
    expected = sq.expected_tests(instructor)
    answers = {"q-code": CASE_ANSWERS[variant]}
    today = sq.todays_verdicts(instructor, answers, expected, tmp_path)
    run = sandbox_grader.run(instructor, answers, expected)
    assert [(t["name"], t["passed"], verdict_words(t)) for t in run.tests] == [
        (t["name"], t["passed"], t["message"]) for t in today
    ]
    assert (
        sum(t["points"] for t in run.tests)
        == {"right": 2, "off": 1, "raises": 0, "none": 0}[variant]
    )
    text = repr(run)
    for m in ("key", "key-output", "hidden-test", "solution-code", "solution-block"):
        assert MARKERS[m] not in text


def test_quiz_verdicts_match_todays_grader(sandbox_grader, tmp_path) -> None:
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    for answers in (
        sq.CORRECT,
        {"q-func": "def total(d):\n    return 2.0", "q-data": "summary = 1"},
    ):
        today = sq.todays_verdicts(instructor, answers, expected, tmp_path)
        run = sandbox_grader.run(instructor, answers, expected)
        assert [(t["passed"], verdict_words(t)) for t in run.tests] == [
            (t["passed"], t["message"]) for t in today
        ]


def test_a_function_answer_sees_the_state_its_own_cell_left(sandbox_grader) -> None:
    # A later answer rebinds a global the function reads; today's grader runs the
    # function's tests before that cell, and so does the judge (its call server was
    # forked right after the function's own cell).
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    answers = {
        "q-func": "COL = 'v'\ndef total(d):\n    return float(d[COL].sum())",
        "q-data": "COL = 'nope'\nsummary = df.groupby('g')['v'].sum()",
    }
    run = sandbox_grader.run(instructor, answers, expected)
    assert sq.points(run) == {"q-func": 3.0, "q-data": 3.0, "q-mut": 0.0}


def test_failures_are_typed_with_cell_and_line(sandbox_grader) -> None:
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    answers = {
        "q-func": "def total(d):\n    return float(d['v'].sum()\n",  # line 2: unclosed
        "q-data": "x = 1\nsummary = undefined_name + 1",
        "q-mut": "import sys\nsys.exit()",
    }
    run = sandbox_grader.run(instructor, answers, expected)
    by_q = {f.question: f for f in run.failures}
    assert by_q["q-func"].kind == FailureKind.SYNTAX and by_q["q-func"].cell == 5
    assert by_q["q-data"].kind == FailureKind.ERROR and by_q["q-data"].line == 2
    assert "NameError" in by_q["q-data"].detail
    assert by_q["q-mut"].kind == FailureKind.EXIT
    assert sq.points(run) == {"q-func": 0.0, "q-data": 0.0, "q-mut": 0.0}


def test_unanswered_questions_run_nothing(sandbox_grader) -> None:
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    run = sandbox_grader.run(instructor, {"q-func": "# 在下面写你的代码\npass\n"}, expected)
    assert run.seconds == 0.0
    assert {t["outcome"] for t in run.tests} == {"unanswered"}


def test_what_hidden_tests_pass_to_a_function_never_reaches_a_visible_message(
    sandbox_grader,
) -> None:
    # A hidden test hands the trainee's function a secret; the trainee's second
    # function reads it back (through the box's scratch folder) and returns it to a
    # visible test whose message would show it: that message is withheld.
    secret = "HIDDEN-ARGUMENT-5f0c"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("unit = 'green'", "parameters"),
        _cell("from kit.questions import ask, test", "locked"),
        _cell('ask.code("q-a", "f(x)")'),
        _cell("def f(x):\n    return x", "solution"),
        _cell(f'@test("q-a", name="h")\ndef _():\n    assert f("{secret}") == "{secret}"', "hidden-tests"),
        _cell('ask.code("q-b", "g()")'),
        _cell("def g():\n    return 1", "solution"),
        _cell('@test("q-b", name="v")\ndef _():\n    got = g()\n    assert got == 1, f"g() gave {got!r}"', "tests"),
    ]  # fmt: skip
    instructor = sq.instructor_edition(nb)
    expected = sq.expected_tests(instructor)
    answers = {
        "q-a": "def f(x):\n    open('/tmp/seen', 'w').write(str(x))\n    return x",
        "q-b": "def g():\n    return open('/tmp/seen').read()",
    }
    run = sandbox_grader.run(instructor, answers, expected)
    vis = next(t for t in run.tests if t["name"] == "v")
    assert not vis["passed"] and vis["withheld"] and vis["message"] == ""
    assert secret not in repr(run.tests) + repr(run.failures)


def _cell(src: str, *tags: str):
    c = nbformat.v4.new_code_cell(src)
    if tags:
        c.metadata["tags"] = list(tags)
    return c


# ----------------------------------------------------------------------------- what an answer binds


def test_answer_names_from_the_solution() -> None:
    src = (
        "import numpy as np\nfrom math import pi as PI\n"
        'ledger["增速"] = ledger["a"] / 2\nx, (y, *z) = 1, (2, 3)\n'
        "total += 1\ndef f():\n    inner = 1\nclass C:\n    pass\n"
        "for i in range(3):\n    acc = i\nwith open('f') as fh:\n    pass\n"
        "if True:\n    cond = 1\ndf.sort_values('a', inplace=True)\nobj.attr.deep = 3\n"
        "del gone\n(w := 5)\n%matplotlib inline\n"
    )
    names = {n.name: n.weak for n in answer_names(src)}
    assert names == {
        "np": False, "PI": False, "ledger": False, "x": False, "y": False, "z": False,
        "total": False, "f": False, "C": False, "i": False, "acc": False, "fh": False,
        "cond": False, "df": True, "obj": False, "gone": False, "w": False,
    }  # fmt: skip
    assert answer_names("def (") == []


# ----------------------------------------------------------------------------- data-only crossing


def test_plain_data_and_pandas_objects_cross_whole() -> None:
    df = pd.DataFrame(
        {
            "企业": ["甲", "乙", None],
            "n": [1, 2, 3],
            "x": [0.5, np.nan, 2.0],
            "t": pd.to_datetime(["2024-01-01", "2024-02-01", None]),
            "c": pd.Categorical(["a", "b", "a"], ordered=True),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "s": pd.array(["a", None, "c"], dtype="string"),
            "z": pd.Series(pd.date_range("2024", periods=3, tz="Asia/Shanghai")),
        },
        index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2), ("c", 3)], names=["k", "n2"]),
    )
    pd.testing.assert_frame_equal(safepickle.loads(safepickle.dumps(df)), df)
    s = df.groupby("c", observed=True)["n"].sum().sort_values(ascending=False)
    pd.testing.assert_series_equal(safepickle.loads(safepickle.dumps(s)), s)
    plain = [1, 2.5, "x", b"y", None, (1, {2}), {"k": np.arange(3)}, pd.Timestamp("2024-01-02")]
    back = safepickle.loads(safepickle.dumps(plain))
    assert back[:6] == plain[:6] and (back[6]["k"] == np.arange(3)).all() and back[7] == plain[7]


def test_anything_that_is_not_data_is_refused() -> None:
    import os

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(safepickle.Uncrossable, match="Boom"):
        safepickle.dumps(Boom())
    with pytest.raises(safepickle.Uncrossable):
        safepickle.dumps(lambda: 1)
    for hostile in (
        pickle.dumps(Boom()),  # a callable to run
        pickle.dumps(pd.DataFrame({"a": [1]})),  # pandas' own reconstructors
        pickle.dumps(np.array([object()], dtype=object)),
        b"\x80\x05}q\x00(",
        b"",
    ):
        with pytest.raises(safepickle.Refused):
            safepickle.loads(hostile)


def test_inconsistent_pandas_parts_are_refused_not_trusted() -> None:
    # A frame whose parts disagree (the kind of pickle that crashed pandas'
    # own unpickling) and category codes out of range.
    frame = safepickle.Encoded(
        ("frame", safepickle.Encoded(("range", 0, 2, 1, None)),
         safepickle.Encoded(("range", 0, 9, 1, None)),
         [safepickle.Encoded(("np", np.arange(2)))])
    )  # fmt: skip
    cat = safepickle.Encoded(
        ("cat", np.array([0, 7]), safepickle.Encoded(("index", safepickle.Encoded(("np", np.array(["a"]))), None)), False)
    )  # fmt: skip
    series = safepickle.Encoded(("series", None, safepickle.Encoded(("range", 0, 2, 1, None)), cat))
    for node in (frame, series):
        with pytest.raises(safepickle.Refused):
            safepickle.loads(pickle.dumps(node, protocol=5))


# ----------------------------------------------------------------------------- objects that stay in the box


def _one_question(solution: str, tests: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("unit = 'green'", "parameters"),
        _cell("import os\nfrom kit.questions import ask, test", "locked"),
        _cell('ask.code("q", "f")'),
        _cell(solution, "solution"),
        _cell(tests, "tests"),
    ]
    return sq.instructor_edition(nb)


def test_a_function_whose_solution_returns_data_cannot_return_a_liar(sandbox_grader) -> None:
    # In a notebook an object whose __eq__ says yes passes `total(3) == 6`; the judge
    # lets an object stand only where the solution's own uses gave objects.
    instructor = _one_question(
        "def total(n):\n    return 2 * n",
        '@test("q", name="t")\ndef _():\n    assert total(3) == 6',
    )
    expected = sq.expected_tests(instructor)
    proof = sandbox_grader.prove(instructor, expected)
    assert proof.shapes == {"q": {"total": "callable"}} and sq.points(proof) == {"q": 1.0}
    liar = "class Yes:\n    def __eq__(self, o):\n        return True\n\ndef total(n):\n    return Yes()"
    run = sandbox_grader.run(instructor, {"q": liar}, expected)
    assert sq.points(run) == {"q": 0.0}
    assert "cannot be checked" in run.tests[0]["message"]


def test_files_the_trainee_wrote_cross_but_never_as_code(sandbox_grader) -> None:
    instructor = _one_question(
        "with open('notes.txt', 'w') as fh:\n    fh.write('ok')",
        '@test("q", name="file")\ndef _():\n    assert open("notes.txt").read() == "ok"\n\n'
        '@test("q", name="no module")\ndef _():\n    try:\n        import evil_helper\n'
        "    except ImportError:\n        pass\n    else:\n        raise AssertionError('imported')",
    )
    expected = sq.expected_tests(instructor)
    evil = (
        "with open('notes.txt', 'w') as fh:\n    fh.write('ok')\n"
        "with open('evil_helper.py', 'w') as fh:\n"
        '    fh.write(\'open("/tmp/work/judge-ran-trainee-code", "w").close()\')'
    )
    run = sandbox_grader.run(instructor, {"q": evil}, expected)
    # the text file crossed; the module did not, so the judge never ran it
    assert [t["passed"] for t in run.tests] == [True, True], run.tests


def test_the_build_records_what_the_solutions_names_held(sandbox_grader) -> None:
    instructor = _one_question(
        "def gen(n):\n    yield from range(n)\n\nclass Box:\n    pass\n\nlabel = 'x'",
        '@test("q", name="t")\ndef _():\n    assert list(gen(2)) == [0, 1] and label == "x"',
    )
    proof = sandbox_grader.prove(instructor, sq.expected_tests(instructor))
    assert proof.shapes == {"q": {"gen": "callable:objects", "Box": "callable", "label": "data"}}


def test_check_names_each_test_that_asks_for_what_cannot_cross(tmp_path) -> None:
    from conftest import run_cli, write_course

    root = write_course(tmp_path / "course")  # a Chinese course: the warnings speak Chinese
    nb = nbformat.read(str(root / "cases" / "coop.ipynb"), as_version=4)
    nb.cells += [
        _cell('ask.code("q-obj", "类")'),
        _cell("class Overdrawn(ValueError):\n    pass\n\nclass Acct:\n    pass\n\nacct = Acct()", "solution"),
        _cell(
            '@test("q-obj", name="exact type")\ndef _():\n    assert type(acct) is Acct\n\n'
            '@test("q-obj", name="own error")\ndef _():\n    try:\n        acct.withdraw(9)\n'
            "    except Overdrawn:\n        pass\n\n"
            '@test("q-obj", name="current figure")\ndef _():\n    import matplotlib.pyplot as plt\n'
            "    assert plt.gca().get_title() == 'x'\n\n"
            '@test("q-obj", name="fine")\ndef _():\n    assert isinstance(acct, Acct)',
            "tests",
        ),
    ]  # fmt: skip
    nbformat.write(nb, str(root / "cases" / "coop.ipynb"))
    r = run_cli("check", str(root))  # the course's own language
    said = [line for line in (r.stdout + r.stderr).splitlines() if "测试 '" in line]
    where = f"coop.ipynb:第 {len(nb.cells)} 个单元格: tests:"
    assert len(said) == 3 and all(where in line for line in said), r.stdout + r.stderr
    for test, reason in (("exact type", "type()"), ("own error", "ValueError"),
                         ("current figure", "fig、ax")):  # fmt: skip
        assert any(f"测试 '{test}'" in line and reason in line for line in said), said
    assert not any("fine" in line for line in said)
    assert r.returncode == 0  # warnings: the author decides


def test_a_function_of_the_tests_can_only_be_called_by_the_trainees_code(sandbox_grader) -> None:
    # apply(f, x) gets the test's lambda; reading its __globals__ (where keys and
    # hidden tests live in the judge) must fail, calling it must work.
    instructor = _one_question(
        "def apply(f, x):\n    return f(x)",
        'SECRET = "KEY-IN-JUDGE-1b7e"\n'
        '@test("q", name="t")\ndef _():\n    assert apply(lambda v: v + 1, 1) == 2',
    )
    expected = sq.expected_tests(instructor)
    # a hostile answer speaks the protocol itself: it asks the judge to read an attribute
    peek = (
        "def apply(f, x):\n    from kit.sandbox import callserver, safepickle\n"
        "    from kit.execution import zygote\n"
        "    link = callserver._SERVING['link']\n"
        "    name = ('data', safepickle.dumps('__qualname__'))\n"
        "    zygote.send_frame(link, ('callback', f._ref, 'getattr', [name], {}))\n"
        "    frame = zygote.recv_frame(link)\n"
        "    if frame[1] is True:\n        return 'read ' + str(frame[2])\n"
        "    return f(x)"
    )
    run = sandbox_grader.run(instructor, {"q": peek}, expected)
    assert sq.points(run) == {"q": 1.0}, run.tests  # the peek was refused, the call worked
    assert "KEY-IN-JUDGE" not in repr(run)


def test_the_trainees_files_never_replace_the_notebooks_own(sandbox_grader) -> None:
    # The notebook's own cell writes what a hidden test reads; the trainee's code
    # rewrites that file in its box: the judge keeps its own. A file the test itself
    # writes may be changed by the trainee's function, as in the notebook.
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("unit = 'green'", "parameters"),
        _cell("from kit.questions import ask, test\nopen('expected.txt', 'w').write('42')", "locked"),
        _cell('ask.code("q", "f")'),
        _cell("def answer():\n    return 42\n\ndef note(path):\n    open(path, 'a').write('+')", "solution"),
        _cell('@test("q", name="h")\ndef _():\n    assert str(answer()) == open("expected.txt").read()\n\n'
              '@test("q", name="log")\ndef _():\n    open("log.txt", "w").write("a")\n    note("log.txt")\n'
              '    assert open("log.txt").read() == "a+"', "hidden-tests"),
    ]  # fmt: skip
    instructor = sq.instructor_edition(nb)
    expected = sq.expected_tests(instructor)
    forge = (
        "import os\nos.chmod('expected.txt', 0o644)\nopen('expected.txt', 'w').write('7')\n\n"
        "def answer():\n    return 7\n\n"
        "def note(path):\n    open(path, 'a').write('+')"
    )
    run = sandbox_grader.run(instructor, {"q": forge}, expected)
    assert [(t["name"], t["passed"]) for t in run.tests] == [("h", False), ("log", True)]
