"""Shared fixtures: small real courses written into a temporary folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kit.pages.pdf import CHROMIUM_ARGS  # Debian's Chromium, headless, nothing phones home

ROOT = Path(__file__).resolve().parents[1]
CASEKIT = [sys.executable, "-m", "kit"]

#: Strings planted where trainees must never see them.
MARKERS = {
    "solution-code": "SOLUTION-MARKER-CODE-7f3a",
    "solution-text": "SOLUTION-MARKER-TEXT-19bc",
    "solution-block": "SOLUTION-MARKER-BLOCK-c41d",
    "key": "KEY-MARKER-55e0",
    "key-output": "KEY-MARKER-OUTPUT-a9d2",
    "hidden-test": "HIDDEN-MARKER-SRC-3b6f",
    "hidden-test-name": "HIDDEN-MARKER-NAME-d07e",
    "teaching-note": "TEACHING-MARKER-MD-8e21",
    "teaching-output": "TEACHING-MARKER-OUT-44f9",
}


def launch_chromium(playwright):
    """Launch the system Chromium (never a downloaded browser) through Playwright."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real ``casekit`` command line."""
    return subprocess.run(
        [*CASEKIT, *args], cwd=cwd or ROOT, capture_output=True, text=True, timeout=600
    )


def _md(text: str, *tags: str):
    c = nbformat.v4.new_markdown_cell(text)
    if tags:
        c.metadata["tags"] = list(tags)
    return c


def _code(text: str, *tags: str):
    c = nbformat.v4.new_code_cell(text)
    if tags:
        c.metadata["tags"] = list(tags)
    return c


