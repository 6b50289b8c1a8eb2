"""Bring assignments and submissions over from other grading tools.

``import_nbgrader`` and ``import_otter`` turn another tool's notebook into a
casekit session notebook (tags, ``ask.*`` questions, ``@test`` tests) and say,
cell by cell, what could not be carried over. ``adopt_submissions`` is the
hook ``collect`` calls: notebooks another tool's students handed in become
casekit submissions (answers by question id) before they are stored.

One module per tool holds that tool's format (``nbgrader.py``, ``otter.py``);
this module holds what they share: the result and its report, question ids,
the header cells, test wrapping, and writing the files whole or not at all.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import os
import re
import shutil
import tempfile
import textwrap
import tokenize
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from kit.language import declared_language
from kit.messages import t
from kit.notebooks import source
from kit.problems import CourseError, Outcome, Problem
from kit.untrusted import load_json

#: Marks the notebook metadata of an imported notebook: which tool, which source,
#: and which of that tool's ids became which question id.
META_KEY = "imported"


@dataclass
class Note:
    """One thing about a source cell that was not carried over as it was."""

    cell: str  # "cell 7 (grade_id: squares)"
    message: str
    lost: bool = True  # False: carried over in another form

    def __str__(self) -> str:
        what = t("import.lost" if self.lost else "import.changed")
        return f"{self.cell}: {what}: {self.message}"


@dataclass
class ImportResult(Outcome):
    """What an import wrote (notebooks and their reports) and what it could not carry over."""

    notebooks: list[Path] = field(default_factory=list)
    notes: dict[str, list[Note]] = field(default_factory=dict)  # notebook name → notes
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {qid: kind}

    def report(self) -> str:
        """The human-readable report: per imported notebook, what changed and what was lost."""
        lines = []
        for nb in self.notebooks:
            qs = self.questions.get(nb.name, {})
            lines.append(t("import.questions", notebook=nb, n=len(qs)))
            for n in self.notes.get(nb.name, []):
                lines.append(f"  - {n}")
        return "\n".join(lines)


# ---------------------------------------------------------------- shared pieces


def question_id(name: str, taken: set[str], fallback: str) -> str:
    """A valid casekit question id from another tool's name, unique among ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-") or fallback
    qid, n = base, 2
    while qid in taken:
        qid, n = f"{base}-{n}", n + 1
    taken.add(qid)
    return qid


def num(x: Any) -> int | float:
    """Points as written in generated code: 2 rather than 2.0."""
    f = float(x)
    return int(f) if f.is_integer() else f


def prompt_from(cells: list[Any], before: int, fallback: str) -> str:
    """The first line of the nearest markdown cell above ``before``: a short question prompt."""
    for cell in reversed(cells[:before]):
        if cell.get("cell_type") != "markdown":
            continue
        for line in source(cell).splitlines():
            # emphasis marks go; underscores inside names (price_by_flavor) stay
            text = re.sub(r"^[#>*\-\s]+|[*`]+|(?<!\w)_+|_+(?!\w)", "", line).strip()
            if text:
                return text[:200]
    return fallback


def header_cells(name: str, language: str) -> list[Any]:
    """The ``parameters`` cell and the locked import cell every casekit notebook starts with."""
    params = nbformat.v4.new_code_cell(
        f'cohort = "demo"\nsession = {name!r}\nunit = ""\nseed = 1\nmodules = []'
    )
    params.metadata["tags"] = ["parameters"]
    imports = nbformat.v4.new_code_cell("from kit.questions import ask, key, test")
    imports.metadata["tags"] = ["locked"]
    return [params, imports]


def tagged(cell_type: str, text: str, *tags: str, like: Any | None = None) -> Any:
    """A new cell; ``like`` lends its id and attachments (so a cell keeps its identity)."""
    cell = (
        nbformat.v4.new_code_cell(text)
        if cell_type == "code"
        else nbformat.v4.new_markdown_cell(text)
    )
    if like is not None:
        if like.get("id"):
            cell["id"] = like["id"]
        if cell_type == "markdown" and like.get("attachments"):
            cell["attachments"] = like["attachments"]
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def plain_python(code: str) -> str:
    """IPython syntax (``%magic``, ``!cmd``) turned into Python, so it can live in a function."""
    if not re.search(r"^\s*[%!]", code, re.M):
        return code
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def _bound_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at top level (they become globals when it runs as a cell)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            for d in node.decorator_list:
                visit(d)
            return
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            return
        if isinstance(node, ast.GeneratorExp):
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                if a.name != "*":
                    names.add(a.asname or a.name.split(".")[0])
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in tree.body:
        visit(stmt)
    return names


