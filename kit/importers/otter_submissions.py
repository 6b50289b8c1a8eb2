"""otter-grader students' notebooks (and their export zips) as casekit submissions.

otter's student notebook says which questions it answers (``grader.check``
cells, ``metadata.otter``, answer cells tagged ``otter_answer_cell`` whose
ids are the master's) but not who wrote it. The instructor states that with
an identity rule (``collect --identity``):

* ``filename`` — the roster id in the notebook's or zip's file (or folder)
  name, as a course that names downloads ``hw01_<id>.ipynb`` has it;
* ``otter-metadata`` — the Gradescope submission metadata otter grades with:
  ``submission_metadata.json`` beside the notebook (``users``: ``sid``,
  ``email``) or a Gradescope export's ``submission_metadata.yml``
  (``:submitters``), matched to the roster's ``id`` or ``email``;
* ``FILE.csv`` — the instructor's own table, columns ``file,trainee``.

Each adopted submission says which rule named its trainee, and the rule's
evidence; ``collect`` shows it on the submission's row. A notebook no rule
can place is listed as unknown with what to do.

The answers: each answer cell, by its id, goes to the question imported
from the same master cell (cells a student added under an answer belong to
it, as otter runs them with it); without ids, the answer cells above a
``grader.check("q")`` cell answer ``q``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from kit.artifacts import WORKBOOK
from kit.importers import imported_sessions
from kit.messages import t as say
from kit.notebooks import source
from kit.problems import CourseError, Problem

TOOL = "otter"
RULES = ("filename", "otter-metadata")
ANSWER_TAG = "otter_answer_cell"
CHECK = re.compile(r"""grader\.check\(\s*["']([^"']+)["']""")
MANUAL_PROMPT = "_Type your answer here, replacing this text._"
# an otter export zip is one notebook and a log: larger or fuller ones are not an export
MAX_ZIP_MEMBERS = 200
MAX_ZIP_BYTES = 64 * 1024 * 1024


@dataclass
class IdentityRule:
    """How the instructor tells who handed in an otter notebook."""

    kind: str  # "filename", "otter-metadata" or "mapping"
    mapping: dict[str, str] = field(default_factory=dict)  # file (path or name) → trainee
    table: str = ""  # the mapping file, as given

    @classmethod
    def parse(cls, text: str, roster: set[str]) -> IdentityRule:
        """``filename``, ``otter-metadata`` or a ``file,trainee`` CSV; a bad one is a located error."""
        if text in RULES:
            return cls(text)
        path = Path(text)
        if path.suffix.lower() != ".csv":
            raise CourseError(
                [
                    Problem(
                        text,
                        message=say("import.otter.identity_unknown"),
                        fix=say("import.otter.identity_fix"),
                    )
                ]
            )
        return cls("mapping", _read_mapping(path, roster), text)


def _read_mapping(path: Path, roster: set[str]) -> dict[str, str]:
    try:
        text = path.read_text("utf-8-sig")
    except OSError as e:
        raise CourseError.at(path, say("import.otter.mapping_unreadable", error=e)) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    header = set(rows[0].keys()) if rows else set()
    if not {"file", "trainee"} <= header:
        raise CourseError.at(
            path, say("import.otter.mapping_columns"), say("import.otter.mapping_columns_fix")
        )
    out: dict[str, str] = {}
    problems = []
    for n, row in enumerate(rows, 2):
        file, trainee = (row.get("file") or "").strip(), (row.get("trainee") or "").strip()
        if not file or trainee not in roster:
            problems.append(
                Problem(
                    str(path),
                    say("where.row", n=n),
                    message=say("import.otter.mapping_row", trainee=trainee),
                    fix=say("import.otter.mapping_row_fix"),
                )
            )
        elif out.get(file, trainee) != trainee:
            problems.append(
                Problem(
                    str(path),
                    say("where.row", n=n),
                    message=say("import.otter.mapping_twice", file=file),
                )
            )
        out[file] = trainee
    if problems:
        raise CourseError(problems)
    return out


# ---------------------------------------------------------------- reading otter notebooks


def otter_notebook(data: bytes) -> dict[str, Any] | None:
    """The notebook when ``data`` is an otter student notebook, else None."""
    if b"otter" not in data and b"grader.check" not in data:
        return None  # cheap: most notebooks here are casekit workbooks
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None
    meta = nb.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    if "casekit" in meta:
        return None  # a casekit workbook, whatever its cells say
    if isinstance(meta.get("otter"), dict):
        return nb
    # an older otter notebook: answer cells tagged by otter assign and otter's own checks
    cells = [c for c in nb["cells"] if isinstance(c, dict)]
    tagged = any(ANSWER_TAG in ((c.get("metadata") or {}).get("tags") or []) for c in cells)
    checked = any(CHECK.search(source(c)) for c in cells)
    return nb if tagged and checked else None


def _unzip(data: bytes) -> dict[str, bytes] | None:
    """An otter export zip's members (bounded), or None when it is not a readable small zip."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_MEMBERS or sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            return None
        out = {}
        for i in infos:
            name = PurePosixPath(i.filename)
            if name.is_absolute() or ".." in name.parts or name.parts[0] == "__MACOSX":
                continue
            if name.suffix in (".ipynb", ".json"):
                out[str(name)] = zf.read(i)[: MAX_ZIP_BYTES + 1]
        return out
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
        return None


def question_names(nb: dict[str, Any]) -> set[str]:
    """The otter questions a student notebook answers (its checks and its tests' names)."""
    names = set(((nb.get("metadata") or {}).get("otter") or {}).get("tests") or {})
    for cell in nb.get("cells") or []:
        if isinstance(cell, dict):
            names.update(CHECK.findall(source(cell)))
    return names


def answers(nb: dict[str, Any], record: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any]:
    """The notebook's answers by casekit question id (see the module's docstring)."""
    by_id = {cid: qid for qid, ids in (record.get("answer_cells") or {}).items() for cid in ids}
    qids = record.get("questions") or {}
    cells = [c for c in nb.get("cells") or [] if isinstance(c, dict)]
    parts: dict[str, list[str]] = {}
    pending: list[str] = []  # answer texts waiting for the check cell that names their question
    current: str | None = None  # the question whose answer cell came last (added cells join it)
    for cell in cells:
        text = source(cell)
        tags = (cell.get("metadata") or {}).get("tags") or []
        checked = CHECK.search(text)
        if checked:
            qid = qids.get(checked.group(1))
            if qid and pending and qid not in parts:
                parts[qid] = pending
            pending, current = [], None
            continue
        if ANSWER_TAG in tags:
            qid = by_id.get(str(cell.get("id") or ""))
            if qid is None:
                pending.append(text)
                current = None
                continue
            parts.setdefault(qid, []).append(text)
            current = qid
        elif cell.get("cell_type") == "code" and current is not None:
            parts[current].append(text)  # a cell the student added under the answer
        elif cell.get("cell_type") == "code" and pending:
            pending.append(text)
        else:
            current = None
    out = {}
    for qid, texts in parts.items():
        kind = kinds.get(qid, "code")
        texts = [t for t in texts if t.strip() and t.strip() != MANUAL_PROMPT]
        if texts:
            out[qid] = {"value": "\n\n".join(t.rstrip("\n") for t in texts) + "\n", "kind": kind}
    return out


# ---------------------------------------------------------------- who and which session


def _ids_in(name: str, roster: set[str]) -> set[str]:
    stem = re.sub(r"\.(ipynb|zip)$", "", name)
    found = {
        r
        for r in roster
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(r)}(?![A-Za-z0-9])", stem) is not None
    }
    return {r for r in found if not any(r != o and r in o for o in found)}


