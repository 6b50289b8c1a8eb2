"""otter-grader's master notebook format, current (raw-cell) and older (markdown-block).

Current format: raw cells delimit blocks, each starting with a comment line:
``# ASSIGNMENT CONFIG`` (YAML), ``# BEGIN QUESTION`` (YAML: ``name``,
``points``, ``manual``, ...) … ``# END QUESTION``, and inside a question
``# BEGIN/END SOLUTION``, ``# BEGIN/END TESTS``, ``# BEGIN/END PROMPT``.
A test cell whose first line is ``# HIDDEN`` is hidden; a leading
triple-quoted string opened with ``# BEGIN TEST CONFIG`` and closed with
``# END TEST CONFIG`` holds its ``points``/``hidden``. Tests are OK-format by default (the cell's output in
the master notebook is the expected output) or, with ``tests: {ok_format:
false}``, exception-based (a ``test_*`` function, called with ``# IGNORE``).

Older format: a markdown cell holding a fenced ``BEGIN QUESTION`` YAML block,
then the solution cell, then test cells starting ``## Test ##`` or
``## Hidden Test ##``; a manual question's solution is a markdown cell with a
bold ``SOLUTION`` line.

Both become: description cells as they are, ``ask.code`` + a ``solution``
cell (otter's ``# SOLUTION`` line markers become ``BEGIN/END SOLUTION``
regions) + one ``@test`` per test cell with otter's resolved points, or
``ask.essay`` for manual questions with the solution as a teaching note.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kit.importers import (
    ImportResult,
    Note,
    copy_cell,
    dropped_tags,
    header_cells,
    new_notebook,
    num,
    prompt_from,
    question_id,
    read_source,
    refuse_overwrite,
    tagged,
    write_imported,
)
from kit.importers.otter_tests import (
    DOCTEST_IMPORT,
    Case,
    read_case,
    resolve_points,
    stored_output,
    test_cells,
)
from kit.messages import t as say
from kit.notebooks import source
from kit.problems import CourseError, Problem

TOOL = "otter"
DELIM = re.compile(
    r"^\s*#\s*(ASSIGNMENT CONFIG|BEGIN QUESTION|END QUESTION|BEGIN SOLUTION|END SOLUTION|BEGIN TESTS|END TESTS|BEGIN PROMPT|END PROMPT)\s*$",
    re.I,
)
TEST_CONFIG = re.compile(
    r"^\s*(\"\"\"|\'\'\')\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)^\s*\1\s*;?\s*#\s*END TEST CONFIG[^\n]*\n?",
    re.S | re.M,
)
V0_ASSIGNMENT = re.compile(r"```[^\n]*\n\s*BEGIN ASSIGNMENT\s*\n(.*?)```", re.S)
V0_QUESTION = re.compile(r"```[^\n]*\n\s*BEGIN QUESTION\s*\n(.*?)```", re.S)
V0_TEST = re.compile(r"^\s*##\s*(hidden\s+)?test\s*##\s*\n?", re.I)
V0_IGNORE = re.compile(r"^\s*##\s*ignore\s*##", re.I)
MD_SOLUTION = re.compile(r"^\s*(<strong>|\*\*)solution:?(</strong>|\*\*)", re.I | re.M)
PROMPT_BLOCK = re.compile(
    r"^([ \t]*)(\"\"\"|\'\'\')\s*#\s*BEGIN PROMPT\s*\n(.*?)^[ \t]*\2\s*;?\s*#\s*END PROMPT[^\n]*\n?",
    re.S | re.M,
)


class Question:
    """One otter question, whichever format it came from."""

    def __init__(self, config: dict[str, Any], where: str):
        self.config = config
        self.where = where
        self.description: list[Any] = []
        self.prompt: list[Any] = []
        self.solution: list[Any] = []
        self.tests: list[Any] = []  # (i, cell, hidden: bool | None) in order

    @property
    def name(self) -> str:
        return str(self.config.get("name") or "")

    def add(self, block: str | None, i: int, cell: Any) -> None:
        """A cell of the question, in its ``block`` (SOLUTION, TESTS, PROMPT; None: description)."""
        if block == "SOLUTION":
            self.solution.append((i, cell))
        elif block == "TESTS":
            self.tests.append((i, cell, None))  # hidden or not: the cell's own first line says
        elif block == "PROMPT":
            self.prompt.append((i, cell))
        else:
            self.description.append((i, cell))


class _Reading:
    """A master notebook as it is read cell by cell: config, items so far, the open question."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.config: dict[str, Any] = {}
        self.items: list[Any] = []  # plain cells (i, cell) and Questions, in notebook order
        self.q: Question | None = None  # the open question
        self.block: str | None = None  # raw-cell format: the open question's open block
        self.stage = ""  # markdown-block format: answer | solution | tests, after the question

    def yaml(self, text: str, where: str) -> dict[str, Any]:
        return _yaml(text, where, self.problems, self.file)


