"""Marking at scale: the next item after a save, with N trainees' submissions in the gradebook.

A course with an essay (two rubric criteria) is built once; N trainees'
graded submissions are written into the gradebook the way ``grade`` writes
them (one submission, its grade and four question results each), the essays
drawn from a pool of sentences so that answer groups form. Then the marking
widget (`kit.marking.notebook.MarkingApp`, real ipywidgets, no browser) is opened and
items are marked one after another with "save & next"; each step is timed
from the click to the next item shown, and the SQL statements it sends are
counted. The same is done with the marking widget as it was before #12 (read
from git: `record_mark` per save, one keys-file read and one query of every
current submission per save), on SQLite and on PostgreSQL (a private server,
tests/pg.py).

    python bench/bench_marking.py [-n 1400] [--items 150] [--no-pg]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from classroom import ESSAY, POINTS, class_course, trainee_ids  # noqa: E402

BEFORE = "1d25b35"  # main when #12 landed: its marking widget, without answer groups


def populate(root: Path, url: str, n: int) -> None:
    """N trainees' current, graded submissions, written as ``grade`` writes them."""
    from kit.course import load_course
    from kit.gradebook import Gradebook
    from kit.grading import load_keys

    course = load_course(root)
    keys = load_keys(course, "c1", "coop")
    rng = random.Random(7)
    pool = [s for point in POINTS for s in point]
    with Gradebook(url) as gb:
        for i, t in enumerate(trainee_ids(n)):
            point = POINTS[i % len(POINTS)]
            essay = "".join(rng.sample(point, 2)) + rng.choice(pool)
            sub, _ = gb.add_submission(
                cohort="c1", session="coop", trainee=t, sha256=f"{i:064x}",
                path=f"submissions/c1/{t}/coop/x", received_at=datetime.now(UTC),
            )  # fmt: skip
            results = []
            for pos, (qid, spec) in enumerate(keys.questions.items()):
                manual = spec["kind"] == "essay"
                results.append(
                    dict(question=qid, position=pos, kind=spec["kind"], unit=spec.get("unit") or "",
                         prompt=spec["prompt"], answer=json.dumps(essay if manual else 1, ensure_ascii=False),
                         points=0.0 if manual else 1.0, max_points=float(spec.get("points") or 0),
                         status="needs-marking" if manual else "correct", detail="", manual=manual)
                )  # fmt: skip
            gb.write_grading(
                sub.id,
                grade=dict(status="needs-marking", cause="", auto_points=3.0, max_points=9.0,
                           days_late=0, penalty=0.0, fingerprint="bench", seconds=0.0),
                results=results, tests=[], flags=[],
            )  # fmt: skip


def old_marking() -> types.ModuleType | None:
    """kit/marking/notebook.py as it was before #12, or None outside a git checkout."""
    try:
        src = subprocess.run(
            ["git", "show", f"{BEFORE}:kit/marking/notebook.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    mod = types.ModuleType("kit_marking_before")
    exec(compile(src, "kit/marking/notebook.py@" + BEFORE, "exec"), mod.__dict__)
    return mod


def count_sql(engine) -> list[int]:
    from sqlalchemy import event

    box = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_a):  # pragma: no cover - bench only
        box[0] += 1

    return box


def mark_run(app_cls, root: Path, url: str, items: int) -> dict:
    t0 = time.perf_counter()
    app = app_cls(root, "c1", "coop", db=url, marker="bench")
    opened = time.perf_counter() - t0
    sql = count_sql(app.gb.engine)
    steps, statements = [], []
    for k in range(items):
        checks = list(app._checks.values())
        checks[k % len(checks)].value = True  # tick a criterion, as a marker does
        app.comment.value = f"批注 {k}"
        before = sql[0]
        t = time.perf_counter()
        app.save(advance=True)  # the click: save, then the next item is shown
        steps.append(time.perf_counter() - t)
        statements.append(sql[0] - before)
    app.gb.close()
    steps_ms = sorted(1000 * s for s in steps)
    return {
        "open_s": opened,
        "median_ms": statistics.median(steps_ms),
        "p95_ms": steps_ms[int(0.95 * (len(steps_ms) - 1))],
        "sql": statistics.median(statements),
        "left": app.left(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1400, help="trainees (default 1400)")
    ap.add_argument("--items", type=int, default=150, help="items marked per run")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    from kit.marking.notebook import MarkingApp

    before = old_marking()
    work = Path(tempfile.mkdtemp(prefix="casekit-bench-marking-"))
    t = time.perf_counter()
    root = class_course(work / "course", ESSAY, trainees=args.n)
    print(f"course built with {args.n} trainees in {time.perf_counter() - t:.1f} s", flush=True)
    backends = [("SQLite", f"sqlite:///{work / 'gb.sqlite'}", None)]
    server = None
    if not args.no_pg:
        from pg import PgServer, find_bin_dir

        bin_dir = find_bin_dir()
        if bin_dir is None:
            print("PostgreSQL is not installed: SQLite only")
        else:
            server = PgServer(bin_dir).start()
            backends.append(("PostgreSQL", server.new_database("bench"), server))
    rows = []
    try:
        for name, url, _ in backends:
            t = time.perf_counter()
            populate(root, url, args.n)
            print(f"{name}: {args.n} graded submissions written in {time.perf_counter() - t:.1f} s",
                  flush=True)  # fmt: skip
            now = mark_run(MarkingApp, root, url, args.items)
            old = mark_run(before.MarkingApp, root, url, args.items) if before else None
            rows.append((name, now, old))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"marking, {args.n} trainees, {args.items} items marked with 'save & next' per run")
    print(
        f"{'backend':<11} {'':<7} {'open s':>7} {'next median ms':>15} {'next p95 ms':>12} {'SQL/step':>9}"
    )
    for name, now, old in rows:
        for label, r in (("now", now), ("before", old)):
            if r:
                print(f"{name:<11} {label:<7} {r['open_s']:>7.2f} {r['median_ms']:>15.1f} "
                      f"{r['p95_ms']:>12.1f} {r['sql']:>9.0f}")  # fmt: skip
        if old:
            print(
                f"{name:<11} ratio   before/now next-item median: {old['median_ms'] / now['median_ms']:.1f}×"
            )
    worst = max(r[1]["p95_ms"] for r in rows)
    print(f"\nnext item p95 ≤ 100 ms: {'yes' if worst <= 100 else 'NO'} (worst {worst:.1f} ms)")


if __name__ == "__main__":
    main()
