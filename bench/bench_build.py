"""Benchmark: build N sessions and export N handouts, casekit vs. papermill + nbconvert CLIs.

Both sides run the same notebooks with the same parameters on the same machine
in one run. The "folder of hand-run notebooks" baseline is what an instructor
would otherwise script: for each session ``papermill in.ipynb out.ipynb -f
params.yaml`` then ``jupyter nbconvert --to html out.ipynb``. casekit does
more work per session (two editions, keys file, two handouts, index) and is
still measured as a whole: ``casekit build --handouts`` (one run), and
``casekit build`` then ``casekit handouts`` (two commands).

Then, in the same run:

* **variants**: one session (the green-unit data drill) with a variant per
  trainee for 30 trainees, ``casekit build --force`` (31 notebooks: the
  reference and one per trainee, with the executor's start-up) against the
  papermill API in one process looping over the same 31 parameter sets (what
  a script per student would do), and against the sum of the cells' own time;
* **start-up**: ``casekit --help``, a ``casekit build`` with nothing to do and
  ``import kit.builder``, each the median of repeated runs, beside
  ``papermill --help`` and ``jupyter nbconvert --help``.

    python bench/bench_build.py [N] [--trainees T] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VARIANT_SESSION = "green-2"  # exercises/green-data.ipynb: its ledger comes from `seed`


def make_course(dst: Path, n: int) -> list[dict]:
    """Copy the sample course and add a cohort 'bench' with n sessions over its notebooks."""
    for part in ("course.toml", "catalog", "cases", "exercises", "cohorts"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)
    spring = dst / "cohorts" / "2026-spring"
    rows = (spring / "schedule.csv").read_text(encoding="utf-8").splitlines()
    header, body = rows[0], rows[1:]
    bench = dst / "cohorts" / "bench"
    bench.mkdir()
    shutil.copy(spring / "roster.csv", bench / "roster.csv")
    (bench / "cohort.toml").write_text('name = "基准测试班"\n', encoding="utf-8")
    out = [header]
    for i in range(n):
        cells = body[i % len(body)].split(",", 1)
        out.append(f"b{i:03d},{cells[1]}")
    (bench / "schedule.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    sys.path.insert(0, str(ROOT))
    from kit.builder import session_plan
    from kit.course import load_course

    course = load_course(dst)
    plans = []
    for s in course.cohort("bench").sessions:
        plan = session_plan(course, "bench", s.session)
        plans.append({"session": s.session, "notebook": s.notebook, **plan})
    return plans


def make_variant_cohort(course: Path, trainees: int) -> list[dict]:
    """A cohort 'bench-v' of `trainees` whose one session has a variant per trainee."""
    spring = course / "cohorts" / "2026-spring"
    cohort = course / "cohorts" / "bench-v"
    cohort.mkdir()
    (cohort / "cohort.toml").write_text('name = "分版本测试班"\n', encoding="utf-8")
    head, *people = (spring / "roster.csv").read_text("utf-8").splitlines()
    rows = [head] + [
        f"v{i:03d}," + people[i % len(people)].split(",", 1)[1] for i in range(trainees)
    ]
    (cohort / "roster.csv").write_text("\n".join(rows) + "\n", "utf-8")
    sched = (spring / "schedule.csv").read_text("utf-8").splitlines()
    row = next(r for r in sched if r.startswith(VARIANT_SESSION + ","))
    (cohort / "schedule.csv").write_text(f"{sched[0]},variants\n{row},trainee\n", "utf-8")
    from kit.builder import session_plan
    from kit.course import load_course

    c = load_course(course)
    s = c.cohort("bench-v").session(VARIANT_SESSION)
    return [
        {"notebook": s.notebook, **session_plan(c, "bench-v", VARIANT_SESSION, t)}
        for t in [None, *(str(i) for i in c.cohort("bench-v").roster.index)]
    ]


def run(cmd: list[str], cwd: Path) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")


def baseline(course: Path, plans: list[dict]) -> float:
    """papermill CLI + jupyter nbconvert CLI, one notebook at a time (what people script)."""
    out = course / "baseline"
    out.mkdir()
    t = time.perf_counter()
    for p in plans:
        params = out / f"{p['session']}.json"
        params.write_text(json.dumps(p["parameters"], ensure_ascii=False), encoding="utf-8")
        nb = course / p["notebook"]
        target = out / f"{p['session']}.ipynb"
        # papermill reads a YAML parameters file; JSON is YAML.
        run(
            [
                str(BIN / "papermill"),
                str(nb),
                str(target),
                "-f",
                str(params),
                "--cwd",
                str(nb.parent),
                "-k",
                "python3",
            ],
            course,
        )
        run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(target)], course)
    return time.perf_counter() - t


def casekit(course: Path) -> tuple[float, float]:
    """``casekit build --handouts`` (one run), then ``casekit build`` + ``casekit handouts``."""
    ck = str(BIN / "casekit")
    t = time.perf_counter()
    run([ck, "build", "bench", "-C", str(course), "--force", "--handouts"], course)
    one = time.perf_counter() - t
    t = time.perf_counter()
    run([ck, "build", "bench", "-C", str(course), "--force"], course)
    run([ck, "handouts", "bench", "-C", str(course)], course)
    return one, time.perf_counter() - t


def cells_seconds(notebooks) -> float:
    """The cells' own time, as the executor recorded it per cell (papermill's metadata)."""
    total = 0.0
    for nb in notebooks:
        for cell in json.loads(Path(nb).read_text("utf-8"))["cells"]:
            total += (cell.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0
    return total


def variants(course: Path, plans: list[dict]) -> dict[str, float]:
    """casekit's per-trainee build against a papermill API loop over the same parameters."""
    t = time.perf_counter()
    run([str(BIN / "casekit"), "build", "bench-v", "-C", str(course), "--force"], course)
    ours = time.perf_counter() - t
    cells = cells_seconds((course / "build" / "bench-v").rglob("instructor/*.ipynb"))
    import papermill

    out = course / "baseline-v"
    out.mkdir()
    t = time.perf_counter()
    for i, p in enumerate(plans):
        nb = course / p["notebook"]
        papermill.execute_notebook(
            str(nb),
            str(out / f"{i:03d}.ipynb"),
            parameters=p["parameters"],
            cwd=str(nb.parent),
            kernel_name="python3",
            progress_bar=False,
        )
    theirs = time.perf_counter() - t
    return {"casekit": ours, "papermill": theirs, "cells": cells, "n": len(plans)}


