"""Benchmark: build N sessions and export N handouts, casekit vs. papermill + nbconvert CLIs.

Both sides run the same notebooks with the same parameters on the same machine
in one run. The "folder of hand-run notebooks" baseline is what an instructor
would otherwise script: for each session ``papermill in.ipynb out.ipynb -f
params.yaml`` then ``jupyter nbconvert --to html out.ipynb``. casekit does
more work per session (two editions, keys file, two handouts, index) and is
still measured as a whole: ``casekit build`` + ``casekit handouts``.

    python bench/bench_build.py [N] [--notebooks sample|small]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


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


def casekit(course: Path) -> float:
    t = time.perf_counter()
    run([str(BIN / "casekit"), "build", "bench", "-C", str(course), "--force"], course)
    run([str(BIN / "casekit"), "handouts", "bench", "-C", str(course)], course)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=16, help="sessions (default 16)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        plans = make_course(course, args.n)
        ours = casekit(course)
        theirs = baseline(course, plans)
    n = args.n
    print(f"\n{n} sessions on {os.cpu_count()} cores (build + HTML handouts)")
    print(f"{'':34}{'total s':>9}{'s/session':>11}")
    print(f"{'papermill CLI + nbconvert CLI':34}{theirs:9.1f}{theirs / n:11.2f}")
    print(f"{'casekit build + handouts':34}{ours:9.1f}{ours / n:11.2f}")
    print(f"ratio (baseline / casekit): {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
