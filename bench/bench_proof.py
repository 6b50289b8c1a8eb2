"""Benchmark: the sample course's build with the proof of its solutions, against the build without it.

``casekit build`` now grades the instructor's solutions through the sandboxed
judge before it writes a session (``kit.grading.proofs``).  This measures what that
costs, in one run on one machine: ``casekit build <cohort> --force`` of a copy
of the sample course with this tree's code (proofs on), against the same
command with the code of a git ref without proofs (``bb89535`` by default, the
last commit before the proof landed: its
``kit`` package taken out with ``git archive`` and put first on
``PYTHONPATH``).  The two alternate, after one warm-up run each; the figure is
the ratio of the medians (the issue asks for at most 1.3).

Then, with ``--trainees N`` (default 30), the same for one session with a
variant per trainee (green-2, whose code questions are proven for each
trainee's own data: ``bench_build.make_variant_cohort``).

    python bench/bench_proof.py [--cohort 2026-spring] [--repeat 5] [--baseline bb89535] [--trainees 30]
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


def compare(
    sides: dict[str, tuple[Path, Path]], cohort: str, repeat: int
) -> dict[str, list[float]]:
    """Alternating timed builds of each side, after one warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for course, code in sides.values():
        build_seconds(course, cohort, code)  # warm-up: file cache, fonts, kernels
    for _ in range(repeat):
        for name, (course, code) in sides.items():
            times[name].append(build_seconds(course, cohort, code))
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print(f"{'':30}{'median s':>10}{'min s':>8}{'max s':>8}")
    for name, ts in times.items():
        print(f"{name:30}{statistics.median(ts):10.2f}{min(ts):8.2f}{max(ts):8.2f}")
    with_p, without = (statistics.median(ts) for ts in times.values())
    print(f"ratio (with proofs / without): {with_p / without:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", default="2026-spring")
    ap.add_argument("--repeat", type=int, default=5, help="timed builds of each (after a warm-up)")
    ap.add_argument(
        "--baseline", default="bb89535", help="git ref of the build without proofs (#18)"
    )
    ap.add_argument("--trainees", type=int, default=30, help="trainees with own variants (0: skip)")
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
        times = compare(sides, args.cohort, args.repeat)
        proven = list((ours_course / "build" / args.cohort / "instructor").glob("*.ipynb"))
        report(
            f"casekit build {args.cohort} --force ({len(proven)} sessions), "
            f"{args.repeat} runs each on {os.cpu_count()} cores (limit 1.30x)",
            times,
        )
        if args.trainees:
            sys.path.insert(0, str(ROOT / "bench"))
            from bench_build import make_variant_cohort

            for course, _ in sides.values():
                make_variant_cohort(course, args.trainees)
            times = compare(sides, "bench-v", max(1, args.repeat // 2))
            report(
                f"one session with code questions, a variant per trainee: "
                f"{args.trainees + 1} variants, each proven",
                times,
            )


if __name__ == "__main__":
    main()