def _has_multiline_string(code: str) -> bool:
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return True
    return any(t.type == tokenize.STRING and "\n" in t.string for t in toks)


def test_cell(qid: str, name: str, points: Any, code: str) -> str:
    """One cell of top-level test code as a casekit ``@test`` that keeps the cell's meaning.

    The code runs as the body of the test function; names it binds are
    declared ``global`` so they outlive the test as they would have outlived
    the cell. Code that cannot be indented without changing it (a multi-line
    string) runs through ``exec`` on the notebook's globals instead.
    """
    code = plain_python(code).strip("\n")
    head = f"@test({qid!r}, points={num(points)!r}, name={name!r})\ndef _():\n"
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    if tree is not None and not _has_multiline_string(code):
        bound = sorted(n for n in _bound_names(tree) if not n.startswith("_ck_"))
        body = textwrap.indent(code, "    ") if code.strip() else "    pass"
        decl = f"    global {', '.join(bound)}\n" if bound else ""
        out = head + decl + body + "\n"
        try:
            ast.parse(out)
            return out
        except SyntaxError:
            pass
    return head + f"    exec(compile({code!r}, {name!r}, 'exec'), globals())\n"


def ends_in_expression(code: str) -> bool:
    """True when the last statement is an expression whose value a notebook would display."""
    try:
        tree = ast.parse(plain_python(code))
    except SyntaxError:
        return False
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return False
    value = tree.body[-1].value
    if isinstance(value, ast.Constant):
        return False  # a docstring or a bare literal
    if isinstance(value, ast.Call):
        f = value.func
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        return not fname.startswith(("assert", "print", "display"))
    return True


def keep_tags(cell: Any) -> list[str]:
    """The cell's tags that casekit understands; the others are returned by ``dropped_tags``."""
    from kit.notebooks import FOREIGN_TAGS, MODULE_TAG, TAGS

    tags = (cell.get("metadata") or {}).get("tags") or []
    return [t for t in tags if t in TAGS or t in FOREIGN_TAGS or MODULE_TAG.match(t)]


def dropped_tags(cell: Any) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    kept = set(keep_tags(cell))
    return [t for t in tags if t not in kept]


def copy_cell(cell: Any, *extra_tags: str, drop: tuple[str, ...] = ()) -> Any:
    """A copy of a source cell without the other tool's metadata, with casekit tags added."""
    out = nbformat.from_dict(json.loads(json.dumps(cell)))
    for k in drop:
        out.metadata.pop(k, None)
    tags = [t for t in keep_tags(cell) if t not in ("parameters",)] + list(extra_tags)
    if tags:
        out.metadata["tags"] = list(dict.fromkeys(tags))
    else:
        out.metadata.pop("tags", None)
    if out.cell_type == "code":
        out.outputs, out.execution_count = [], None
    return out


def new_notebook(source_nb: Any, cells: list[Any], imported: dict[str, Any]) -> Any:
    """The casekit notebook: the source's kernel, the new cells, the import record."""
    nb = nbformat.v4.new_notebook()
    for k in ("kernelspec", "language_info"):
        if k in source_nb.get("metadata", {}):
            nb.metadata[k] = source_nb.metadata[k]
    nb.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    nb.metadata["casekit"] = {META_KEY: imported}
    nb.cells = cells
    return nb


def read_source(path: Path) -> Any:
    """Read another tool's notebook; an unreadable one is a located user error."""
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise CourseError([Problem(str(path), message=t("nb.not_found"))]) from None
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise CourseError(
            [
                Problem(
                    str(path),
                    message=t("import.unreadable", error=e),
                    fix=t("import.unreadable_fix"),
                )
            ]
        ) from None


def _write_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def output_dir(course: Path | str | None, out: Path | str | None) -> Path:
    if out is not None:
        return Path(out)
    root = Path(course) if course is not None else Path(".")
    return root / "exercises"


def language_of(course: Path | str | None) -> str:
    """The course's language when a course is named and readable; English otherwise."""
    return declared_language(course or ".") or "en"


