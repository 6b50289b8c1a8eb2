"""The spine: check, build (papermill parameters + executor), editions, handouts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import MARKERS, launch_chromium, run_cli

import kit


def test_check_passes_on_a_good_course(course):
    result = kit.check(course)
    assert result.errors == [], [str(p) for p in result.errors]
    assert result.notebooks == 1 and result.cohorts == 2


# ---------------------------------------------------------------- broken input, one line each


def _one_problem(course: Path, *needles: str) -> str:
    r = run_cli("check", str(course), "--lang", "en")  # the course is Chinese: test_messages.py
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("✗")]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_malformed_toml(course):
    (course / "course.toml").write_text('[programme\nname = "x"\n', encoding="utf-8")
    _one_problem(course, "course.toml", "line", "malformed TOML")


def test_unknown_teacher(course):
    sched = course / "cohorts/c1/schedule.csv"
    sched.write_text(sched.read_text(encoding="utf-8").replace(",f1,", ",f99,"), encoding="utf-8")
    _one_problem(course, "cohorts/c1/schedule.csv", "row 2", "teacher", "'f99'", "faculty.csv")


def test_missing_notebook(course):
    sched = course / "cohorts/c2/schedule.csv"
    sched.write_text(
        sched.read_text(encoding="utf-8").replace("cases/coop.ipynb", "cases/nope.ipynb"),
        encoding="utf-8",
    )
    _one_problem(course, "cohorts/c2/schedule.csv", "row 2", "notebook", "cases/nope.ipynb")


def test_notebook_that_is_not_json(course):
    (course / "cases/coop.ipynb").write_text('{"cells": [', encoding="utf-8")
    line = _one_problem(course, "cases/coop.ipynb", "invalid JSON")
    assert "line 1" in line


def test_notebook_cell_that_raises(course):
    path = course / "cases/coop.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[2].source += "\nraise ValueError('产值数据缺失')"
    nbformat.write(nb, str(path))
    r = run_cli("build", "c1", "-C", str(course), "--lang", "en")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("✗")]
    assert len(lines) == 1, r.stderr
    assert "coop" in lines[0] and "cell 3" in lines[0] and "ValueError" in lines[0]
    assert "产值数据缺失" in lines[0] and "cases/coop.ipynb" in lines[0]


def test_check_reports_every_problem_at_once(course):
    sched = course / "cohorts/c1/schedule.csv"
    text = sched.read_text(encoding="utf-8").replace(",f1,", ",f99,").replace(",case,", ",talk,")
    sched.write_text(text, encoding="utf-8")
    nb = nbformat.read(str(course / "cases/coop.ipynb"), as_version=4)
    nb.cells[4].metadata["tags"] = ["solutoin"]
    nb.cells[6].source = 'ask.text("q-word", "重复的编号")\nask.text("q-word", "again", key="x")'
    nbformat.write(nb, str(course / "cases/coop.ipynb"))
    r = run_cli("check", str(course), "--lang", "en")
    assert r.returncode == 2
    err = r.stderr
    for needle in ("f99", "'talk'", "unknown tag 'solutoin'", "duplicate question id", "key="):
        assert needle in err, err


def test_check_reports_cell_by_cell_then_for_the_notebook(tmp_path):
    """The rules run in their order cell by cell (each call and reveal in place), then once."""
    from kit.messages import speaking
    from kit.notebooks import check_notebook

    cells = [
        nbformat.v4.new_markdown_cell("# t", metadata={"tags": ["tests", "bogus"]}),
        nbformat.v4.new_code_cell(
            'ask.text("a", "p")\nask.text("a", "again")\nreveal("soon")',
            metadata={"tags": ["teaching-note"]},
        ),
        nbformat.v4.new_code_cell('key("zz", 1)', metadata={"tags": ["key"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["solution"]}),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    with speaking("en"):
        found = [(p.where, p.field, p.message.split(" ")[0]) for p in check_notebook(path)]
    assert found == [
        ("cell 1", "tags", "unknown"),  # tag 'bogus'
        ("cell 1", "tags", "tests"),  # on a markdown cell
        ("cell 2, line 1", "tags", "question"),  # 'a' in an instructor-only cell
        ("cell 2, line 2", "question id", "duplicate"),
        ("cell 2, line 2", "tags", "question"),  # the second call: instructor-only too
        ("cell 2, line 3", "reveal", "reveal"),  # value 'soon' not valid
        ("cell 2, line 3", "reveal", "reveal(...)"),  # not in a key cell
        ("cell 4", "tags", "a"),  # code solution with no question above it
        ("cell 1", "tags", "no"),  # parameters cell
        ("cell 3", "key", "key"),  # for unknown question 'zz'
        ("cell 2", "key", "question"),  # 'a' has no key
    ]


def test_every_check_rule_is_documented_and_named_once():
    from kit import notebooks as nbs
    from kit.notebooks import checks

    rules = [rule for scope in nbs.RULES for rule in scope]
    assert [r.__name__ for r in rules if not (r.__doc__ or "").strip()] == []
    names = [r.__name__ for r in rules]
    assert len(names) == len(set(names))
    # A second rule of a name would replace the first without a word; registering refuses it.
    with pytest.raises(ValueError):
        nbs.CELL_RULES.register(checks._known_tags)


# ---------------------------------------------------------------- build and editions


@pytest.fixture
def built(course):
    result = kit.build(course, "c1", progress=False)
    assert result.ok, [str(f) for f in result.failures]
    handouts = kit.handouts(course, "c1", progress=False)
    assert handouts.ok, [str(f) for f in handouts.failures]
    return course, result, handouts


def test_trainee_edition_holds_no_secret(built):
    course, result, handouts = built
    trainee = result.sessions[0].trainee.read_text(encoding="utf-8")
    html = (course / "build/c1/handouts/coop.html").read_text(encoding="utf-8")
    for where, marker in MARKERS.items():
        assert marker not in trainee, f"{where} leaked into the trainee notebook"
        assert marker not in html, f"{where} leaked into the trainee handout"
    instructor = result.sessions[0].instructor.read_text(encoding="utf-8")
    for marker in MARKERS.values():  # the planting worked: the instructor has them all
        assert marker in instructor
    # The answer area is there, and locked cells carry a checksum.
    nb = nbformat.reads(trainee, as_version=4)
    roles = [c.metadata.get("casekit", {}).get("role") for c in nb.cells]
    assert "answer" in roles and "answer-text" in roles
    keys = json.loads(result.sessions[0].keys.read_text(encoding="utf-8"))
    locked = [c for c in nb.cells if "lock" in c.metadata.get("casekit", {})]
    assert {c.id for c in locked} == set(keys["locks"]) and len(locked) >= 4
    assert all(c.metadata.get("editable") is False for c in locked)


def test_trainee_edition_reads_well_for_officials(built):
    _, result, _ = built
    nb = nbformat.read(str(result.sessions[0].trainee), as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "cohort_name = 'c1 班'" in injected.source  # not papermill's "c1 \\u73ed"
    hidden = [c for c in nb.cells if c.metadata.get("jupyter", {}).get("source_hidden")]
    roles = {c.metadata["casekit"]["role"] for c in hidden}
    assert roles == {"question", "parameters"}


def test_two_cohorts_get_their_own_data_and_keys(course):
    for cid in ("c1", "c2"):
        assert kit.build(course, cid, progress=False).ok
    k1 = json.loads((course / "build/c1/instructor/coop.keys.json").read_text(encoding="utf-8"))
    k2 = json.loads((course / "build/c2/instructor/coop.keys.json").read_text(encoding="utf-8"))
    assert k1["keys"]["q-output"]["value"] == pytest.approx(round(100 * 1.05**2, 2))
    assert k2["keys"]["q-output"]["value"] == pytest.approx(round(100 * 1.20**2, 2))
    t1 = (course / "build/c1/trainee/coop.ipynb").read_text(encoding="utf-8")
    t2 = (course / "build/c2/trainee/coop.ipynb").read_text(encoding="utf-8")
    assert "增长率 5.00%" in t1 and "增长率 20.00%" in t2
    assert "c1 班" in t1 and "c2 班" in t2


def test_rebuild_with_nothing_changed_does_no_work(built):
    course, first, _ = built
    stamp = first.sessions[0].trainee.stat().st_mtime_ns
    again = kit.build(course, "c1", progress=False)
    assert again.sessions[0].cached and again.written == []
    assert first.sessions[0].trainee.stat().st_mtime_ns == stamp
    forced = kit.build(course, "c1", progress=False, force=True)
    assert not forced.sessions[0].cached


def test_a_failing_notebook_does_not_sink_the_batch(course):
    bad = nbformat.read(str(course / "cases/coop.ipynb"), as_version=4)
    bad.cells[2].source += "\n1 / 0"
    nbformat.write(bad, str(course / "cases/broken.ipynb"))
    sched = course / "cohorts/c1/schedule.csv"
    with sched.open("a", encoding="utf-8") as f:
        f.write('broken,cases/broken.ipynb,2026-03-03,f2,,seminar,blue,2,assessed,,"{}"\n')
    result = kit.build(course, "c1", progress=False)
    assert [s.session for s in result.sessions] == ["coop"]
    assert len(result.failures) == 1
    assert "ZeroDivisionError" in result.failures[0].cause
    assert result.failures[0].cause.startswith("cell 3 (")


def test_handouts_are_offline_and_indexed(built):
    course, _, handouts = built
    index = course / "build/c1/handouts/index.html"
    assert handouts.index == index
    text = index.read_text(encoding="utf-8")
    assert "coop.html" in text and "经济建设" in text
    for page in (course / "build/c1/handouts").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        remote = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
        assert remote == [], f"{page.name} loads from the network: {remote}"
        assert "<script" not in html
    trainee = (course / "build/c1/handouts/coop.html").read_text(encoding="utf-8")
    instructor = (course / "build/c1/instructor/handouts/coop.html").read_text(encoding="utf-8")

    def text(html):
        return re.sub(r"<[^>]+>", "", html)

    assert "import pandas" not in text(trainee)  # no code for trainees
    assert "import pandas" in text(instructor)
    assert "#2e7d32" in trainee and "林晓峰" in trainee and "东山村党群服务中心" in trainee


def test_cli_demo_path(course):
    r = run_cli("build", "c2", "-C", str(course))
    assert r.returncode == 0, r.stderr
    r = run_cli("handouts", "c2", "-C", str(course))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("build/c2/handouts/index.html")


DIFFERS_FROM_TOFU = """ch => {
  const c = document.createElement('canvas'); c.width = c.height = 64;
  const x = c.getContext('2d');
  x.font = '40px ' + getComputedStyle(document.body).fontFamily;
  const draw = s => { x.clearRect(0, 0, 64, 64); x.fillText(s, 4, 48);
                      return x.getImageData(0, 0, 64, 64).data.join(','); };
  return draw(ch) !== draw('\\uE000');
}"""


@pytest.mark.browser
def test_handout_in_headless_chromium(built, tmp_path):
    from playwright.sync_api import sync_playwright

    course, _, _ = built
    page_path = course / "build/c1/handouts/coop.html"
    requests = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("request", lambda req: requests.append(req.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("networkidle")
        text = page.inner_text("body")
        assert "乡村振兴中的合作社之争" in text
        assert "林晓峰" in text and "c1 班" in text and "2026-03-02" in text
        band = page.eval_on_selector(".ck-band", "e => getComputedStyle(e).backgroundColor")
        assert band == "rgb(46, 125, 50)"  # the green unit's #2e7d32
        # Drawn with a real CJK glyph, not the empty box of a missing font.
        assert page.evaluate(DIFFERS_FROM_TOFU, "合")
        page.screenshot(path=str(tmp_path / "handout.png"), full_page=True)
        browser.close()
    leaving = [u for u in requests if not u.startswith(("file:", "data:", "about:"))]
    assert leaving == []


def test_check_warns_when_a_key_is_outside_its_questions_module(course):
    path = course / "cases/coop.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[6].metadata["tags"] = ["module:emergency"]  # the q-word question
    nbformat.write(nb, str(path))
    from kit.notebooks import check_notebook

    found = [p for p in check_notebook(path) if "different modules" in p.message]
    assert len(found) == 1 and found[0].severity == "warning"
    assert found[0].where == "cell 8" and "module:emergency" in found[0].fix
    nb.cells[7].metadata["tags"] = ["key", "module:emergency"]
    nbformat.write(nb, str(path))
    assert not [p for p in check_notebook(path) if "different modules" in p.message]
