"""``check`` catches the slips that would zero a class: keys no answer can earn, misspelt names.

Each kind declares the shape of its key and its arguments (kit.kinds); ``check``
reads ``ask``/``key`` calls without running them, the build checks the keys a
notebook computed, for every variant. Every message is located (file, cell and
line, or schedule row) and in the course's language (Chinese for these courses).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import _code, _md, python_notebook, run_cli

from kit import kinds
from kit.builder import build, check
from kit.kinds.base import AuthoringError
from kit.messages import speaking
from kit.questions import ask

PARAMS = (
    'cohort = "demo"\nsession = "s1"\nunit = "green"\nseed = 1\ndeliberation = {}\n'
    "growth = 0.05\nn_complaints = 40"
)


def _write(course: Path, *cells) -> Path:
    """Replace the course's case with a notebook of a parameters cell and `cells` (cell 1 is the title)."""
    nb = python_notebook(
        [
            _md("# 案例"),
            _code(PARAMS, "parameters"),
            _code("from kit.questions import ask, key"),
            *cells,
        ]
    )
    path = course / "cases/coop.ipynb"
    nbformat.write(nb, str(path))
    return path


def _errors(course: Path) -> list[str]:
    with speaking("zh"):
        return [str(p) for p in check(course).errors]


# ------------------------------------------------------------------ keys of the wrong shape


@pytest.mark.parametrize(
    ("ask_src", "key_src", "said"),
    [
        (  # the slip: a key that is an abbreviation of the option
            'ask.choice("q", "谁负责？", ["物业管理", "业主委员会"])',
            'key("q", "物业")',
            "题目 'q' 的答案要点 '物业' 不是选项之一，学员选哪一项都得 0 分；选项：'物业管理', '业主委员会'",
        ),
        (  # a ranking key given as one string instead of the order
            'ask.ranking("r", "排序", ["甲", "乙", "丙"])',
            'key("r", "甲乙丙")',
            "题目 'r' 的答案要点 '甲乙丙' 必须是全部排序项的一个顺序",
        ),
        (  # a ranking that leaves an item out
            'ask.ranking("r", "排序", ["甲", "乙", "丙"])',
            'key("r", ["甲", "乙"])',
            "必须是全部排序项的一个顺序（列表，每项恰好一次）；排序项：'甲', '乙', '丙'",
        ),
        (
            'ask.multi("m", "哪些？", ["停水", "燃气泄漏", "噪音"])',
            'key("m", ["停水", "燃气"])',
            "题目 'm' 的答案要点 ['停水', '燃气'] 必须是选项的列表",
        ),
        (
            'ask.number("n", "多少？", unit="%")',
            'key("n", "81%")',
            "题目 'n' 的答案要点 '81%' 不是一个数",
        ),
        (  # a relative tolerance written as a percentage
            'ask.number("n", "多少？")',
            'key("n", 81.0, rel_tolerance=5)',
            "rel_tolerance=5 是比例，应小于 1（5% 写作 0.05）",
        ),
        (
            'ask.number("n", "多少？")',
            'key("n", 0.1, tolerance=-0.2)',
            "题目 'n'：误差范围必须 ≥ 0",
        ),
    ],
)
def test_check_refuses_a_literal_key_no_answer_can_earn(course: Path, ask_src, key_src, said):
    path = _write(course, _code(ask_src), _code(key_src, "key"))
    errors = _errors(course)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:第 5 个单元格第 1 行: key: "), errors[0]
    assert said in errors[0]
    assert "改正答案要点" in errors[0]  # what to do


def test_right_keys_pass_and_a_computed_key_is_left_to_the_build(course: Path):
    _write(
        course,
        _code('ask.choice("q", "谁负责？", ["物业管理", "业主委员会"])'),
        _code('key("q", "物业管理")\nkey("q", 1)', "key"),
        _code('ask.ranking("r", "排序", ["甲", "乙"])\nask.multi("m", "哪些？", ["a", "b"])'),
        _code('key("r", ["乙", "甲"])\nkey("m", ["b"])', "key"),
        _code('ask.number("n", "多少？", tolerance=0.5)\nask.text("t", "一个词")'),
        _code('key("n", 81, rel_tolerance=0.01, note="教师自用")\nkey("t", ["甲", "乙"])', "key"),
        _code('OPTIONS = ["x", "y"]\nask.choice("c", "算出来的", OPTIONS)'),
        _code('key("c", OPTIONS[0] + "z")', "key"),  # computed: the build judges it
    )
    assert _errors(course) == []


# ------------------------------------------------------------------ misspelt names