def refuse_overwrite(out_dir: Path, names: list[str], *, force: bool) -> None:
    """Stop before writing anything when an earlier import (maybe edited since) would be replaced."""
    if force:
        return
    there = [out_dir / f"{n}.ipynb" for n in names if (out_dir / f"{n}.ipynb").exists()]
    if there:
        raise CourseError(
            [
                Problem(
                    str(p),
                    message=t("import.exists"),
                    fix=t("import.exists_fix"),
                )
                for p in there
            ]
        )


def write_imported(
    res: ImportResult,
    out_dir: Path,
    name: str,
    nb: Any,
    notes: list[Note],
    qkinds: dict[str, str],
    *,
    force: bool,
) -> None:
    """Write the notebook and its report (``<name>.import.md``), each whole or not at all."""
    path = out_dir / f"{name}.ipynb"
    refuse_overwrite(out_dir, [name], force=force)
    report = [t("import.report_title", name=name), ""]
    src = nb.metadata["casekit"][META_KEY]
    report.append(t("import.report_from", tool=src["tool"], source=src["source"]))
    report.append("")
    asked = ", ".join(f"{q} ({k})" for q, k in qkinds.items()) or t("common.none")
    report.append(t("import.report_questions", questions=asked))
    report.append("")
    if notes:
        report.append(t("import.report_notes"))
        report.append("")
        report += [f"- {n}" for n in notes]
    else:
        report.append(t("import.report_all"))
    nbformat.validate(nb)
    _write_whole(path, nbformat.writes(nb))
    rpath = out_dir / f"{name}.import.md"
    _write_whole(rpath, "\n".join(report) + "\n")
    res.written += [path, rpath]
    res.notebooks.append(path)
    res.notes[path.name] = notes
    res.questions[path.name] = qkinds


def copy_beside(src_dir: Path, out_dir: Path, notes: list[Note]) -> list[Path]:
    """Copy data files that sit beside the source notebooks (grading finds them beside ours)."""
    copied = []
    for p in sorted(src_dir.iterdir()):
        if p.name.startswith(".") or p.suffix == ".ipynb" or p.is_symlink():
            continue
        dest = out_dir / p.name
        if dest.exists():
            notes.append(Note(p.name, t("import.not_copied", dest=dest), lost=True))
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        if p.is_dir():
            shutil.copytree(p, dest, symlinks=False)
        else:
            shutil.copy2(p, dest)
        copied.append(dest)
    return copied


# ---------------------------------------------------------------- the registry

#: tool name → module holding ``import_path``
TOOLS = {"nbgrader": "kit.importers.nbgrader", "otter": "kit.importers.otter"}
#: tools whose students' notebooks ``collect`` takes in
SUBMISSION_TOOLS = ("nbgrader",)
#: tool name → module holding ``adopt`` (else the tool's module in ``TOOLS``)
SUBMISSION_MODULES = {"nbgrader": "kit.importers.nbgrader_submissions"}
#: tools whose notebooks do not say who wrote them: their ``adopt`` takes the
#: instructor's identity rule (``collect --identity``)
IDENTIFIED_TOOLS = {"otter": "kit.importers.otter_submissions"}


def _tool(kind: str) -> Any:
    if kind not in TOOLS:
        raise CourseError.choice(kind, "", t("import.unknown_tool"), sorted(TOOLS))
    return importlib.import_module(TOOLS[kind])


def _submission_tool(kind: str) -> Any:
    return importlib.import_module(SUBMISSION_MODULES.get(kind) or TOOLS[kind])


def import_(
    kind: str,
    source_path: Path | str,
    *,
    course: Path | str | None = ".",
    out: Path | str | None = None,
    force: bool = False,
) -> ImportResult:
    """Import ``source_path`` (a notebook, or a folder of them) written for tool ``kind``.

    Writes ``<out>/<name>.ipynb`` and ``<out>/<name>.import.md`` per notebook
    (``out`` defaults to the course's ``exercises/``) and returns what was
    written and, per notebook, what could not be carried over.
    """
    return _tool(kind).import_path(
        Path(source_path),
        out_dir=output_dir(course, out),
        language=language_of(course),
        force=force,
    )


def import_nbgrader(
    source_path: Path | str,
    *,
    course: Path | str | None = ".",
    out: Path | str | None = None,
    force: bool = False,
) -> ImportResult:
    """Import an nbgrader source notebook or assignment folder as casekit session notebooks."""
    return import_("nbgrader", source_path, course=course, out=out, force=force)


