"""Programme scale: one cohort of 1,400 trainees over 20 sessions (28,000 submissions).

The cohort is the sample course's spring schedule, cycled to 20 sessions
(each a session of its own: own keys, own due time), with a roster of 1,400.
Every trainee hands in every session (the answers store and the trainee's
workbook, as ``submit`` writes them): answers good, partial or blank by
trainee, and code where a session asks for code (right, wrong or left as
the stub).  Submissions are written straight into the store
(``submissions/<cohort>/...``, the layout ``collect`` writes); ``index``
below is the gradebook learning them (what a ``grade`` on an empty
gradebook does first).

Measured, on SQLite and on PostgreSQL (a private server, tests/pg.py):

* ``index``    — ``index_store``: 28,000 folders into the gradebook;
* ``all``      — the whole programme graded in one ``grade`` run, code
  answers in the sandbox (goal < 10 min on 2 cores);
* ``widgets``  — the sessions without code questions graded again
  (``force``), a run per session (submissions/s; goal >= 1,000/s);
* ``report``, ``grades`` — those commands over the full gradebook (goal: report < 5 s);
* peak memory of this process (ru_maxrss).

    make bench-scale      # or: python bench/bench_scale.py [--trainees 1400] [--sessions 20] [--db sqlite postgres]

At smaller sizes (``--trainees 100``) it is a quick check; figures scale
with the number of submissions.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

COHORT = "programme"
BASE = "2026-spring"


def make_course(work: Path, trainees: int, sessions: int) -> Path:
    """The sample course with one programme-sized cohort (``sessions`` cycled from the spring schedule)."""
    root = work / "course"
    root.mkdir(parents=True)
    for name in ("course.toml",):
        shutil.copy(ROOT / name, root / name)
    for d in ("catalog", "cases", "exercises"):
        shutil.copytree(ROOT / d, root / d)
    co = root / "cohorts" / COHORT
    co.mkdir(parents=True)
    (co / "cohort.toml").write_text(
        (ROOT / "cohorts" / BASE / "cohort.toml")
        .read_text("utf-8")
        .replace("2026年春季班", "2026年全市班"),
        encoding="utf-8",
    )
    with open(ROOT / "cohorts" / BASE / "schedule.csv", encoding="utf-8") as f:
        base = list(csv.DictReader(f))
    rows = []
    start = datetime(2026, 3, 13)
    for i in range(sessions):
        r = dict(base[i % len(base)])
        day = start + timedelta(days=7 * i)
        r["session"] = f"{r['session']}-{i // len(base) + 1}"
        r["date"] = day.date().isoformat()
        if r["due"]:
            r["due"] = f"{day.date().isoformat()}T22:00"
        rows.append(r)
    with open(co / "schedule.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(base[0]))
        w.writeheader()
        w.writerows(rows)
    groups = ["第一课题组", "第二课题组", "第三课题组", "第四课题组"]
    with open(co / "roster.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "department", "township", "group"])
        for i in range(trainees):
            w.writerow([f"p{i:04d}", f"学员{i}", "乡镇人民政府", "南庄镇", groups[i % 4]])
    return root


# ----------------------------------------------------------------------------- submissions


def _good(kind: str, spec: dict[str, Any], key: Any) -> Any:
    if kind in ("choice", "text", "number"):
        return key[0] if isinstance(key, list) and kind == "text" else key
    if kind in ("multi", "ranking"):
        return list(key or [])
    return None


def _partial(kind: str, spec: dict[str, Any], key: Any, rnd: random.Random) -> Any:
    if kind == "choice":
        opts = [o for o in spec.get("options", []) if o != key]
        return rnd.choice(opts) if opts else key
    if kind == "number" and isinstance(key, int | float):
        return key * 1.5 + 1
    if kind == "text":
        return "不知道"
    if kind in ("multi", "ranking"):
        k = list(key or [])
        return k[: max(1, len(k) // 2)] if kind == "multi" else k[::-1]
    return None


def _free(kind: str, spec: dict[str, Any], rnd: random.Random) -> Any:
    if kind == "essay":
        return "我认为应当先调研，再决策；" * rnd.randint(1, 20)
    if kind == "rating":
        return rnd.randint(1, int(spec.get("scale", 5)))
    if kind == "observation":
        return {f: "记录" for f in spec.get("fields") or ["what", "who", "problems", "ideas"]}
    return None


def write_submissions(root: Path, trainees: int) -> tuple[int, dict[str, bool]]:
    """Every trainee hands in every session; returns (how many, session → has code)."""
    import nbformat

    from kit import artifacts
    from kit.course import load_course
    from kit.grading.keys import load_keys
    from kit.notebooks import casekit_meta

    course = load_course(root)
    co = course.cohort(COHORT)
    n = 0
    coded: dict[str, bool] = {}
    for s in co.sessions:
        keys = load_keys(course, COHORT, s.session)
        tnb = nbformat.read(str(artifacts.build_paths(course, COHORT, s.session).trainee), 4)
        solutions = {
            casekit_meta(c).get("question"): c.source
            for c in keys.instructor.cells
            if casekit_meta(c).get("role") == "answer"
        }
        code_qs = [q for q, sp in keys.questions.items() if sp.get("kind") == "code"]
        coded[s.session] = bool(code_qs)
        plain = nbformat.writes(tnb).encode()
        when = (
            s.due.replace(tzinfo=UTC) if s.due else datetime(2026, 6, 1, tzinfo=UTC)
        ) - timedelta(hours=2)
        for i in range(trainees):
            t = f"p{i:04d}"
            rnd = random.Random(f"{t}/{s.session}")
            quality = ("good", "partial", "blank")[i % 3]
            answers: dict[str, Any] = {}
            at = when.isoformat()
            for qid, spec in keys.questions.items():
                kind = spec.get("kind", "")
                if quality == "blank" and rnd.random() < 0.8:
                    continue
                if kind == "code":
                    src = solutions.get(qid) or ""
                    value = src if quality == "good" else src.replace("return", "return None #")
                elif kind in ("essay", "rating", "observation"):
                    value = _free(kind, spec, rnd)
                elif quality == "good":
                    value = _good(kind, spec, keys.keys.get(qid))
                else:
                    value = _partial(kind, spec, keys.keys.get(qid), rnd)
                if value is not None:
                    answers[qid] = {"value": value, "at": at, "kind": kind}
            doc = {"workbook": s.session, "trainee": t, "session": s.session, "answers": answers}
            files = {
                "answers.json": json.dumps(doc, ensure_ascii=False).encode(),
                "workbook.ipynb": plain,
                "receipt.json": artifacts.Receipt(
                    trainee=t, session=s.session, cohort=COHORT, received_at=at
                ).to_bytes(),
            }
            digest = artifacts.submission_digest(
                {k: v for k, v in files.items() if k != "receipt.json"}
            )
            d = artifacts.submission_dir(course, COHORT, t, s.session, when, digest)
            d.mkdir(parents=True)
            for k, v in files.items():
                (d / k).write_bytes(v)
            n += 1
    return n, coded


# ----------------------------------------------------------------------------- measuring


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(root: Path, db: str, coded: dict[str, bool], n: int, workers: int) -> dict[str, float]:
    from kit.grading import grade, grades, index_store
    from kit.programme import report

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    added = index_store(root, COHORT, db=db)
    out["index"] = time.perf_counter() - t0
    assert added == n, (added, n)
    # the programme in one run, as an instructor would: `casekit grade programme`
    t0 = time.perf_counter()
    res = grade(root, COHORT, db=db, workers=workers, progress=False)
    out["all"] = time.perf_counter() - t0
    assert not res.failures and len(res.graded) == n, (res.failures[:3], len(res.graded))
    out["code_n"] = sum(1 for label in res.graded if coded[label.split("/")[1]])
    # widget-only throughput: those sessions graded again (force), one run per session
    t0 = time.perf_counter()
    count = 0
    for session, has_code in coded.items():
        if not has_code:
            res = grade(root, COHORT, session, db=db, workers=workers, progress=False, force=True)
            assert not res.failures, res.failures[:3]
            count += len(res.graded)
    out["widgets"] = time.perf_counter() - t0
    out["widgets_n"] = count
    t0 = time.perf_counter()
    report(root, COHORT, db=db)
    out["report"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    grades(root, COHORT, root / "grades.csv", db=db)
    out["grades"] = time.perf_counter() - t0
    out["peak_mb"] = peak_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trainees", type=int, default=1400)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgres"])
    ap.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = ap.parse_args()
    from kit.builder import build
    from kit.grading import coderun

    work = args.keep or Path(tempfile.mkdtemp(prefix="casekit-bench-scale-"))
    try:
        t0 = time.perf_counter()
        root = make_course(work, args.trainees, args.sessions)
        res = build(root, COHORT, progress=False)
        assert not res.failures, res.failures
        print(f"build of {args.sessions} sessions: {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        n, coded = write_submissions(root, args.trainees)
        print(f"{n} submissions written in {time.perf_counter() - t0:.1f} s; "
              f"sessions with code: {sum(coded.values())} of {len(coded)}")  # fmt: skip
        coderun.warm_up()  # the sandbox starts once for the bench process (not timed)
        for kind in args.db:
            if kind == "sqlite":
                db = f"sqlite:///{work / 'gradebook.sqlite'}"
                out = measure(root, db, coded, n, args.workers)
            else:
                from pg import PgServer, find_bin_dir

                bin_dir = find_bin_dir()
                if bin_dir is None:
                    print("\npostgres: no PostgreSQL binaries (scripts/system-deps.sh test)")
                    continue
                pg = PgServer(bin_dir).start()
                try:
                    out = measure(root, pg.new_database("programme"), coded, n, args.workers)
                finally:
                    pg.stop()
            wn, cn = out["widgets_n"], out["code_n"]
            print(f"\n{kind}: {n} submissions, {args.trainees} trainees, {args.workers} workers")
            print(f"  index the store      {out['index']:7.1f} s  ({n / out['index']:6.0f}/s)")
            print(
                f"  grade widget-only    {out['widgets']:7.1f} s  ({wn / out['widgets']:6.0f}/s, goal >= 1000/s) [{wn:.0f}]"
            )
            print(
                f"  grade everything     {out['all']:7.1f} s  ({n / out['all']:6.0f}/s, one run, "
                f"{cn:.0f} with code; goal < 600 s)"
            )
            print(f"  report               {out['report']:7.2f} s  (goal < 5 s)")
            print(f"  grades export        {out['grades']:7.2f} s")
            print(f"  peak memory          {out['peak_mb']:7.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
