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

import ast
import re
from pathlib import Path
from typing import Any

import yaml

from kit.course import CourseError, Problem
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
    source,
    tagged,
    test_cell,
    write_imported,
)
from kit.messages import t as say

TOOL = "otter"
DELIM = re.compile(
    r"^\s*#\s*(ASSIGNMENT CONFIG|BEGIN QUESTION|END QUESTION|BEGIN SOLUTION|END SOLUTION|BEGIN TESTS|END TESTS|BEGIN PROMPT|END PROMPT)\s*$",
    re.I,
)
TEST_CONFIG = re.compile(
    r"^\s*(\"\"\"|\'\'\')\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)^\s*\1\s*;?\s*#\s*END TEST CONFIG[^\n]*\n?",
    re.S | re.M,
)
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
        self.tests: list[Any] = []  # (cell, hidden: bool | None) in order

    @property
    def name(self) -> str:
        return str(self.config.get("name") or "")


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


def parse_v1(nb: Any, file: str) -> tuple[dict[str, Any], list[Any], list[Problem]]:
    """Raw-cell format → (assignment config, items: cells and Questions in order, problems)."""
    problems: list[Problem] = []
    config: dict[str, Any] = {}
    items: list[Any] = []
    q: Question | None = None
    block: str | None = None
    for i, cell in enumerate(nb.cells):
        where = say("where.cell", n=i + 1)
        d = _delimiter(cell)
        body = "\n".join(source(cell).splitlines()[1:])
        if d == "ASSIGNMENT CONFIG":
            config = _yaml(body, where, problems, file)
        elif d == "BEGIN QUESTION":
            if q is not None:
                problems.append(
                    Problem(
                        file,
                        where,
                        message=say("import.otter.nested"),
                        fix=say("import.otter.nested_fix"),
                    )
                )
            q = Question(_yaml(body, where, problems, file), where)
            if not q.name:
                problems.append(
                    Problem(
                        file,
                        where,
                        "name",
                        say("import.otter.no_name"),
                        say("import.otter.no_name_fix"),
                    )
                )
            items.append(q)
            block = None
        elif d == "END QUESTION":
            q, block = None, None
        elif d in ("BEGIN SOLUTION", "BEGIN TESTS", "BEGIN PROMPT"):
            if q is None:
                problems.append(
                    Problem(
                        file,
                        where,
                        message=say("import.otter.outside", delimiter=d),
                        fix=say("import.otter.outside_fix"),
                    )
                )
            block = d.split()[1]
        elif d in ("END SOLUTION", "END TESTS", "END PROMPT"):
            block = None
        elif q is None:
            items.append((i, cell))
        elif block == "SOLUTION":
            q.solution.append((i, cell))
        elif block == "TESTS":
            q.tests.append((i, cell, None))
        elif block == "PROMPT":
            q.prompt.append((i, cell))
        else:
            q.description.append((i, cell))
    if q is not None:
        problems.append(
            Problem(
                file,
                q.where,
                message=say("import.otter.unclosed", name=q.name),
                fix=say("import.otter.unclosed_fix"),
            )
        )
    return config, items, problems


def parse_v0(nb: Any, file: str) -> tuple[dict[str, Any], list[Any], list[Problem]]:
    """Markdown-block format → the same items as ``parse_v1``."""
    problems: list[Problem] = []
    items: list[Any] = []
    config: dict[str, Any] = {}
    q: Question | None = None
    stage = ""
    for i, cell in enumerate(nb.cells):
        where = say("where.cell", n=i + 1)
        text = source(cell)
        if cell.get("cell_type") == "markdown" and "BEGIN ASSIGNMENT" in text:
            m = re.search(r"```[^\n]*\n\s*BEGIN ASSIGNMENT\s*\n(.*?)```", text, re.S)
            config = _yaml(m.group(1) if m else "", where, problems, file)
            continue
        m = V0_QUESTION.search(text) if cell.get("cell_type") == "markdown" else None
        if m:
            q = Question(_yaml(m.group(1), where, problems, file), where)
            items.append(q)
            rest = V0_QUESTION.sub("", text).strip()
            if rest:
                q.description.append((i, _with_source(cell, rest)))
            stage = "answer"
            continue
        test_head = V0_TEST.match(text) if cell.get("cell_type") == "code" else None
        if q is not None and test_head:
            hidden = bool(test_head.group(1))
            q.tests.append((i, _with_source(cell, V0_TEST.sub("", text, count=1)), hidden))
            stage = "tests"
            continue
        if q is not None and stage == "answer":
            manual = bool(q.config.get("manual"))
            if cell.get("cell_type") == "code" or (manual and MD_SOLUTION.search(text)):
                q.solution.append((i, cell))
                stage = "solution"
                continue
            if manual and cell.get("cell_type") == "markdown":
                q.prompt.append((i, cell))
                continue
        q, stage = None, ""
        items.append((i, cell))
    return config, items, problems


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