def _first_line(cell: Any) -> str:
    return (source(cell).strip().splitlines() or [""])[0]


def _delimiter(cell: Any) -> str | None:
    if cell.get("cell_type") != "raw":
        return None
    m = DELIM.match(_first_line(cell))
    return m.group(1).upper() if m else None


def _yaml(text: str, where: str, problems: list[Problem], file: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        problems.append(
            Problem(
                file,
                where,
                "YAML",
                say("import.otter.bad_yaml", error=e),
                say("import.otter.bad_yaml_fix"),
            )
        )
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(file, where, "YAML", say("import.otter.yaml_not_mapping")))
        return {}
    return data


# ---------------------------------------------------------------- the raw-cell format


def _v1_config(r: _Reading, d: str, body: str, where: str) -> None:
    """``# ASSIGNMENT CONFIG``: the assignment's YAML settings."""
    r.config = r.yaml(body, where)


def _v1_begin_question(r: _Reading, d: str, body: str, where: str) -> None:
    """``# BEGIN QUESTION``: a new question, its YAML settings (a name at least)."""
    if r.q is not None:
        r.problems.append(
            Problem(
                r.file,
                where,
                message=say("import.otter.nested"),
                fix=say("import.otter.nested_fix"),
            )
        )
    q = Question(r.yaml(body, where), where)
    if not q.name:
        r.problems.append(
            Problem(
                r.file, where, "name", say("import.otter.no_name"), say("import.otter.no_name_fix")
            )
        )
    r.items.append(q)
    r.q, r.block = q, None


def _v1_end_question(r: _Reading, d: str, body: str, where: str) -> None:
    r.q, r.block = None, None


def _v1_begin_block(r: _Reading, d: str, body: str, where: str) -> None:
    """``# BEGIN SOLUTION``, ``# BEGIN TESTS``, ``# BEGIN PROMPT``: a block of the open question."""
    if r.q is None:
        r.problems.append(
            Problem(
                r.file,
                where,
                message=say("import.otter.outside", delimiter=d),
                fix=say("import.otter.outside_fix"),
            )
        )
    r.block = d.split()[1]


def _v1_end_block(r: _Reading, d: str, body: str, where: str) -> None:
    r.block = None


#: What each delimiter (a raw cell's first line, upper-cased) does to the reading.
V1_DELIMITERS: dict[str, Callable[[_Reading, str, str, str], None]] = {
    "ASSIGNMENT CONFIG": _v1_config,
    "BEGIN QUESTION": _v1_begin_question,
    "END QUESTION": _v1_end_question,
    "BEGIN SOLUTION": _v1_begin_block,
    "BEGIN TESTS": _v1_begin_block,
    "BEGIN PROMPT": _v1_begin_block,
    "END SOLUTION": _v1_end_block,
    "END TESTS": _v1_end_block,
    "END PROMPT": _v1_end_block,
}


def parse_v1(nb: Any, file: str) -> tuple[dict[str, Any], list[Any], list[Problem]]:
    """Raw-cell format → (assignment config, items: cells and Questions in order, problems)."""
    r = _Reading(file)
    for i, cell in enumerate(nb.cells):
        d = _delimiter(cell)
        if d is not None:
            body = "\n".join(source(cell).splitlines()[1:])
            V1_DELIMITERS[d](r, d, body, say("where.cell", n=i + 1))
        elif r.q is None:
            r.items.append((i, cell))
        else:
            r.q.add(r.block, i, cell)
    if r.q is not None:
        r.problems.append(
            Problem(
                file,
                r.q.where,
                message=say("import.otter.unclosed", name=r.q.name),
                fix=say("import.otter.unclosed_fix"),
            )
        )
    return r.config, r.items, r.problems


