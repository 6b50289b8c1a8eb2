"""``build``'s summary line counts failed sessions, not their causes (#20)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from conftest import run_cli


def _untag(path: Path, *indices: int) -> None:
    nb = nbformat.read(str(path), as_version=4)
    for i in indices:
        nb.cells[i].metadata["tags"] = []
    nbformat.write(nb, str(path))


def test_build_counts_two_failed_sessions_as_two(course: Path) -> None:
    # two sessions refused; the first for two reasons (both key cells lose their tag)
    shutil.copy(course / "cases/coop.ipynb", course / "cases/coop2.ipynb")
    schedule = course / "cohorts/c1/schedule.csv"
    lines = schedule.read_text("utf-8").splitlines()
    lines.append(
        lines[1].replace("coop,cases/coop.ipynb,2026-03-02", "coop2,cases/coop2.ipynb,2026-03-09")
    )
    schedule.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _untag(course / "cases/coop.ipynb", 5, 7)
    _untag(course / "cases/coop2.ipynb", 5)

    r = run_cli("build", "c1", "-C", str(course), "--lang", "en")
    assert r.returncode == 1, r.stdout + r.stderr
    causes = [line for line in r.stderr.splitlines() if line.startswith("✗")]
    assert len(causes) == 3, r.stderr  # every cause is still listed
    summary = next(line for line in r.stdout.splitlines() if "built" in line)
    assert "0 built, 0 unchanged, 2 failed" in summary, summary