def resolve_points(question: Any, cases: list[Any]) -> list[float]:
    """Each test case's points by otter's documented rule (question points vs case points)."""
    n = len(cases)
    if isinstance(question, list):
        return [float(p) for p in question] + [0.0] * (n - len(question))
    given = [c for c in cases if c is not None]
    unspecified = n - len(given)
    if question is None:
        if given and any(float(p) for p in given):
            return [float(c) if c is not None else 0.0 for c in cases]
        if given:  # every specified case is worth 0: the question is worth 1
            return (
                [float(c) if c is not None else 1.0 / unspecified for c in cases]
                if unspecified
                else [0.0] * n
            )
        return [1.0 / n] * n
    q = float(question)
    if given:
        rest = (q - sum(float(p) for p in given)) / unspecified if unspecified else 0.0
        return [float(c) if c is not None else rest for c in cases]
    return [q / n] * n


def _expected_output(cell: Any) -> str | None:
    """What an OK-format test cell showed in the master notebook (stdout + the result), or None."""
    outs = cell.get("outputs") or []
    if not outs and cell.get("execution_count") is None:
        return None
    text = []
    for o in outs:
        if o.get("output_type") == "stream" and o.get("name") == "stdout":
            t = o.get("text", "")
            text.append("".join(t) if isinstance(t, list) else t)
        elif o.get("output_type") == "execute_result":
            t = (o.get("data") or {}).get("text/plain", "")
            text.append(("".join(t) if isinstance(t, list) else t) + "\n")
    return "".join(text).strip()


def _ok_test(code: str, expected: str | None) -> str:
    """An OK-format (doctest) test cell as code that raises when its output differs."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code
    lines = code.splitlines()
    last = tree.body[-1]
    head = "\n".join(lines[: last.lineno - 1])
    expr = "\n".join(lines[last.lineno - 1 : last.end_lineno])
    if expected is None:
        return f"{head}\nassert ({expr.strip()}), 'expected a true result'\n"
    return (
        "import contextlib as _ck_cl, io as _ck_io\n"
        "_ck_out = _ck_io.StringIO()\n"
        "with _ck_cl.redirect_stdout(_ck_out):\n"
        + "".join(f"    {ln}\n" for ln in head.splitlines() if ln.strip())
        + f"    _ck_value = ({expr.strip()})\n"
        "    if _ck_value is not None:\n"
        "        print(repr(_ck_value))\n"
        f"assert _ck_out.getvalue().strip() == {expected!r}, "
        f"f'expected {expected}, got {{_ck_out.getvalue().strip()}}'\n"
    )


def _exception_test(code: str) -> str:
    """An exception-based test cell: the test functions, then a call of each with the notebook's names."""
    kept = "\n".join(ln for ln in code.splitlines() if not re.search(r"#\s*IGNORE\s*$", ln))
    try:
        tree = ast.parse(kept)
    except SyntaxError:
        return kept
    calls = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            args = ", ".join(
                f"{a.arg}=globals()" if a.arg == "env" else f"{a.arg}=globals().get({a.arg!r})"
                for a in node.args.args
            )
            calls.append(f"{node.name}({args})")
    return kept + "\n" + "\n".join(calls) + "\n"


def _solution_regions(code: str) -> str:
    """otter's solution syntax → casekit's ``BEGIN/END SOLUTION`` regions (prompts become comments)."""
    code = PROMPT_BLOCK.sub(
        lambda m: "".join(
            f"{m.group(1)}# {ln.strip()}\n" for ln in m.group(3).splitlines() if ln.strip()
        ),
        code,
    )
    out = []
    for ln in code.splitlines():
        m = re.match(r"^([ \t]*)(.*?)\s*#\s*(SOLUTION NO PROMPT|SOLUTION|SEED)\s*$", ln)
        if m and m.group(2):
            ind = m.group(1)
            out += [f"{ind}# BEGIN SOLUTION", f"{ind}{m.group(2)}", f"{ind}# END SOLUTION"]
        else:
            out.append(ln)
    return "\n".join(out) + "\n"


