"""Commands import only what they use: checked on the import graph, not with a clock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# What `casekit --help` must never pay for (each costs a few hundred ms or more).
HEAVY = ("pandas", "numpy", "nbconvert", "nbformat", "matplotlib", "papermill", "jupyter_client")


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (SystemExit allowed)."""
    script = textwrap.dedent(
        """
        import json, sys
        try:
        {code}
        except SystemExit:
            pass
        print("\\n" + json.dumps(sorted(sys.modules)))
        """
    ).format(code=textwrap.indent(textwrap.dedent(code), "    "))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_imports_no_tables_notebooks_or_plots():
    mods = _modules_after(
        """
        sys.argv = ["casekit", "--help"]
        from kit.cli import main
        main()
        """
    )
    assert "typer" in mods  # the help really was rendered by the command line
    assert not _heavy(mods), _heavy(mods)


def test_a_command_help_imports_none_either():
    mods = _modules_after(
        """
        sys.argv = ["casekit", "build", "--help"]
        from kit.cli import main
        main()
        """
    )
    assert not _heavy(mods), _heavy(mods)


def test_help_reads_the_course_language_without_loading_the_course():
    mods = _modules_after(
        """
        import kit
        from pathlib import Path
        sys.argv = ["casekit", "build", "--help", "-C", str(Path(kit.__file__).parents[1])]
        from kit.cli import main
        main()
        """
    )
    assert "kit.language" in mods  # the course's language was looked up...
    assert "kit.course" not in mods  # ...from course.toml alone, no validated models


def test_nbformat_does_not_compile_the_iri_grammars_until_one_is_checked():
    mods = _modules_after(
        """
        import kit, nbformat
        nbformat.validate(nbformat.v4.new_notebook())
        """
    )
    assert "nbformat" in mods
    assert "rfc3987_syntax.syntax_helpers" not in mods
    # the stand-in is transparent: jsonschema's iri format check still decides, on first use
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import kit, nbformat; from jsonschema import FormatChecker as F; "
            "print(F().conforms('https://例子.测试/路径', 'iri'), F().conforms('no iri', 'iri'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["True", "False"]


def test_a_build_with_nothing_to_do_reads_no_notebook_and_starts_no_executor(course):
    from kit.builder import build

    assert build(course, "c1", progress=False).ok
    mods = _modules_after(
        f"""
        from kit.builder import build
        r = build({str(course)!r}, "c1", progress=False)
        assert r.ok and [b.cached for b in r.sessions] == [True], r
        """
    )
    assert "kit.builder" in mods
    assert not _heavy(mods) and "kit.execution.executor" not in mods, _heavy(mods)


def test_what_a_build_with_nothing_to_do_must_notice(course):
    import os

    from kit.builder import build

    first = build(course, "c1", progress=False)
    assert first.ok and not first.sessions[0].cached
    schedule = course / "cohorts/c1/schedule.csv"
    # touched, not changed: the full path runs, compares contents and reuses the editions
    os.utime(schedule, ns=(schedule.stat().st_atime_ns, schedule.stat().st_mtime_ns + 10**9))
    assert [b.cached for b in build(course, "c1", progress=False).sessions] == [True]
    # a changed parameter rebuilds
    schedule.write_text(schedule.read_text("utf-8").replace("0.05", "0.06"), "utf-8")
    assert [b.cached for b in build(course, "c1", progress=False).sessions] == [False]
    # an edition someone deleted is written again
    (course / "build/c1/trainee/coop.ipynb").unlink()
    again = build(course, "c1", progress=False)
    assert [b.cached for b in again.sessions] == [False] and again.sessions[0].trainee.exists()
    # a data file beside the notebooks counts as an input too: the full path runs (and renews
    # the stamp), finds the editions current and keeps them
    before = _stamp(course)
    (course / "cases/extra.csv").write_text("a\n1\n", "utf-8")
    assert build(course, "c1", progress=False).sessions[0].cached
    assert _stamp(course) != before


def _stamp(course) -> str:
    return json.loads((course / "build/c1/.stamp.json").read_text("utf-8"))["inputs"]
