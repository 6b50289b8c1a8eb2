"""What ``casekit build`` refuses: what ``check`` forbids, and keys its own solutions fail."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from conftest import run_cli


def _edit(path: Path, index: int, **changes: object) -> None:
    nb = nbformat.read(str(path), as_version=4)
    cell = nb.cells[index]
    if "tags" in changes:
        cell.metadata["tags"] = changes["tags"]
    if "source" in changes:
        cell.source = changes["source"]
    nbformat.write(nb, str(path))


def _summary(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if "built" in line or "构建" in line)


def test_build_refuses_what_check_forbids(course: Path):
    nb = course / "cases/coop.ipynb"
    _edit(nb, 5, tags=[])  # the key cell of q-output loses its tag: its key(...) would leak
    check = run_cli("check", str(course), "--lang", "en")
    assert check.returncode == 2 and "outside a key cell would reach trainees" in check.stderr

    r = run_cli("build", "c1", "-C", str(course), "-s", "coop", "--lang", "en")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cell 6, line 1: key: key(...) call outside a key cell" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert _summary(r.stdout).startswith("✗") and "1 failed" in r.stdout, r.stdout
    out = course / "build/c1"
    for edition in ("trainee/coop.ipynb", "instructor/coop.ipynb", "instructor/coop.keys.json"):
        assert not (out / edition).exists(), edition


def test_build_refuses_a_solution_that_fails_its_own_tests_for_one_cohort(course: Path):
    # right for c1 (growth 5 %), wrong for c2 (growth 20 %): parameters differ per cohort
    _edit(
        course / "cases/coop.ipynb",
        9,
        source="def total(d):\n    return float(d.iloc[:, 1].sum()) if growth < 0.1 else 0.0",
    )
    ok = run_cli("build", "c1", "-C", str(course), "--lang", "en")
    assert ok.returncode == 0, ok.stderr
    assert _summary(ok.stdout).startswith("✓")
    keys = json.loads((course / "build/c1/instructor/coop.keys.json").read_text("utf-8"))
    # the keys file says which tests are hidden (the cell's role decides, not how it ran)
    hidden = {t["name"]: t["hidden"] for t in keys["tests"]}
    assert sorted(hidden.values()) == [False, True], hidden

    r = run_cli("build", "c2", "-C", str(course), "--lang", "en")
    assert r.returncode == 1, r.stdout
    failed = [line for line in r.stderr.splitlines() if line.startswith("✗")]
    assert len(failed) == 1, r.stderr  # the visible test passes (a float), the hidden one fails
    assert "question 'q-code'" in failed[0] and "for cohort c2" in failed[0], failed[0]
    assert "HIDDEN-MARKER-NAME-d07e" in failed[0]  # the instructor sees the hidden test's name
    cells = json.loads((course / "cases/coop.ipynb").read_text("utf-8"))["cells"]
    hidden_cell = next(
        i + 1 for i, c in enumerate(cells) if "hidden-tests" in c["metadata"].get("tags", [])
    )
    assert f"(cell {hidden_cell})" in failed[0] and "session coop" in failed[0], failed[0]
    assert _summary(r.stdout).startswith("✗")
    assert not (course / "build/c2/trainee/coop.ipynb").exists()


def test_sample_course_build_refuses_a_broken_solution(sample_course: Path):
    # the reproduction: by_industry = None fails every test of g2-by-industry
    _edit(sample_course / "exercises/green-data.ipynb", 7, source="by_industry = None")
    r = run_cli("build", "2026-spring", "-C", str(sample_course), "-s", "green-2")
    assert r.returncode == 1, r.stdout
    failed = [line for line in r.stderr.splitlines() if line.startswith("✗")]
    assert len(failed) == 3 and all("g2-by-industry" in f for f in failed), r.stderr
    assert all("2026-spring" in f for f in failed)
    assert "by_industry 是按产业索引的 Series" in r.stderr and "合计数正确" in r.stderr
    assert "教师参考答案" in r.stderr  # the course speaks Chinese
    assert _summary(r.stdout).startswith("✗")
    assert not (sample_course / "build/2026-spring/trainee/green-2.ipynb").exists()


def test_every_tag_check_accepts_is_documented_and_raises_exception_builds(course: Path):
    from kit.notebooks import TAGS

    guide = (Path(__file__).parents[1] / "docs/authoring.md").read_text("utf-8")
    headings = [line for line in guide.splitlines() if line.startswith("### ")]
    for tag in TAGS:
        assert f"| `{tag}` |" in guide, tag  # in the table of tags
        assert any(f"`{tag}`" in h for h in headings), tag  # and explained with an example

    nb = nbformat.read(str(course / "cases/coop.ipynb"), as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell('int("三十")'))
    nb.cells[3].metadata["tags"] = ["raises-exception"]
    nbformat.write(nb, str(course / "cases/coop.ipynb"))
    r = run_cli("build", "c1", "-C", str(course), "--lang", "en")
    assert r.returncode == 0, r.stderr
    trainee = nbformat.read(str(course / "build/c1/trainee/coop.ipynb"), as_version=4)
    errors = [o for c in trainee.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ValueError"]


def test_build_with_handouts_writes_them_in_the_same_run(course: Path):
    from kit.builder import build

    r = build(course, "c1", handouts=True, progress=False)
    assert r.ok and r.handouts is not None
    out = course / "build/c1/handouts"
    assert r.handouts.index == out / "index.html"
    assert {p.name for p in out.glob("*.html")} == {"index.html", "coop.html"}
    instructor = course / "build/c1/instructor/handouts"  # never in the folder to share
    assert {p.name for p in instructor.glob("*.html")} == {"index.html", "coop.html"}
    (out / "coop.html").unlink()
    again = build(course, "c1", handouts=True, progress=False)  # nothing to build: handouts still
    assert again.sessions[0].cached and (out / "coop.html").exists()

    cli = run_cli("build", "c1", "-C", str(course), "--handouts", "--lang", "en")
    assert cli.returncode == 0 and str(out / "index.html") in cli.stdout, cli.stdout + cli.stderr