def test_a_misspelt_keyword_is_located_and_lists_the_valid_ones(course: Path):
    path = _write(
        course,
        _code('ask.number("n", "多少？",\n           tolerence=0.3)'),
        _code('key("n", 81.0, tolerence=0.3)', "key"),
    )
    errors = _errors(course)
    assert len(errors) == 2, errors
    first, second = errors
    assert first.startswith(f"{path}:第 4 个单元格第 2 行: tolerence: ")
    assert "ask.number（题目 'n'）没有参数 'tolerence'（是不是 'tolerance'？）" in first
    assert "可用的参数：qid, prompt, unit, tolerance, rel_tolerance, points, optional" in first
    assert second.startswith(f"{path}:第 5 个单元格第 1 行: key: ")
    assert "key（题目 'n'）没有选项 'tolerence'（是不是 'tolerance'？）" in second
    assert "number 题可用：explain, reveal, note, tolerance, rel_tolerance" in second


def test_a_misspelt_keyword_at_run_time_is_the_authors_error_not_a_type_error():
    with speaking("zh"), pytest.raises(AuthoringError) as caught:
        ask.number("n", "多少？", tolerence=0.3)
    assert "没有参数 'tolerence'（是不是 'tolerance'？）" in str(caught.value)
    assert kinds.arguments("number")[:3] == ("qid", "prompt", "unit")


def test_a_schedule_parameter_the_notebook_does_not_define_is_an_error(course: Path):
    _write(course, _code('ask.text("t", "一个词")'), _code('key("t", "甲")', "key"))
    schedule = course / "cohorts/c1/schedule.csv"
    text = schedule.read_text("utf-8")
    schedule.write_text(text.replace('""growth""', '""n_complaint""'), "utf-8")
    errors = _errors(course)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{schedule}:第 2 行（课次 coop）: params: ")
    assert "课表参数 'n_complaint' 在笔记本 cases/coop.ipynb 的参数单元格中没有定义" in errors[0]
    assert "（是不是 'n_complaints'？）" in errors[0]
    # the build refuses that session rather than build the default data
    with speaking("zh"):
        built = build(course, "c1", progress=False)
    assert not built.ok and "n_complaint" in str(built.failures[0])
    # the command line says it too, in the course's language, and fails
    r = run_cli("check", str(course))
    assert r.returncode != 0 and "是不是 'n_complaints'" in (r.stdout + r.stderr)


# ------------------------------------------------------------------ keys computed from data


def test_the_build_refuses_a_computed_key_its_question_cannot_accept_for_every_variant(
    course: Path,
):
    # the key is picked from data: right for the reference, and for each trainee's variant
    # the same slip (a shortened label), so every variant is refused, each named
    _write(
        course,
        _code('ask.choice("q", "谁负责？", ["物业管理", "业主委员会"])'),
        _code('import pandas as pd\ntable = pd.DataFrame({"部门": ["物业"]})'),
        _code('key("q", table["部门"][0])', "key"),
    )
    schedule = course / "cohorts/c1/schedule.csv"
    text = schedule.read_text("utf-8").replace("session,", "variants,session,", 1)
    lines = text.splitlines()
    schedule.write_text("\n".join([lines[0], "trainee," + lines[1]]) + "\n", "utf-8")
    assert _errors(course) == []  # nothing to see before it runs
    with speaking("zh"):
        built = build(course, "c1", progress=False)
    causes = {f.item: f.cause for f in built.failures}
    assert set(causes) == {"coop", "coop/t01", "coop/t02", "coop/t03"}, causes
    assert causes["coop"].startswith('第 6 个单元格（key("q", table["部门"][0])）')
    assert "在班次 c1 的数据上，题目 'q' 的答案要点 '物业' 不是选项之一" in causes["coop"]
    assert "在学员 t02 的专属数据上（班次 c1）" in causes["coop/t02"]
    assert not (course / "build/c1/instructor/coop.keys.json").exists()


def test_a_kind_that_takes_any_keyword_is_not_second_guessed():
    from kit.kinds.base import Declared, Kind

    class Poll(Kind):
        name = "poll-any"

        def declare(self, qid, prompt, **anything):
            return Declared(qid, prompt, 0, anything)

    kinds.registry.register(Poll())
    try:
        assert kinds.unknown_arguments("poll-any", ["colour", "size"]) == []
        assert kinds.unknown_arguments("number", ["tolerence", "unit"]) == ["tolerence"]
    finally:
        kinds.registry.unregister("poll-any")


def test_a_literal_question_its_kind_refuses_is_said_before_it_runs(course: Path):
    path = _write(
        course,
        _code('ask.choice("q", "谁负责？", ["物业管理"])'),
        _code('ask.number("n", "多少？", tolerance=-1)'),
    )
    errors = _errors(course)
    assert len(errors) == 2, errors
    assert errors[0].startswith(
        f"{path}:第 4 个单元格第 1 行: question: 题目 'q'：至少给出两个选项"
    )
    assert errors[1].startswith(
        f"{path}:第 5 个单元格第 1 行: question: 题目 'n'：误差范围必须 ≥ 0"
    )