def _by_filename(path: str, roster: set[str]) -> tuple[str | None, str]:
    found: set[str] = set()
    for part in reversed(PurePosixPath(path).parts):
        found = _ids_in(part, roster)
        if found:
            break
    if len(found) == 1:
        trainee = next(iter(found))
        return trainee, say("import.otter.by_filename", file=path)
    if found:
        return None, say("collect.several_trainees", names=", ".join(sorted(found)))
    return None, say("import.otter.no_id_in_name")


def _submitters(
    files: dict[str, bytes], path: str, inner: dict[str, bytes]
) -> tuple[list[dict], str]:
    """Gradescope's submitters of the notebook at ``path``: (users, where they were read)."""
    folder = PurePosixPath(path).parent
    for name, data in [
        *inner.items(),
        *((n, b) for n, b in files.items() if PurePosixPath(n).parent == folder),
    ]:
        if PurePosixPath(name).name == "submission_metadata.json":
            try:
                users = json.loads(data.decode("utf-8")).get("users") or []
            except (UnicodeDecodeError, ValueError, AttributeError):
                continue
            return [u for u in users if isinstance(u, dict)], name
    parts = PurePosixPath(path).parts
    for depth in range(len(parts) - 1, 0, -1):
        base = PurePosixPath(*parts[: depth - 1]) if depth > 1 else PurePosixPath(".")
        meta = files.get(str(base / "submission_metadata.yml").removeprefix("./"))
        if meta is None:
            continue
        try:
            doc = yaml.safe_load(meta.decode("utf-8")) or {}
            entry = doc.get(parts[depth - 1]) or {}
            users = entry.get(":submitters") or []
        except (UnicodeDecodeError, yaml.YAMLError, AttributeError):
            continue
        norm = [{k.lstrip(":"): v for k, v in u.items()} for u in users if isinstance(u, dict)]
        return norm, str(base / "submission_metadata.yml").removeprefix("./")
    return [], ""


def _by_metadata(
    files: dict[str, bytes],
    path: str,
    inner: dict[str, bytes],
    roster: set[str],
    emails: dict[str, str],
) -> tuple[str | None, str]:
    users, where = _submitters(files, path, inner)
    if not users:
        return None, say("import.otter.no_metadata")
    if len(users) > 1:
        return None, say("import.otter.several_submitters", n=len(users))
    u = users[0]
    for key in ("sid", "id"):
        if str(u.get(key) or "") in roster:
            return str(u[key]), say("import.otter.by_metadata", file=where, key=key, value=u[key])
    email = str(u.get("email") or "").lower()
    if email and email in emails:
        return emails[email], say("import.otter.by_metadata", file=where, key="email", value=email)
    return None, say(
        "import.otter.metadata_unknown", user=u.get("email") or u.get("sid") or u.get("name")
    )