# ---------------------------------------------------------------- the markdown-block format


def _v0_assignment(r: _Reading, i: int, cell: Any) -> bool:
    """A markdown cell with a fenced ``BEGIN ASSIGNMENT`` block: the assignment's settings."""
    text = source(cell)
    if cell.get("cell_type") != "markdown" or "BEGIN ASSIGNMENT" not in text:
        return False
    m = V0_ASSIGNMENT.search(text)
    r.config = r.yaml(m.group(1) if m else "", say("where.cell", n=i + 1))
    return True


def _v0_question(r: _Reading, i: int, cell: Any) -> bool:
    """A markdown cell with a fenced ``BEGIN QUESTION`` block opens a question; its text describes it."""
    text = source(cell)
    m = V0_QUESTION.search(text) if cell.get("cell_type") == "markdown" else None
    if not m:
        return False
    where = say("where.cell", n=i + 1)
    q = Question(r.yaml(m.group(1), where), where)
    r.items.append(q)
    rest = V0_QUESTION.sub("", text).strip()
    if rest:
        q.description.append((i, _with_source(cell, rest)))
    r.q, r.stage = q, "answer"
    return True


def _v0_test(r: _Reading, i: int, cell: Any) -> bool:
    """A code cell headed ``## Test ##`` or ``## Hidden Test ##`` in a question: one test."""
    text = source(cell)
    head = V0_TEST.match(text) if cell.get("cell_type") == "code" else None
    if r.q is None or not head:
        return False
    hidden = bool(head.group(1))
    r.q.tests.append((i, _with_source(cell, V0_TEST.sub("", text, count=1)), hidden))
    r.stage = "tests"
    return True


def _v0_answer(r: _Reading, i: int, cell: Any) -> bool:
    """Right after the question: its solution, or a manual question's prompt."""
    q = r.q
    if q is None or r.stage != "answer":
        return False
    manual = bool(q.config.get("manual"))
    if cell.get("cell_type") == "code" or (manual and MD_SOLUTION.search(source(cell))):
        q.solution.append((i, cell))
        r.stage = "solution"
        return True
    if manual and cell.get("cell_type") == "markdown":
        q.prompt.append((i, cell))
        return True
    return False


#: The markdown-block format's constructs, tried in order on each cell; a cell none takes
#: closes the open question and stays as it is.
V0_READERS: tuple[Callable[[_Reading, int, Any], bool], ...] = (
    _v0_assignment,
    _v0_question,
    _v0_test,
    _v0_answer,
)


def parse_v0(nb: Any, file: str) -> tuple[dict[str, Any], list[Any], list[Problem]]:
    """Markdown-block format → the same items as ``parse_v1``."""
    r = _Reading(file)
    for i, cell in enumerate(nb.cells):
        if not any(read(r, i, cell) for read in V0_READERS):
            r.q, r.stage = None, ""
            r.items.append((i, cell))
    return r.config, r.items, r.problems


def _with_source(cell: Any, text: str) -> dict[str, Any]:
    out = dict(cell)
    out["source"] = text
    return out


def _test_config(code: str) -> tuple[dict[str, Any], str]:
    m = TEST_CONFIG.search(code)
    if not m:
        return {}, code
    try:
        cfg = yaml.safe_load(m.group(2)) or {}
    except yaml.YAMLError:
        cfg = {}
    return (cfg if isinstance(cfg, dict) else {}), TEST_CONFIG.sub("", code, count=1)


