"""nbgrader's students' notebooks: adopted by ``collect``, checked as ``nbgrader validate`` checks them.

A submitted notebook (``submitted/<student>/<assignment>/<notebook>.ipynb``)
is recognised by its cell metadata, matched by ``grade_id`` to the session
imported from the same source (:mod:`kit.importers.nbgrader`), and becomes a
casekit submission folder: the answers by question id in ``answers.json``,
the notebook as received under ``nbgrader/``. Its cells are checked as
``nbgrader validate`` checks them: the checksums nbgrader wrote into
read-only and test cells, and the recorded cell types. Its ``timestamp.txt``
is the hand-in time only when the instructor says so (``collect --times
nbgrader``); else the arrival at collect stands, as for any unsigned hand-in.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kit.artifacts import RECEIPT, Receipt
from kit.importers import Adopted, HandInTime, imported_sessions
from kit.importers.nbgrader import CODE_STUB, TEXT_STUB, TOOL, cell_where, is_nbgrader, meta, role
from kit.messages import t as say
from kit.notebooks import source


def parse_timestamp(text: str) -> datetime | None:
    """nbgrader's timestamp.txt as an aware time, or None when it is not one.

    nbgrader writes ``%Y-%m-%d %H:%M:%S.%f %Z`` ("2026-03-02 12:00:00.000000
    UTC"); a zone name, a numeric offset ("+0800") or an ISO time are read too.
    """
    text = text.strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(\S+)?$", text)
    if not m:
        return None
    try:
        t = datetime.fromisoformat(m.group(1).replace(" ", "T"))
    except ValueError:
        return None
    zone = m.group(2) or "UTC"
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
    if t.tzinfo is not None:
        return t if m.group(2) is None else None
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return t.replace(tzinfo=timezone(sign * delta))
    try:
        return t.replace(tzinfo=ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _answers(nb: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A submitted nbgrader notebook's answers by casekit question id."""
    qids = record.get("questions") or {}
    kinds = record.get("kinds") or {}
    cells = [c for c in nb.get("cells") or [] if isinstance(c, dict)]
    answers: dict[str, Any] = {}
    for i, cell in enumerate(cells):
        gid = meta(cell).get("grade_id")
        if gid not in qids:
            continue
        kind = kinds.get(gid, "code")
        qid = qids[gid]
        if role(cell) == "task":
            # the work for a task is in the cells the trainee added after it
            parts = []
            for nxt in cells[i + 1 :]:
                if meta(nxt):
                    break
                text = source(nxt).strip()
                if text:
                    parts.append(
                        f"```python\n{text}\n```" if nxt.get("cell_type") == "code" else text
                    )
            if parts:
                answers[qid] = {"value": "\n\n".join(parts), "kind": kind}
            continue
        text = source(cell)
        if kind == "essay" and text.strip() in ("", TEXT_STUB, CODE_STUB):
            continue  # the released stub is no answer
        if role(cell) in ("answer", "manual") and text.strip():
            answers[qid] = {"value": text, "kind": kind}
    return answers


def _choose(
    path: str, nb: dict[str, Any], imported: dict[str, dict[str, Any]]
) -> tuple[str | None, str]:
    """The session an nbgrader submission belongs to, or (None, why)."""
    gids = {meta(c).get("grade_id") for c in nb.get("cells") or [] if isinstance(c, dict)} - {None}
    parts = set(PurePosixPath(path).parts)
    stem = PurePosixPath(path).stem
    scored = []
    for session, rec in imported.items():
        overlap = len(gids & set((rec.get("questions") or {}).keys()))
        if overlap:
            scored.append(
                (
                    rec.get("notebook") == stem,
                    rec.get("assignment") in parts,
                    session in parts,
                    overlap,
                    session,
                )
            )
    if not scored:
        return None, say("import.nbgrader.no_session")
    scored.sort(reverse=True)
    best = [s for s in scored if s[:4] == scored[0][:4]]
    if len(best) > 1:
        names = ", ".join(sorted(s[-1] for s in best))
        return None, say("import.nbgrader.several_sessions", names=names)
    return best[0][-1], ""


def _placed_like(path: str, imported: dict[str, dict[str, Any]]) -> str | None:
    """The imported session whose notebook a path names, in nbgrader's layout, or None.

    ``submitted/<student>/<assignment>/<notebook>.ipynb``: the imported
    notebook's name, in a folder named after its assignment (or session).
    """
    p = PurePosixPath(path)
    for session, rec in sorted(imported.items()):
        if rec.get("notebook") == p.stem and {rec.get("assignment"), session} & set(p.parts[:-1]):
            return session
    return None


def _read(data: bytes) -> dict[str, Any] | None:
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None  # collect reports unreadable notebooks itself
    return nb if isinstance(nb, dict) else None


def adopt(course: Any, cohort: str, files: dict[str, bytes], *, times: bool = False) -> Adopted:
    """nbgrader notebooks in a file tree → casekit submission folders (see ``kit.importers``).

    Each is checked as ``nbgrader validate`` checks it (``flagged``). With
    ``times`` the hand-in time is nbgrader's ``timestamp.txt`` beside it, the
    instructor's explicit choice; else the arrival at collect stands. A
    notebook in the place of an imported one but without nbgrader metadata
    (an editor dropped it) is named in ``unknown``, never taken for a casekit workbook.
    """
    imported = imported_sessions(course, cohort, TOOL)
    res = Adopted(dict(files))
    folders_with_answers = {
        str(PurePosixPath(n).parent) for n in files if PurePosixPath(n).name == "answers.json"
    }
    for path, data in sorted(files.items()):
        if not path.endswith(".ipynb") or str(PurePosixPath(path).parent) in folders_with_answers:
            continue
        # cheap first: most notebooks here are casekit workbooks, placed as casekit places them
        marked = b'"nbgrader"' in data
        placed = None if marked else _placed_like(path, imported)
        nb = _read(data) if marked or placed else None
        if nb is None:
            continue
        if is_nbgrader(nb):
            res.found += 1
            del res.files[path]
            _adopt_one(path, nb, files, imported, res, times=times)
        elif placed and not (nb.get("metadata") or {}).get("casekit"):
            del res.files[path]
            why = say("import.nbgrader.no_metadata", session=placed)
            res.unknown.append(f"{path}: {why}; {say('import.nbgrader.no_metadata_fix')}")
    return res


def _adopt_one(
    path: str,
    nb: dict[str, Any],
    files: dict[str, bytes],
    imported: dict[str, dict[str, Any]],
    res: Adopted,
    *,
    times: bool,
) -> None:
    """One nbgrader notebook → a submission folder at ``path/`` in ``res.files`` (or unknown)."""
    session, why = _choose(path, nb, imported)
    if session is None:
        res.unknown.append(f"{path}: {why}")
        return
    summary = changes_summary(validate(nb))
    if summary:
        res.flagged.append(f"{path}: {summary}")
    doc = {"session": session, "source": TOOL, "answers": _answers(nb, imported[session])}
    res.files[f"{path}/answers.json"] = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    res.files[f"{path}/{TOOL}/{PurePosixPath(path).name}"] = files[path]
    stamp = files.get(str(PurePosixPath(path).parent / "timestamp.txt"))
    raw = stamp.decode("utf-8", "replace").strip() if stamp else ""
    when = parse_timestamp(raw) if raw else None
    if when:  # kept for reference; the store's time is what collect establishes
        receipt = Receipt(received_at=when.isoformat(), source=f"{TOOL} timestamp.txt")
        res.files[f"{path}/{RECEIPT}"] = receipt.to_bytes()
    if times:
        source = (
            say("import.nbgrader.time_taken", stamp=raw[:60])
            if when
            else say("import.nbgrader.time_missing")
        )
        res.times[path] = HandInTime(when, source)


def no_times_message() -> tuple[str, str]:
    """What ``collect --times nbgrader`` says of a source without nbgrader notebooks, and the fix."""
    return say("import.nbgrader.times_none"), say("import.nbgrader.times_none_fix")


# ---------------------------------------------------------------- nbgrader's checksums


def _flags(cell: Any) -> tuple[Any, Any, Any]:
    """(grade, solution, locked) as nbgrader's ``is_grade``, ``is_solution``, ``is_locked`` give them."""
    m = meta(cell)
    grade, solution = m.get("grade", False), m.get("solution", False)
    locked = False if solution else True if grade else m.get("locked", False)
    return grade, solution, locked


def compute_checksum(cell: Any) -> str | None:
    """nbgrader's cell checksum (``nbgrader.utils.compute_checksum``, the same algorithm).

    MD5 over the source, the cell type, str() of its grade, solution and
    locked flags, its grade_id and, for a grade cell, float(points). nbgrader
    is not a run-time dependency, so the algorithm is written out here (the
    tests compare it with nbgrader's own). None when the metadata is too
    broken to checksum (nbgrader itself would raise).
    """
    grade, solution, locked = _flags(cell)
    m = hashlib.md5(usedforsecurity=False)
    try:
        m.update(source(cell).encode("utf-8"))
        m.update(str(cell.get("cell_type")).encode("utf-8"))
        for flag in (grade, solution, locked):
            m.update(str(flag).encode("utf-8"))
        m.update(meta(cell)["grade_id"].encode("utf-8"))
        if grade:
            m.update(str(float(meta(cell)["points"])).encode("utf-8"))
    except (KeyError, AttributeError, TypeError, ValueError):
        return None
    return m.hexdigest()


@dataclass
class Change:
    """One cell ``nbgrader validate`` would report as changed."""

    where: str  # "cell 5 (grade_id test_total)"
    what: str  # test cell, read-only cell, answer cell
    old_type: str = ""  # set when the cell's type changed
    new_type: str = ""


def validate(nb: dict[str, Any]) -> list[Change]:
    """The cells of a submitted notebook whose type or checksummed content changed.

    As ``nbgrader validate`` finds them: a graded, solution or read-only cell
    whose type differs from the ``cell_type`` nbgrader recorded, and a
    graded or read-only cell whose checksum differs from the one recorded.
    """
    found = []
    for i, cell in enumerate(c for c in nb.get("cells") or [] if isinstance(c, dict)):
        m = meta(cell)
        if not m:
            continue
        grade, solution, locked = _flags(cell)
        what = say(
            "import.nbgrader.test_cell"
            if grade and cell.get("cell_type") == "code"
            else "import.nbgrader.locked_cell"
            if locked
            else "import.nbgrader.answer_cell"
        )
        recorded = m.get("cell_type")
        if (grade or solution or locked) and recorded and recorded != cell.get("cell_type"):
            found.append(
                Change(cell_where(i, cell), what, str(recorded), str(cell.get("cell_type")))
            )
        elif locked and "checksum" in m and m["checksum"] != compute_checksum(cell):
            found.append(Change(cell_where(i, cell), what))
    return found


def changes_summary(changes: list[Change]) -> str:
    """nbgrader validate's verdict in the course's language: type changes first, as it reports."""
    typed = [c for c in changes if c.new_type]
    if typed:
        cells = ", ".join(c.where for c in typed)
        return say("import.nbgrader.type_changed", n=len(typed), cells=cells)
    if changes:
        cells = ", ".join(c.where for c in changes)
        return say("import.nbgrader.changed", n=len(changes), cells=cells)
    return ""


def stored_flags(folder: Path) -> list[dict[str, str]]:
    """Tamper flags for the nbgrader notebook(s) kept in a stored submission (``grade`` adds them)."""
    flags = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        for c in validate(nb) if isinstance(nb, dict) else []:
            if c.new_type:
                message = say(
                    "import.nbgrader.flag_type", what=c.what, cell=c.where, old=c.old_type,
                    new=c.new_type,
                )  # fmt: skip
            else:
                message = say("import.nbgrader.flag_changed", what=c.what, cell=c.where)
            code = "nbgrader-type-changed" if c.new_type else "nbgrader-changed"
            flags.append({"code": code, "where": c.where[:200], "message": message})
    return flags
