"""Benchmark: casekit's executor against the ways users would otherwise run notebooks.

N small parameterised notebooks (a parameters cell, a pandas table, a computation),
each run with:

  (a) the papermill CLI, one subprocess per notebook (what a shell loop does);
  (b) the papermill Python API in one process, default engine (nbclient + ipykernel);
  (c) casekit ``run_many`` (warm zygote, one forked child per notebook), counting the
      zygote's start-up; (c') the same batch again on the warm zygote; (c'') one worker;
  (d) stdlib ``multiprocessing`` forkserver with the same modules preloaded and a
      fresh InteractiveShell per child, no output capture: the lower bound of the
      alternative to our zygote (why the zygote pre-builds the shell).

Usage: .venv/bin/python bench/bench_execute.py [N] [--skip-cli]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

CELLS = [
    ("seed = 0\ncounty = 'Lishi'", ["parameters"]),
    ("import pandas as pd\nimport numpy as np", []),
    (
        "rng = np.random.default_rng(seed)\n"
        "df = pd.DataFrame({'township': [f'T{i}' for i in range(8)],\n"
        "                   'cases': rng.integers(10, 100, 8),\n"
        "                   'resolved': rng.integers(0, 10, 8)})\n"
        "df",
        [],
    ),
    ("rate = (df.resolved / df.cases).mean()\nprint(county, round(rate, 4))\nrate", []),
]


def make_notebook() -> nbformat.NotebookNode:
    """The benchmark notebook."""
    cells = [new_markdown_cell("# Case exhibit")]
    cells += [new_code_cell(src, metadata={"tags": tags}) for src, tags in CELLS]
    return new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )


def bench_cli(src: Path, out: Path, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        subprocess.run(
            [str(BIN / "papermill"), str(src), str(out / f"cli-{i}.ipynb"), "-p", "seed", str(i)]
            + ["--no-progress-bar", "--log-level", "ERROR"],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - t


def bench_api(src: Path, out: Path, n: int) -> float:
    import papermill

    t = time.perf_counter()
    for i in range(n):
        papermill.execute_notebook(
            str(src), str(out / f"api-{i}.ipynb"), parameters={"seed": i}, progress_bar=False
        )
    return time.perf_counter() - t


def bench_casekit(nb, n: int, workers: int | None) -> float:
    from kit.execution.executor import Job, run_many

    jobs = [Job(f"nb{i}", nb, parameters={"seed": i}) for i in range(n)]
    t = time.perf_counter()
    res = run_many(jobs, workers=workers, progress=False)
    elapsed = time.perf_counter() - t
    bad = [r.name for r in res if not r.ok]
    assert not bad, bad
    return elapsed


def _fs_child(sources: list[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the child exits right after

    shell = InteractiveShell.instance()
    for s in sources:
        shell.run_cell(s)


def bench_forkserver(n: int) -> tuple[float, float]:
    ctx = mp.get_context("forkserver")
    # nbformat too: every forkserver child re-imports this script (__main__), and
    # nbformat alone costs ~0.8 s to import here.
    ctx.set_forkserver_preload(
        ["IPython", "IPython.core.interactiveshell", "pandas", "numpy", "nbformat"]
    )
    sources = [src.replace("seed = 0", "seed = 1") for src, _ in CELLS]
    t = time.perf_counter()
    p = ctx.Process(target=_fs_child, args=(sources,))
    p.start()
    p.join()
    first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n):
        p = ctx.Process(target=_fs_child, args=(sources,))
        p.start()
        p.join()
    return first, time.perf_counter() - t


def main() -> None:
    """Run the benchmark and print a table."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 20
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nb = make_notebook()
        src = tmp / "case.ipynb"
        nbformat.write(nb, src)
        if "--skip-cli" not in sys.argv:
            rows.append(("papermill CLI, subprocess per notebook", bench_cli(src, tmp, n)))
        rows.append(("papermill API, one process, nbclient", bench_api(src, tmp, n)))
        cold = bench_casekit(nb, n, None)
        rows.append((f"casekit run_many, {os.cpu_count()} workers, incl. zygote start", cold))
        rows.append(
            (f"casekit run_many, {os.cpu_count()} workers, warm", bench_casekit(nb, n, None))
        )
        rows.append(("casekit run_many, 1 worker, warm", bench_casekit(nb, n, 1)))
        fs_first, fs = bench_forkserver(n)
        rows.append(("stdlib forkserver + fresh shell (lower bound), 1 at a time", fs))

    base = rows[0][1] / n
    print(f"\n{n} notebooks, {os.cpu_count()} cores; forkserver first child {fs_first:.2f} s\n")
    print(f"{'method':62s} {'total s':>8s} {'s/nb':>8s} {'vs first':>9s}")
    for name, total in rows:
        per = total / n
        print(f"{name:62s} {total:8.2f} {per:8.3f} {base / per:8.1f}x")


if __name__ == "__main__":
    main()