def _solution_regions(code: str) -> str:
    """otter's solution syntax → casekit's ``BEGIN/END SOLUTION`` regions (prompts become comments)."""
    code = PROMPT_BLOCK.sub(
        lambda m: "".join(
            f"{m.group(1)}# {ln.strip()}\n" for ln in m.group(3).splitlines() if ln.strip()
        ),
        code,
    )
    code = re.sub(r"(#\s*BEGIN SOLUTION)\s+NO PROMPT\s*$", r"\1", code, flags=re.M)
    out = []
    for ln in code.splitlines():
        m = re.match(r"^([ \t]*)(.*?)\s*#\s*(SOLUTION NO PROMPT|SOLUTION|SEED)\s*$", ln)
        if m and m.group(2):
            ind = m.group(1)
            out += [f"{ind}# BEGIN SOLUTION", f"{ind}{m.group(2)}", f"{ind}# END SOLUTION"]
        else:
            out.append(ln)
    return "\n".join(out) + "\n"


#: assignment settings the import carries (the others are listed in the report)
CARRIED = {"name", "tests", "files", "student_files", "autograder_files", "seed"}
#: question settings the import carries
QUESTION_CARRIED = {"name", "points", "manual", "all_or_nothing"}


def _points_total(points: Any) -> float:
    if isinstance(points, list):
        return float(sum(points))
    return float(points) if isinstance(points, int | float) else 1.0


class _Converter:
    """Builds the casekit cells of one master notebook (one concern per method)."""

    def __init__(self, config: dict[str, Any], language: str):
        tests = config.get("tests")
        self.ok_format = bool(tests.get("ok_format", True)) if isinstance(tests, dict) else True
        self.language = language
        self.notes: list[Note] = []
        self.out: list[Any] = []
        self.taken: set[str] = set()
        self.qids: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.answer_cells: dict[str, list[str]] = {}  # qid → ids of the master's answer cells

    def say_in(self, key: str) -> str:  # generated content speaks the course's language
        return say(key, self.language)

    def plain(self, i: int, cell: Any) -> None:
        where = say("where.cell", n=i + 1)
        text = source(cell)
        for tag in dropped_tags(cell):
            self.notes.append(Note(where, say("import.tag_dropped", tag=tag)))
        if cell.get("cell_type") == "raw":
            self.notes.append(Note(where, say("import.otter.raw")))
        elif V0_IGNORE.match(text):
            self.notes.append(Note(where, say("import.otter.ignore")))
        elif re.search(r"\botter\b|grader\.check", text) and cell.get("cell_type") == "code":
            self.notes.append(Note(where, say("import.otter.own_calls")))
        else:
            self.out.append(copy_cell(cell))

    def question(self, q: Question) -> None:
        qid = question_id(q.name, self.taken, f"q{len(self.qids) + 1}")
        self.qids[q.name] = qid
        unused = sorted(k for k in q.config if k not in QUESTION_CARRIED)
        if unused:
            self.notes.append(
                Note(
                    q.where,
                    say("import.otter.question_unused", name=q.name, settings=", ".join(unused)),
                )
            )
        described = [cell for _, cell in q.description]
        self.out += [copy_cell(cell) for cell in described]
        prompt = prompt_from(described, len(described), self.say_in("import.answer_prompt"))
        if q.config.get("manual"):
            self.manual(q, qid, prompt)
        elif not q.solution:
            self.notes.append(Note(q.where, say("import.otter.no_solution", name=q.name)))
        elif not q.tests:
            self.notes.append(Note(q.where, say("import.otter.no_tests", name=q.name), lost=False))
            self.manual(q, qid, prompt)
        else:
            self.autograded(q, qid, prompt)

    def manual(self, q: Question, qid: str, prompt: str) -> None:
        self.kinds[qid] = "essay"
        pts = num(_points_total(q.config.get("points", 1)))
        rubric = [
            {"id": "points", "text": f"{self.say_in('import.by_hand')} ({q.name})", "points": pts}
        ]
        self.out += [copy_cell(cell) for _, cell in q.prompt]
        self.out.append(tagged("code", f"ask.essay({qid!r}, {prompt!r}, rubric={rubric!r})"))
        self.answer_cells[qid] = [c.get("id") for _, c in q.prompt + q.solution if c.get("id")]
        for i, cell in q.solution:
            if cell.get("cell_type") == "code":
                self.out.append(
                    tagged("code", _solution_regions(source(cell)), "teaching-note", like=cell)
                )
                where = say("import.otter.where", n=i + 1, name=q.name)
                self.notes.append(Note(where, say("import.otter.manual_code"), lost=False))
            elif "otter_include" in ((cell.get("metadata") or {}).get("tags") or []):
                # otter keeps an otter_include solution in the students' copy: trainees see it
                self.out.append(copy_cell(cell))
                where = say("import.otter.where", n=i + 1, name=q.name)
                self.notes.append(Note(where, say("import.otter.include"), lost=False))
            else:
                self.out.append(tagged("markdown", source(cell), "teaching-note", like=cell))
        if q.tests and q.config.get("manual"):
            self.notes.append(Note(q.where, say("import.otter.manual_tests", name=q.name)))

    def cases(self, q: Question) -> list[Case]:
        """The question's test cases, each test cell's config read, with what did not carry over."""
        cases = []
        for i, cell, hidden in q.tests:
            cfg, code = _test_config(source(cell))
            case = read_case(i, cell, hidden, cfg, code)
            cases.append(case)
            where = say("import.otter.where", n=i + 1, name=q.name)
            if case.success:
                self.notes.append(
                    Note(where, say("import.otter.success_message", text=case.success))
                )
            if self.ok_format and stored_output(cell) is None:
                self.notes.append(Note(where, say("import.otter.no_output"), lost=False))
        return cases

    def autograded(self, q: Question, qid: str, prompt: str) -> None:
        """An autograded question: ``ask.code`` of the resolved points, one solution, its tests."""
        self.kinds[qid] = "code"
        cases = self.cases(q)
        points = resolve_points(q.config.get("points"), [c.points for c in cases])
        self.out.append(
            tagged("code", f"ask.code({qid!r}, {prompt!r}, points={num(sum(points))!r})")
        )
        code_cells = [c for _, c in q.solution if c.get("cell_type") == "code"]
        self.answer_cells[qid] = [c.get("id") for c in code_cells if c.get("id")]
        joined = "\n\n".join(_solution_regions(source(c)).rstrip("\n") for c in code_cells) + "\n"
        self.out.append(
            tagged("code", joined, "solution", like=code_cells[0] if code_cells else None)
        )
        if len(code_cells) > 1:
            note = say("import.otter.joined", n=len(code_cells), name=q.name)
            self.notes.append(Note(q.where, note, lost=False))
        if re.search(r"#\s*SEED\s*$", joined, re.M):
            self.notes.append(Note(q.where, say("import.otter.seed")))
        aon = bool(q.config.get("all_or_nothing"))
        if aon and len(cases) > 1:
            self.notes.append(
                Note(q.where, say("import.otter.all_or_nothing", name=q.name), lost=False)
            )
        self.out += test_cells(
            qid, q.name, cases, points, ok_format=self.ok_format, all_or_nothing=aon
        )