def _by_mapping(rule: IdentityRule, path: str) -> tuple[str | None, str]:
    for key in (path, PurePosixPath(path).name):
        if key in rule.mapping:
            return rule.mapping[key], say("import.otter.by_mapping", table=rule.table, file=key)
    return None, say("import.otter.not_in_mapping", table=rule.table)


def _session(
    path: str, nb: dict[str, Any], imported: dict[str, dict[str, Any]]
) -> tuple[str | None, str]:
    names = question_names(nb)
    parts = {re.sub(r"\.(ipynb|zip)$", "", p) for p in PurePosixPath(path).parts}
    scored = []
    for session, rec in imported.items():
        overlap = len(names & set(rec.get("questions") or {}))
        if overlap:
            named = bool(parts & {session, rec.get("notebook"), rec.get("assignment")})
            scored.append((named, overlap, session))
    if not scored:
        return None, say("import.otter.no_session")
    scored.sort(reverse=True)
    best = [s for s in scored if s[:2] == scored[0][:2]]
    if len(best) > 1:
        return None, say(
            "import.otter.several_sessions", names=", ".join(sorted(s[2] for s in best))
        )
    return best[0][2], ""


# ---------------------------------------------------------------- the adopter


def adopt(
    course: Any, cohort: str, files: dict[str, bytes], *, identity: str | None
) -> tuple[dict[str, bytes], list[str]]:
    """otter notebooks and export zips in a file tree → casekit submission folders."""
    out = dict(files)
    unknown: list[str] = []
    found = _otter_files(files)
    if not found:
        return out, unknown
    co = course.cohort(cohort)
    roster = set(co.roster.index)
    if identity is None:
        for path in found:
            del out[path]
            unknown.append(f"{path}: {say('import.otter.no_identity')}")
        return out, unknown
    rule = IdentityRule.parse(identity, roster)
    emails = _emails(co.roster)
    imported = imported_sessions(course, cohort, TOOL)
    notebooks = {s.session: str(s.notebook) for s in co.sessions}
    kinds_of: dict[str, dict[str, str]] = {}  # session → its kinds, read once per run
    for path, (nb, inner) in found.items():
        data = out.pop(path)
        session, why = _session(path, nb, imported)
        if session is None:
            unknown.append(f"{path}: {why}")
            continue
        if rule.kind == "filename":
            trainee, said = _by_filename(path, roster)
        elif rule.kind == "otter-metadata":
            trainee, said = _by_metadata(files, path, inner, roster, emails)
        else:
            trainee, said = _by_mapping(rule, path)
        if trainee is None:
            unknown.append(f"{path}: {said}")
            continue
        record = imported[session]
        if session not in kinds_of:
            kinds_of[session] = _notebook_kinds(course.root / notebooks[session])
        doc = {
            "session": session,
            "trainee": trainee,
            "source": TOOL,
            "identity": said,
            "answers": answers(nb, record, kinds_of[session]),
        }
        out[f"{path}/answers.json"] = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        out[f"{path}/{TOOL}/{PurePosixPath(path).name}"] = data
    return out, unknown


def _otter_files(files: dict[str, bytes]) -> dict[str, tuple[dict[str, Any], dict[str, bytes]]]:
    """path → (otter notebook, the zip's other members) for each otter notebook or export zip."""
    with_answers = {
        str(PurePosixPath(n).parent) for n in files if PurePosixPath(n).name == "answers.json"
    }
    found: dict[str, tuple[dict[str, Any], dict[str, bytes]]] = {}
    for path, data in sorted(files.items()):
        if str(PurePosixPath(path).parent) in with_answers:
            continue  # a casekit submission folder
        if PurePosixPath(path).name == WORKBOOK:
            continue  # casekit's own hand-in
        if path.endswith(".ipynb"):
            nb = otter_notebook(data)
            if nb is not None:
                found[path] = (nb, {})
        elif path.endswith(".zip"):
            inner = _unzip(data) or {}
            nbs = [
                nb for n, b in inner.items() if n.endswith(".ipynb") and (nb := otter_notebook(b))
            ]
            if len(nbs) == 1:
                found[path] = (nbs[0], inner)
    return found


def _emails(roster: Any) -> dict[str, str]:
    if "email" not in roster.columns:
        return {}
    return {str(e).lower(): str(i) for i, e in roster["email"].items() if isinstance(e, str) and e}


def _notebook_kinds(path: Path) -> dict[str, str]:
    """Question kinds of an imported notebook (``ask.code``/``ask.essay``) by id."""
    try:
        nb = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    kinds = {}
    for cell in nb.get("cells") or []:
        m = re.match(r"\s*ask\.(\w+)\(\s*['\"]([^'\"]+)['\"]", source(cell))
        if m:
            kinds[m.group(2)] = m.group(1)
    return kinds
