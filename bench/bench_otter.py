"""Grading otter-grader submissions: casekit ``grade`` vs otter-grader itself, same machine, same run.

The assignment is otter's tutorial as the import tests write it
(tests/fixtures/otter_term.py: ``square``, the ``fiberator`` generator,
``price_by_flavor`` from a data file, an ``all_or_nothing`` question), and
its 15 student notebooks (right, wrong, partial, raising, empty, hidden
tests failing, a timeout, edited cells, export zips). otter grades each
notebook with ``otter.api.grade_submission`` (no Docker), one after another
in one process; casekit imports the master, collects the notebooks
(``--identity filename``) and grades them with its default workers.

    python bench/bench_otter.py

otter-grader is the ``bench`` extra. Prints the seconds of each, the ratio
and how many totals agree (the timeout and, before the judge's generator fix,
the generator question are expected to differ; see docs/import.md).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))
import otter_term  # noqa: E402
import sample  # noqa: E402

import kit  # noqa: E402
from kit.gradebook import Gradebook  # noqa: E402

SCHEDULE = (
    "session,notebook,date,teacher,site,method,unit,hours,mode,due,params\n"
    "demo,exercises/demo.ipynb,2026-03-02,f1,,drill,green,2,assessed,,{}\n"
)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-otter-"))
    master = otter_term.write_masters(work / "masters")["demo"]
    otter_term.run_master(master)
    autograder, released = otter_term.otter_assign(master, work / "dist")
    master_nb = nbformat.read(str(master), as_version=4)
    inbox = work / "inbox"
    inbox.mkdir()
    paths = {}
    for trainee, spec in otter_term.DEMO_SUBMISSIONS.items():
        paths[trainee] = inbox / f"demo_{trainee}.ipynb"
        nbformat.write(otter_term.student_notebook(released, master_nb, spec), str(paths[trainee]))

    t0 = time.perf_counter()
    otter = otter_term.OtterGrades(autograder, paths, timeout=45).wait()
    otter_s = time.perf_counter() - t0

    root = sample.write_course(work / "course", cell_timeout=10)
    kit.import_otter(master, course=root)
    (root / "cohorts/c1/schedule.csv").write_text(SCHEDULE, encoding="utf-8")
    assert not kit.build(root, "c1", progress=False).failures
    t0 = time.perf_counter()
    kit.collect(root, "c1", source=inbox, identity="filename")
    kit.grade(root, "c1", "demo", progress=False)
    casekit_s = time.perf_counter() - t0
    with Gradebook.open(root) as gb:
        qs = gb.question_scores("c1", "demo")
    ours = qs[qs["kind"] == "code"].groupby("trainee")["points"].sum().to_dict()
    agree = sum(round(ours.get(t, -1), 6) == round(r.total, 6) for t, r in otter.items())
    n = len(paths)
    print(f"{n} submissions: otter-grader {otter_s:.1f} s, casekit collect+grade {casekit_s:.1f} s")
    print(f"ratio otter/casekit: {otter_s / casekit_s:.2f}; totals agree: {agree}/{n}")
    for t in sorted(otter):
        print(f"  {t}: otter {otter[t].total:g}{' (timed out)' if otter[t].timed_out else ''}"
              f", casekit {ours.get(t, float('nan')):g}")  # fmt: skip


if __name__ == "__main__":
    main()