def _config_notes(config: dict[str, Any]) -> list[Note]:
    """The report's lines on the assignment config: each setting not carried over, by name."""
    unused = sorted(k for k in config if k not in CARRIED)
    tests = config.get("tests")
    if isinstance(tests, dict):
        unused += sorted(f"tests.{k}" for k in tests if k != "ok_format")
    if not unused:
        return []
    return [
        Note(
            say("import.otter.config"),
            say("import.otter.config_unused", settings=", ".join(unused)),
        )
    ]


def _seed(config: dict[str, Any], ok_format: bool) -> tuple[str | None, str | None, list[Note]]:
    """otter's ``seed`` → (its variable, the value casekit assigns it, notes) where that fits.

    otter assign rewrites every assignment of ``seed.variable`` (the
    autograder's copy gets ``autograder_value``). With exception-based tests
    the variable follows casekit's ``seed`` parameter (per trainee with
    ``variants = trainee``); OK-format outputs were recorded with
    ``autograder_value``, so there it keeps that value. Intercell seeding (no
    ``variable``) is otter's alone.
    """
    seed = config.get("seed")
    if not isinstance(seed, dict):
        return None, None, []
    where = say("import.otter.config")
    var = seed.get("variable")
    if not isinstance(var, str) or not var.isidentifier():
        return None, None, [Note(where, say("import.otter.seed_intercell"))]
    if ok_format:
        value = seed.get("autograder_value", 0)
        note = say("import.otter.seed_fixed", variable=var, value=value)
        return var, repr(value), [Note(where, note, lost=False)]
    note = say("import.otter.seed_variants", variable=var)
    return var, "seed", [Note(where, note, lost=False)]


