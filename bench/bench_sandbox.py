"""What the sandbox costs: code answers graded in the sandbox vs today's unsandboxed path.

Same machine, same run, same honest submissions (right, half right, wrong),
on two notebooks: the small quiz of the sandbox tests (three code questions)
and the sample course's green-data exercise (two pandas questions over a
64-row ledger).

* ``today``     — kit.grading's path: the instructor edition with the trainee's
                  code pasted in, run in one child of the executor's zygote
                  (no sandbox: trainee code can forge results, see issue 9);
* ``sandbox``   — kit.sandbox.supervisor: a trainee box and a judge box per submission,
                  forked from per-session templates inside bubblewrap;
* ``unsafe``    — the same protocol without bubblewrap and namespaces.

Reports milliseconds per submission (one at a time, and two workers at
once), the one-off start-up (zygote + templates) and whether the verdicts
agree.  nbgrader autograde costs ~0.95 s per submission here (bench_grade.py);
the team target is >= 50x faster, i.e. <= 19 ms per submission on average
over a mix in which many submissions have no code.

    python bench/bench_sandbox.py [-n 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import sandbox_quiz as sq  # noqa: E402

from kit.execution import executor as execute  # noqa: E402
from kit.sandbox.supervisor import CodeGrader, CodeJob  # noqa: E402


def green() -> tuple[nbformat.NotebookNode, list[dict[str, str]]]:
    nb = nbformat.read(str(ROOT / "exercises" / "green-data.ipynb"), as_version=4)
    sols = [c.source for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    right = {"g2-by-industry": sols[0], "g2-declining": sols[1]}
    wrong = {
        "g2-by-industry": 'by_industry = ledger.groupby("产业")["产值2025"].sum()',
        "g2-declining": 'ledger["增速"] = 0\ndeclining = ledger.head(3)',
    }
    return nb, [right, {"g2-by-industry": sols[0]}, wrong]


def quiz() -> tuple[nbformat.NotebookNode, list[dict[str, str]]]:
    wrong = {
        "q-func": "def total(d):\n    return 0.0",
        "q-data": "summary = 1",
        "q-mut": "df['w'] = 0",
    }
    half = {"q-func": sq.CORRECT["q-func"], "q-data": sq.CORRECT["q-data"]}
    return sq.quiz_notebook(), [sq.CORRECT, half, wrong]


def today(instructor, expected, answers, tmp: str) -> list[dict]:
    return sq.todays_verdicts(instructor, answers, expected, tmp)


def tree_cpu(root: int) -> float:
    """CPU seconds used by ``root`` and every process below it, living or reaped.

    A reaped child's time sits in its parent's cutime/cstime, a living one's in
    its own stat: summing both over the living tree counts each process once.
    The machine is shared, so CPU time says more than wall time.
    """
    import os

    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
    total, todo, seen = 0, [root], set()
    while todo:
        p = todo.pop()
        if p in seen or p not in stats:
            continue
        seen.add(p)
        total += stats[p][1]
        todo += [c for c, (pp, _) in stats.items() if pp == p]
    return total / tick


def timed(fn, items, workers: int, root: int) -> tuple[float, float, list]:
    """Wall seconds, CPU seconds (this process + the tree below ``root``), results."""
    c0, t0 = time.process_time() + tree_cpu(root), time.perf_counter()
    if workers == 1:
        out = [fn(x) for x in items]
    else:
        with ThreadPoolExecutor(workers) as pool:
            out = list(pool.map(fn, items))
    return time.perf_counter() - t0, time.process_time() + tree_cpu(root) - c0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30, help="submissions per notebook")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="casekit-bench-sandbox-")
    execute.warm_up()
    rows = []
    for label, (nb, variants) in {"quiz": quiz(), "green-data": green()}.items():
        instructor = sq.instructor_edition(nb)
        expected = sq.expected_tests(instructor)
        subs = [variants[i % len(variants)] for i in range(args.n)]
        today(instructor, expected, subs[0], tmp)  # warm
        results = {}
        zygote = execute._get_zygote().proc.pid
        for workers in (1, 2):
            results[("today", workers)] = timed(
                lambda a, i=instructor, e=expected: today(i, e, a, tmp), subs, workers, zygote
            )
        for mode, unsafe in (("sandbox", False), ("unsafe", True)):
            t0 = time.perf_counter()
            grader = CodeGrader(unsafe=unsafe)
            grader.run(instructor, subs[0], expected)  # zygote + templates: once per grading run
            start = time.perf_counter() - t0
            for workers in (1, 2):
                jobs = [CodeJob(str(i), instructor, a, expected) for i, a in enumerate(subs)]
                secs, cpu, runs = timed(
                    lambda js, w=workers, g=grader: g.run_many(js, workers=w),
                    [jobs], 1, grader.zygote.proc.pid,
                )  # fmt: skip
                results[(mode, workers)] = (secs, cpu, [r.tests for r in runs[0]])
            grader.close()
            results[(mode, "start")] = start
        base = results[("today", 1)][2]

        def verdicts(tests):
            return [[(t["name"], t["passed"], t["points"]) for t in ts] for ts in tests]

        for mode in ("today", "sandbox", "unsafe"):
            for workers in (1, 2):
                secs, cpu, out = results[(mode, workers)]
                agree = verdicts(out) == verdicts(base)
                rows.append(
                    (label, mode, workers, 1000 * secs / args.n, 1000 * cpu / args.n, agree)
                )
        for mode in ("sandbox", "unsafe"):
            rows.append((label, f"{mode} start-up (s)", "", results[(mode, "start")], None, ""))
    print(f"\n{'notebook':<12}{'path':<22}{'workers':>8}{'wall ms':>9}{'CPU ms':>8}  same verdicts")
    for label, mode, workers, ms, cpu, agree in rows:
        cpu_s = f"{cpu:8.1f}" if cpu is not None else " " * 8
        print(f"{label:<12}{mode:<22}{workers!s:>8}{ms:>9.1f}{cpu_s}  {agree}")
    print("(ms per submission; CPU = this process + the zygote's whole process tree)")
    for label in ("quiz", "green-data"):
        t = {(m, w): (ms, cpu) for lab, m, w, ms, cpu, _ in rows if lab == label}
        print(
            f"{label}: sandbox/today CPU {t[('sandbox', 1)][1] / t[('today', 1)][1]:.2f}x, "
            f"wall at 2 workers {t[('sandbox', 2)][0] / t[('today', 2)][0]:.2f}x; "
            f"nbgrader (~950 ms) / sandbox at 2 workers: {950 / t[('sandbox', 2)][0]:.0f}x"
        )


if __name__ == "__main__":
    main()