def python_notebook(cells: list) -> nbformat.NotebookNode:
    """A notebook of `cells` for the python3 kernel."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = list(cells)
    return nb


def case_notebook() -> nbformat.NotebookNode:
    """A small case with every role of the contract and a marker in each secret place."""
    m = MARKERS
    return python_notebook(
        [
            _md("# 乡村振兴中的合作社之争\n\n某县一个合作社面临的两难。"),
            _code(
                'cohort = "demo"\ncohort_name = "示例班"\nsession = "s1"\ndate = "2026-01-01"\n'
                'unit = "green"\nunit_name = "经济建设"\nunit_colour = "#2e7d32"\nmethod = "case"\n'
                "teacher = {}\nsite = None\nmode = 'assessed'\nseed = 1\ndeliberation = {}\n"
                "growth = 0.05",
                "parameters",
            ),
            _code(
                "import pandas as pd\nfrom kit.questions import ask, key, test\n"
                "df = pd.DataFrame({'年份': [2023, 2024, 2025], "
                "'产值（万元）': [100 * (1 + growth) ** i for i in range(3)]})\n"
                "print(f'本班：{cohort_name}，增长率 {growth:.2%}')\ndf"
            ),
            _md("## 讨论\n合作社应当如何分配收益？"),
            _code('ask.number("q-output", "2025 年产值是多少万元？", unit="万元", tolerance=0.5)'),
            _code(f'key("q-output", round(df.iloc[-1, 1], 2))\nprint("{m["key-output"]}")', "key"),
            _code('ask.text("q-word", "用一个词概括这个两难。")'),
            _code(f'key("q-word", "{m["key"]}")', "key"),
            _code('ask.code("q-code", "写一个函数 total(df)，返回产值之和。", points=2)'),
            _code(
                f"def total(d):\n    # {m['solution-code']}\n    return d.iloc[:, 1].sum()",
                "solution",
            ),
            _code(
                '@test("q-code", points=1, name="returns a number")\n'
                "def _():\n    assert isinstance(total(df), float)",
                "tests",
            ),
            _code(
                f'# {m["hidden-test"]}\n@test("q-code", points=1, name="{m["hidden-test-name"]}")\n'
                "def _():\n    assert abs(total(df) - df.iloc[:, 1].sum()) < 1e-9",
                "hidden-tests",
            ),
            _code(
                "rate = growth * 100\n### BEGIN SOLUTION\n"
                f'explanation = "{m["solution-block"]}"\n### END SOLUTION\nrate'
            ),
            _md(f"参考答案：{m['solution-text']}", "solution"),
            _md(f"### 教学说明\n时间安排 30 分钟。{m['teaching-note']}", "teaching-note"),
            _code(f'print("{m["teaching-output"]}")', "teaching-note"),
            _code("print('合作社 — 完')", "locked"),
        ]
    )


def write_course(root: Path, *, cohorts: dict[str, float] | None = None, prefix: str = "") -> Path:
    """Write a two-unit course with one case per cohort; ``cohorts`` maps id → growth.

    ``prefix`` goes in front of every trainee and faculty id (t01 → <prefix>t01):
    a test that makes system users from them owns names no other test uses.
    """
    cohorts = cohorts or {"c1": 0.05, "c2": 0.20}
    p = prefix
    (root / "catalog").mkdir(parents=True)
    (root / "cases").mkdir()
    (root / "course.toml").write_text(
        '[programme]\nname = "青年干部培训（测试）"\nlanguage = "zh"\n\n'
        '[[units]]\nid = "green"\nname = "经济建设"\ncolour = "#2e7d32"\n\n'
        '[[units]]\nid = "blue"\nname = "社会治理"\ncolour = "#1565c0"\n\n'
        "[defaults]\ncell_timeout = 30\nnotebook_timeout = 120\n",
        encoding="utf-8",
    )
    (root / "catalog/faculty.csv").write_text(
        f"id,name,kind,title,unit,speciality\n{p}f1,林晓峰,scholar,教授,green,县域经济\n"
        f"{p}f2,周敏,leader,副局长,blue,基层治理\n",
        encoding="utf-8",
    )
    (root / "catalog/sites.csv").write_text(
        "id,name,category,address,contact_role,unit\n"
        "s1,东山村党群服务中心,grassroots-governance,东山镇东山村,村党支部书记,blue\n",
        encoding="utf-8",
    )
    (root / "catalog/readings.csv").write_text(
        "id,title,author,unit,year\nr1,县域经济十讲,佚名,green,2020\n", encoding="utf-8"
    )
    (root / "catalog/methods.csv").write_text(
        "id,name,interactive\ncase,案例式,true\nseminar,研讨式,true\nlecture,讲授式,false\n",
        encoding="utf-8",
    )
    nbformat.write(case_notebook(), str(root / "cases/coop.ipynb"))
    for cid, growth in cohorts.items():
        d = root / "cohorts" / cid
        d.mkdir(parents=True)
        (d / "cohort.toml").write_text(f'name = "{cid} 班"\n', encoding="utf-8")
        (d / "roster.csv").write_text(
            f"id,name,department,township,group\n{p}t01,王一,发改局,东山镇,A\n"
            f"{p}t02,李二,民政局,西河镇,A\n{p}t03,赵三,信访局,南坪镇,B\n",
            encoding="utf-8",
        )
        (d / "schedule.csv").write_text(
            "session,notebook,date,teacher,site,method,unit,hours,mode,due,params\n"
            f"coop,cases/coop.ipynb,2026-03-02,{p}f1,s1,case,green,3,assessed,,"
            f'"{{""growth"": {growth}}}"\n',
            encoding="utf-8",
        )
    return root


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A fresh small course in a temporary folder."""
    return write_course(tmp_path / "course")


@pytest.fixture
def sample_course(tmp_path: Path) -> Path:
    """A private copy of the shipped sample course (tests may build into it)."""
    return copy_sample(tmp_path / "sample")


def copy_sample(dst: Path) -> Path:
    """Copy the shipped sample course's files (not its builds or gradebook) to `dst`."""
    shutil.copytree(
        ROOT,
        dst,
        ignore=lambda d, names: [
            n
            for n in names
            if n not in {"course.toml", "catalog", "cohorts", "cases", "exercises"}
            and Path(d) == ROOT
        ],
    )
    return dst


@pytest.fixture(scope="session")
def sandbox_grader():
    """One real sandboxed grader (bubblewrap zygote) shared by the sandbox tests of a worker.

    Tests that use it mark themselves ``xdist_group("sandbox")`` so that they land
    on one worker and start one sandbox between them.
    """
    from kit.sandbox.supervisor import CodeGrader

    with CodeGrader() as grader:
        yield grader
