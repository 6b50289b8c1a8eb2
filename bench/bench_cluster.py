"""``grade --cluster`` against the local pool: the same submissions, same machine, same run.

The course is the grading quiz (tests/fixtures/grading/sample.py) with N
submissions cycling through right, half right, wrong and unanswered code
(bench_grade.py's variants). Each configuration grades them all into its own
gradebook:

* ``local``   — ``grade(workers=2)``: the process's sandbox (started once,
  before the runs, like a worker's), two threads;
* ``dask ×1`` — a real ``dask scheduler`` and one ``dask worker --nthreads 1``
  on loopback, started by this script (the CLI a programme would run);
* ``dask ×2`` — the same with two single-thread workers.

Every configuration runs twice: ``cold`` (the first run: sandboxes start,
templates are built) and ``warm`` (``force=True``: what a long-lived cluster
or a grading service costs per run). Prints seconds, submissions per second,
ratios to the local pool and whether the totals agree with it.

    python bench/bench_cluster.py [-n 60 240]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))
sys.path.insert(0, str(ROOT / "bench"))
import sample  # noqa: E402
from bench_grade import VARIANTS  # noqa: E402


def make_course(work: Path, n: int) -> Path:
    from kit.builder import build
    from kit.grading import collect

    root = sample.write_course(work / "course", cell_timeout=10)
    build(root, "c1", progress=False)
    tnb = nbformat.read(str(root / "build/c1/trainee/quiz.ipynb"), as_version=4)
    roster = ["id,name,department,township,group"] + [
        f"s{i:04d},学员{i},局,镇,G1" for i in range(n)
    ]
    (root / "cohorts/c1/roster.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
    for i in range(n):
        t = f"s{i:04d}"
        when = sample.ON_TIME - timedelta(minutes=i)
        files = sample.submission_files(tnb, t, dict(VARIANTS[i % len(VARIANTS)]), when)
        files = sample.seal(root, files, t, when)  # as the hub's exchange service files them
        d = root / "exchange/c1/inbox" / t / "quiz" / f"{i:05d}"
        d.mkdir(parents=True)
        for k, v in files.items():
            (d / k).write_bytes(v)
    res = collect(root, "c1", db=f"sqlite:///{work / 'index.sqlite'}")
    assert not res.failures and len(res.written) == n, (res.failures[:3], len(res.written))
    return root


def totals(root: Path, db: str) -> dict[str, float]:
    from kit.gradebook import Gradebook

    with Gradebook.open(root, db) as gb:
        s = gb.submission_scores("c1")
    return dict(zip(s["trainee"], s["raw_points"], strict=True))


def timed(root: Path, db: str, **kw: object) -> tuple[float, float]:
    """(cold, warm) seconds of two grade runs into ``db``."""
    from kit.grading import grade

    out = []
    for force in (False, True):
        t0 = time.perf_counter()
        res = grade(root, "c1", db=db, progress=False, force=force, **kw)  # type: ignore[arg-type]
        out.append(time.perf_counter() - t0)
        assert not res.failures, res.failures[:3]
    return out[0], out[1]


@contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """A ``dask scheduler`` and ``workers`` single-thread ``dask worker``s on loopback (the CLI)."""
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = 18786 + workers
    addr = f"tcp://127.0.0.1:{port}"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # type: ignore[call-overload]  # fmt: skip
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen([dask, "worker", addr, "--nthreads", "1",  # type: ignore[call-overload]
                                           "--no-dashboard"], **quiet))  # fmt: skip
        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(workers, timeout=60)
        yield addr
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "-n", type=int, nargs="+", default=[60, 240], help="submissions (default 60 240)"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casekit-bench-cluster-"))
    try:
        for n in args.n:
            root = make_course(work / f"n{n}", n)
            rows = []
            db = f"sqlite:///{work / f'n{n}-local.sqlite'}"
            from kit.grading import coderun

            t0 = time.perf_counter()
            coderun.warm_up()  # the local sandbox kept for the process, as a worker keeps its own
            print(
                f"local sandbox start-up: {time.perf_counter() - t0:.2f} s (not in the runs below)"
            )
            rows.append(("local pool, 2 threads", *timed(root, db, workers=2)))
            ref = totals(root, db)
            agree = {}
            for w in (1, 2):
                with dask_cluster(w) as addr:
                    db = f"sqlite:///{work / f'n{n}-dask{w}.sqlite'}"
                    rows.append((f"dask, {w} worker(s) x 1 thread", *timed(root, db, cluster=addr)))
                    agree[w] = totals(root, db) == ref
            print(
                f"\n{n} submissions (code in 4 of 5), seconds (submissions/s); ratio = local / this"
            )
            local_cold, local_warm = rows[0][1], rows[0][2]
            for name, cold, warm in rows:
                print(
                    f"  {name:30s} cold {cold:6.2f} s ({n / cold:5.0f}/s, x{local_cold / cold:4.2f})"
                    f"   warm {warm:6.2f} s ({n / warm:5.0f}/s, x{local_warm / warm:4.2f})"
                )
            print(f"  totals equal to the local pool: 1 worker {agree[1]}, 2 workers {agree[2]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