def _median_run(cmd: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):  # the first run warms the file cache and is dropped
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def startup(course: Path, repeat: int) -> dict[str, float]:
    """Median wall time of commands whose cost is mostly start-up."""
    run([str(BIN / "casekit"), "build", "bench", "-C", str(course)], course)  # up to date
    py = str(BIN / "python")
    return {
        "casekit --help": _median_run([str(BIN / "casekit"), "--help"], course, repeat),
        "casekit build (nothing to do)": _median_run(
            [str(BIN / "casekit"), "build", "bench", "-C", str(course)], course, repeat
        ),
        "import kit.builder": _median_run([py, "-c", "import kit.builder"], course, repeat),
        "papermill --help": _median_run([str(BIN / "papermill"), "--help"], course, repeat),
        "jupyter nbconvert --help": _median_run(
            [str(BIN / "jupyter"), "nbconvert", "--help"], course, repeat
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=16, help="sessions (default 16)")
    ap.add_argument("--trainees", type=int, default=30, help="trainees with own variants")
    ap.add_argument("--repeat", type=int, default=7, help="runs per start-up figure")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        plans = make_course(course, args.n)
        vplans = make_variant_cohort(course, args.trainees)
        ours, two = casekit(course)
        cells = cells_seconds((course / "build" / "bench" / "instructor").glob("*.ipynb"))
        theirs = baseline(course, plans)
        v = variants(course, vplans)
        s = startup(course, args.repeat)
    n = args.n
    print(f"\n{n} sessions on {os.cpu_count()} cores (build + HTML handouts)")
    print(f"{'':34}{'total s':>9}{'s/session':>11}")
    print(f"{'papermill CLI + nbconvert CLI':34}{theirs:9.1f}{theirs / n:11.2f}")
    print(f"{'casekit build --handouts':34}{ours:9.1f}{ours / n:11.2f}")
    print(f"{'casekit build; casekit handouts':34}{two:9.1f}{two / n:11.2f}")
    print(f"{'their cells alone (sum)':34}{cells:9.1f}{cells / n:11.2f}")
    print(f"ratio (baseline / casekit): {theirs / ours:.1f}x (two commands: {theirs / two:.1f}x)")

    k = v["n"]
    print(f"\none session, a variant per trainee: {k} notebooks (reference + {k - 1} trainees)")
    print(f"{'papermill API, one process':34}{v['papermill']:9.1f}{v['papermill'] / k:11.2f}")
    print(f"{'casekit build --force':34}{v['casekit']:9.1f}{v['casekit'] / k:11.2f}")
    print(f"{'their cells alone (sum)':34}{v['cells']:9.1f}{v['cells'] / k:11.2f}")
    print(f"ratio (papermill / casekit): {v['papermill'] / v['casekit']:.1f}x")

    print(f"\nstart-up (median of {args.repeat} runs, s)")
    for name, secs in s.items():
        print(f"{name:34}{secs:9.2f}")
    print(
        f"ratio (papermill --help / casekit --help): "
        f"{s['papermill --help'] / s['casekit --help']:.1f}x; "
        f"(nbconvert --help / casekit build with nothing to do): "
        f"{s['jupyter nbconvert --help'] / s['casekit build (nothing to do)']:.1f}x"
    )


if __name__ == "__main__":
    main()