def _assign_seed(cells: list[Any], var: str, value: str) -> None:
    """Every ``var = …`` line of the code cells becomes ``var = value``, as otter assign does."""
    line = re.compile(rf"^(\s*){re.escape(var)}\s*=(?!=).*$", re.M)
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" not in cell.metadata.get("tags", []):
            cell["source"] = line.sub(lambda m: f"{m.group(1)}{var} = {value}", source(cell))


def convert(
    nb: Any, *, name: str, rel_source: str, language: str, file: str
) -> tuple[Any, list[Note], dict[str, str], dict[str, Any]]:
    """One otter master notebook → (casekit notebook, notes, {qid: kind}, assignment config)."""
    v1 = any(_delimiter(c) for c in nb.cells)
    config, items, problems = (parse_v1 if v1 else parse_v0)(nb, file)
    if problems:
        raise CourseError(problems)
    conv = _Converter(config, language)
    conv.notes += _config_notes(config)
    conv.out = header_cells(name, language)
    seed_var, seed_value, seed_notes = _seed(config, conv.ok_format)
    conv.notes += seed_notes
    if conv.ok_format:
        conv.out.append(tagged("code", DOCTEST_IMPORT, "locked"))
    for item in items:
        if isinstance(item, Question):
            conv.question(item)
        else:
            conv.plain(*item)
    if seed_var and seed_value:
        _assign_seed(conv.out, seed_var, seed_value)
    record = {
        "tool": TOOL,
        "source": rel_source,
        "notebook": Path(rel_source).stem,
        "assignment": str(config.get("name") or Path(rel_source).stem),
        "questions": conv.qids,
        "answer_cells": conv.answer_cells,
        "format": "v1" if v1 else "v0",
    }
    return new_notebook(nb, conv.out, record), conv.notes, conv.kinds, config


def _copy_files(
    config: dict[str, Any], src_dir: Path, out_dir: Path, notes: list[Note]
) -> list[Path]:
    """Copy the config's ``files``, ``autograder_files`` and ``student_files`` beside the session."""
    copied = []
    for key in ("files", "autograder_files", "student_files"):
        listed = config.get(key) or []
        for rel in listed if isinstance(listed, list) else [listed]:
            src = (src_dir / str(rel)).resolve()
            where = f"{key}: {rel}"
            if not src.is_relative_to(src_dir.resolve()) or src.is_symlink():
                notes.append(Note(where, say("import.otter.file_outside")))
                continue
            if not src.exists():
                notes.append(Note(where, say("import.otter.file_missing", path=src)))
                continue
            dest = out_dir / src.relative_to(src_dir.resolve())
            if dest.exists():
                notes.append(Note(where, say("import.not_copied", dest=dest)))
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest, symlinks=False)
            else:
                shutil.copy2(src, dest)
            copied.append(dest)
            if key == "autograder_files":
                notes.append(Note(where, say("import.otter.autograder_files"), lost=False))
    return copied


def import_path(path: Path, *, out_dir: Path, language: str, force: bool) -> ImportResult:
    """Import one otter master notebook (and the files its config lists)."""
    if path.is_dir():
        raise CourseError(
            [
                Problem(
                    str(path),
                    message=say("import.otter.folder"),
                    fix=say("import.otter.folder_fix"),
                )
            ]
        )
    nb = read_source(path)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-") or "imported"
    casekit_nb, notes, kinds, config = convert(
        nb, name=name, rel_source=path.name, language=language, file=str(path)
    )
    if not kinds and not any(_delimiter(c) for c in nb.cells):
        raise CourseError(
            [
                Problem(
                    str(path),
                    message=say("import.otter.none"),
                    fix=say("import.otter.none_fix"),
                )
            ]
        )
    refuse_overwrite(out_dir, [name], force=force)
    res = ImportResult()
    res.written += _copy_files(config, path.parent, out_dir, notes)
    write_imported(res, out_dir, name, casekit_nb, notes, kinds, force=force)
    return res
