"""Benchmark: the sample course's build with the proof of its solutions, against the build without it.

``casekit build`` now grades the instructor's solutions through the sandboxed
judge before it writes a session (``kit.proofs``).  This measures what that
costs, in one run on one machine: ``casekit build <cohort> --force`` of a copy
of the sample course with this tree's code (proofs on), against the same
command with the code of a git ref without proofs (``main`` by default: its
``kit`` package taken out with ``git archive`` and put first on
``PYTHONPATH``).  The two alternate, after one warm-up run each; the figure is
the ratio of the medians (the issue asks for at most 1.3).

    python bench/bench_proof.py [--cohort 2026-spring] [--repeat 5] [--baseline main]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_course(dst: Path) -> None:
    """The sample course's inputs (no build folder, no state)."""
    for part in ("course.toml", "catalog", "cases", "exercises", "cohorts"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)


def baseline_tree(ref: str, dst: Path) -> Path:
    """The ``kit`` package as it is at ``ref`` (the build before proofs)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "kit"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dst, filter="data")
    return dst


def build_seconds(course: Path, cohort: str, pythonpath: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    cmd = [sys.executable, "-m", "kit", "build", cohort, "-C", str(course), "--force"]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=course)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", default="2026-spring")
    ap.add_argument("--repeat", type=int, default=5, help="timed builds of each (after a warm-up)")
    ap.add_argument("--baseline", default="main", help="git ref of the build without proofs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ours_course, theirs_course = base / "ours", base / "theirs"
        for c in (ours_course, theirs_course):
            c.mkdir()
            copy_course(c)
        theirs_code = baseline_tree(args.baseline, base / "baseline")
        sides = {"with proofs (this tree)": (ours_course, ROOT),
                 f"without ({args.baseline})": (theirs_course, theirs_code)}  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in sides}
        for course, code in sides.values():
            build_seconds(course, args.cohort, code)  # warm-up: file cache, fonts, kernels
        for _ in range(args.repeat):
            for name, (course, code) in sides.items():
                times[name].append(build_seconds(course, args.cohort, code))
        proven = list((ours_course / "build" / args.cohort / "instructor").glob("*.ipynb"))
    print(
        f"\ncasekit build {args.cohort} --force, {args.repeat} runs each on {os.cpu_count()} cores"
    )
    print(f"{'':30}{'median s':>10}{'min s':>8}{'max s':>8}")
    for name, ts in times.items():
        print(f"{name:30}{statistics.median(ts):10.2f}{min(ts):8.2f}{max(ts):8.2f}")
    with_p, without = (statistics.median(ts) for ts in times.values())
    print(f"ratio (with proofs / without): {with_p / without:.2f}x  (limit 1.30x)")
    print(f"sessions built: {len(proven)}")


if __name__ == "__main__":
    main()