def import_otter(
    source_path: Path | str,
    *,
    course: Path | str | None = ".",
    out: Path | str | None = None,
    force: bool = False,
) -> ImportResult:
    """Import an otter-grader master notebook as a casekit session notebook."""
    return import_("otter", source_path, course=course, out=out, force=force)


def imported_sessions(course: Any, cohort: str, tool: str) -> dict[str, dict[str, Any]]:
    """Sessions of a cohort whose notebook was imported from ``tool``: session → import record."""
    found = {}
    for s in course.cohort(cohort).sessions:
        path = course.root / s.notebook
        try:
            meta = json.loads(path.read_text("utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        rec = ((meta.get("casekit") or {}).get(META_KEY)) or {}
        if isinstance(rec, dict) and rec.get("tool") == tool:
            found[s.session] = rec
    return found


@dataclass
class HandInTime:
    """The hand-in time an instructor chose to take from another tool (``collect --times``)."""

    at: datetime | None  # None: the tool recorded none readable; the arrival stands
    source: str  # what the row says the time is, in the course's language


@dataclass
class Adopted:
    """What adopting other tools' submitted notebooks made of a file tree (for ``collect``)."""

    files: dict[str, bytes]
    #: "<notebook path>: why" for notebooks that look like another tool's but match no session
    unknown: list[str] = field(default_factory=list)
    #: "<notebook path>: what the tool's own validation says" (edited test or read-only cells)
    flagged: list[str] = field(default_factory=list)
    #: submission folder → the time the instructor chose to take (only with ``times``)
    times: dict[str, HandInTime] = field(default_factory=dict)
    #: how many of the tool's notebooks were found
    found: int = 0


#: ``collect --times``: the default, then every tool whose submissions carry a hand-in time
TIME_SOURCES = ("arrival", "nbgrader")


def adopt_submissions(
    course: Any,
    cohort: str,
    files: dict[str, bytes],
    *,
    times: str = "arrival",
    source: str = "",
    identity: str | None = None,
) -> Adopted:
    """Turn other tools' submitted notebooks in a file tree into casekit submission folders.

    Files of casekit's own are untouched. ``times`` other than ``"arrival"``
    names the tool whose recorded hand-in times the instructor chose to take
    (``collect --times nbgrader``); a ``source`` (the folder or archive, for
    messages) holding none of that tool's notebooks is a user error.
    ``identity`` is the instructor's rule for notebooks that do not say who
    wrote them (otter's: ``filename``, ``otter-metadata`` or a CSV table).
    """
    if times not in TIME_SOURCES:
        raise CourseError.choice(times, "--times", t("collect.times_unknown"), TIME_SOURCES)
    out = Adopted(files)
    found: dict[str, int] = {}
    for kind in SUBMISSION_TOOLS:
        got = _submission_tool(kind).adopt(course, cohort, out.files, times=times == kind)
        out.files = got.files
        out.unknown += got.unknown
        out.flagged += got.flagged
        out.times.update(got.times)
        found[kind] = got.found
    for module in IDENTIFIED_TOOLS.values():
        files_now, lost = importlib.import_module(module).adopt(
            course, cohort, out.files, identity=identity
        )
        out.files = files_now
        out.unknown += lost
    if times != "arrival" and not found.get(times):
        raise CourseError.at(source or times, *_submission_tool(times).no_times_message())
    return out


def submission_flags(folder: Path) -> list[dict[str, str]]:
    """Flags another tool's own validation raises on a stored submission (nbgrader's checksums).

    ``grade`` adds them to the submission's tamper flags; they never change a score.
    """
    flags: list[dict[str, str]] = []
    for kind in SUBMISSION_TOOLS:
        check = getattr(_submission_tool(kind), "stored_flags", None)
        if check is not None and (folder / kind).is_dir():
            flags += check(folder / kind)
    return flags


def adopted_identity(files: dict[str, bytes]) -> str | None:
    """How an adopted submission's trainee was told (the instructor's rule and its evidence), if so."""
    try:  # casekit's adopter wrote it, but the tree came from outside: read within the caps
        doc = load_json(files.get("answers.json") or b"", max_bytes=1 << 20)
    except (ValueError, RecursionError):
        return None
    said = doc.get("identity") if isinstance(doc, dict) else None
    return said if isinstance(said, str) and said else None