def convert(
    nb: Any, *, name: str, rel_source: str, language: str, file: str
) -> tuple[Any, list[Note], dict[str, str]]:
    """One otter master notebook → (casekit notebook, notes, {qid: kind})."""

    def say_in(key: str) -> str:  # generated content speaks the course's language
        return say(key, language)

    v1 = any(_delimiter(c) for c in nb.cells)
    config, items, problems = (parse_v1 if v1 else parse_v0)(nb, file)
    if problems:
        raise CourseError(problems)
    ok_format = (
        (config.get("tests") or {}).get("ok_format", True)
        if isinstance(config.get("tests"), dict)
        else True
    )
    notes: list[Note] = []
    unused = sorted(k for k in config if k not in ("name", "tests"))
    if unused:
        notes.append(
            Note(
                say("import.otter.config"),
                say("import.otter.config_unused", settings=", ".join(unused)),
            )
        )
    out = header_cells(name, language)
    taken: set[str] = set()
    qids: dict[str, str] = {}
    kinds: dict[str, str] = {}

    def plain(i: int, cell: Any) -> None:
        where = say("where.cell", n=i + 1)
        text = source(cell)
        for tag in dropped_tags(cell):
            notes.append(Note(where, say("import.tag_dropped", tag=tag)))
        if cell.get("cell_type") == "raw":
            notes.append(Note(where, say("import.otter.raw")))
        elif V0_IGNORE.match(text):
            notes.append(Note(where, say("import.otter.ignore")))
        elif re.search(r"\botter\b|grader\.check", text) and cell.get("cell_type") == "code":
            notes.append(Note(where, say("import.otter.own_calls")))
        else:
            out.append(copy_cell(cell))

    for item in items:
        if not isinstance(item, Question):
            plain(*item)
            continue
        q = item
        qid = question_id(q.name, taken, f"q{len(qids) + 1}")
        qids[q.name] = qid
        described = [cell for _, cell in q.description]
        for cell in described:
            out.append(copy_cell(cell))
        fallback = say_in("import.answer_prompt")
        prompt = prompt_from(described, len(described), fallback)
        if q.config.get("manual"):
            kinds[qid] = "essay"
            pts = num(
                q.config.get("points", 1)
                if not isinstance(q.config.get("points"), list)
                else sum(q.config["points"])
            )
            label = say_in("import.by_hand")
            rubric = [{"id": "points", "text": f"{label} ({q.name})", "points": pts}]
            for _, cell in q.prompt:
                out.append(copy_cell(cell))
            out.append(tagged("code", f"ask.essay({qid!r}, {prompt!r}, rubric={rubric!r})"))
            for i, cell in q.solution:
                if cell.get("cell_type") == "code":
                    out.append(
                        tagged("code", _solution_regions(source(cell)), "teaching-note", like=cell)
                    )
                    notes.append(
                        Note(
                            say("import.otter.where", n=i + 1, name=q.name),
                            say("import.otter.manual_code"),
                            lost=False,
                        )
                    )
                else:
                    out.append(tagged("markdown", source(cell), "teaching-note", like=cell))
            if q.tests:
                notes.append(Note(q.where, say("import.otter.manual_tests", name=q.name)))
            continue
        kinds[qid] = "code"
        if not q.solution:
            notes.append(
                Note(
                    q.where,
                    say("import.otter.no_solution", name=q.name),
                )
            )
            kinds.pop(qid)
            continue
        cases = []
        for i, cell, hidden in q.tests:
            cfg, code = _test_config(source(cell))
            lines = code.strip("\n").splitlines()
            if hidden is None:
                hidden = bool(lines) and re.match(r"^\s*#\s*HIDDEN\s*$", lines[0], re.I) is not None
                if hidden:
                    code = "\n".join(lines[1:])
            hidden = bool(cfg.get("hidden", hidden))
            cases.append((i, cell, code, hidden, cfg.get("points")))
        points = resolve_points(q.config.get("points"), [c[4] for c in cases])
        pts = num(sum(points)) if cases else num(q.config.get("points") or 0)
        out.append(tagged("code", f"ask.code({qid!r}, {prompt!r}, points={pts!r})"))
        code_cells = [c for _, c in q.solution if c.get("cell_type") == "code"]
        joined = "\n\n".join(_solution_regions(source(c)).rstrip("\n") for c in code_cells) + "\n"
        out.append(tagged("code", joined, "solution", like=code_cells[0] if code_cells else None))
        if len(code_cells) > 1:
            notes.append(
                Note(
                    q.where,
                    say("import.otter.joined", n=len(code_cells), name=q.name),
                    lost=False,
                )
            )
        if re.search(r"#\s*SEED\s*$", joined, re.M):
            notes.append(Note(q.where, say("import.otter.seed")))
        for n, ((i, cell, code, hidden, _), p) in enumerate(zip(cases, points, strict=True), 1):
            if ok_format:
                expected = _expected_output(cell)
                if expected is None:
                    notes.append(
                        Note(
                            say("import.otter.where", n=i + 1, name=q.name),
                            say("import.otter.no_output"),
                            lost=False,
                        )
                    )
                body = _ok_test(code, expected)
            else:
                body = _exception_test(code)
            test_name = f"{q.name} - {n}"
            tag = "hidden-tests" if hidden else "tests"
            out.append(tagged("code", test_cell(qid, test_name, p, body), tag, like=cell))
    record = {
        "tool": TOOL,
        "source": rel_source,
        "notebook": Path(rel_source).stem,
        "questions": qids,
        "format": "v1" if v1 else "v0",
    }
    return new_notebook(nb, out, record), notes, kinds


def import_path(path: Path, *, out_dir: Path, language: str, force: bool) -> ImportResult:
    """Import one otter master notebook."""
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
    casekit_nb, notes, kinds = convert(
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
    write_imported(res, out_dir, name, casekit_nb, notes, kinds, force=force)
    return res
