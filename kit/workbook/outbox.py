"""``release``: one personalised workbook per trainee and session into the exchange outbox."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit import access, artifacts, kinds
from kit.kinds.base import PracticeHashes
from kit.messages import t
from kit.workbook.handin import check_id
from kit.workbook.store import atomic_write

if TYPE_CHECKING:  # a type only: the kernel imports this package and must stay light
    from kit.course import Course

SETUP_CELL_ID = "casekit-setup"

# ------------------------------------------------------------------- release


@dataclass
class ReleaseFailure:
    """One item `release()` could not write, with its cause."""

    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.message}"


@dataclass
class ReleaseResult:
    """Outcome of `release()`: files written, unchanged, failures."""

    written: list[Path] = field(default_factory=list)
    failures: list[ReleaseFailure] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def setup_source(
    session: str,
    *,
    trainee: str,
    name: str | None,
    cohort: str,
    mode: str,
    exchange: Path,
    language: str,
    practice: dict | None,
    title: str | None = None,
    due: str | None = None,
    zone: str | None = None,
) -> str:
    """Source of the locked first cell of a released workbook."""
    note = t("release.setup_note", language)
    return (
        f"{note}\n"
        "from kit.workbook import open_workbook\n\n"
        # Assigned, so the cell shows the panel and not the object's repr.
        "_workbook = open_workbook(\n"
        f"    {session!r},\n"
        f"    title={title!r},\n"
        f"    trainee={trainee!r},\n"
        f"    name={name!r},\n"
        f"    cohort={cohort!r},\n"
        f"    mode={mode!r},\n"
        f"    exchange={str(exchange)!r},\n"
        f"    language={language!r},\n"
        f"    practice={practice!r},\n"
        f"    due={due!r},\n"
        f"    zone={zone!r},\n"
        ")\n"
    )


def _practice_for(keys_file: Path, trainee: str) -> dict[str, PracticeHashes]:
    """Practice hashes from the instructor keys file, for a build that wrote none.

    The salt is derived from the keys file and the trainee, so it is stable
    between releases (idempotent) yet not computable from the workbook.
    """
    if not keys_file.exists():
        return {}
    keys, data = artifacts.read_keys(keys_file)
    return kinds.practice_table(keys, artifacts.practice_secret(data + trainee.encode()))


def release(
    course: Course | Path,
    cohort: str,
    *,
    sessions: list[str] | None = None,
    trainees: list[str] | None = None,
) -> ReleaseResult:
    """Write one personalised workbook per trainee and session into the outbox.

    Reads ``cohorts/<cohort>/roster.csv`` and ``schedule.csv`` and the built
    trainee editions ``build/<cohort>/trainee/<session>.ipynb``; writes
    ``exchange/<cohort>/outbox/<trainee>/<session>.ipynb`` whose first cell is
    a locked setup cell calling `open_workbook`. Unchanged files are not
    rewritten; a failing item is reported and the rest continue.
    """
    import nbformat

    from kit.course import CourseError, as_course

    course_obj = as_course(course)  # a broken course raises CourseError (problems listed)
    result = ReleaseResult()
    co = course_obj.cohort(cohort)
    roster = co.roster.reset_index() if "id" not in co.roster.columns else co.roster
    modes = {s.session: s.mode for s in co.sessions}
    if sessions is None:
        sessions = list(modes)
    rows = [r for _, r in roster.iterrows() if trainees is None or str(r["id"]) in trainees]
    language = course_obj.language
    exchange = course_obj.exchange_dir
    # not at the top: kit.notebooks imports nbformat (2.4 s of jsonschema grammar), and
    # every workbook imports this package when it opens (kit.workbook.open_workbook)
    from kit.exchange.clients import mark_exchange
    from kit.exchange.trust import course_secret, release_token, secret_path
    from kit.notebooks import title_of

    # release tokens (who a copy was released to) and the folder exchange's signing
    secret = course_secret(course_obj.root)
    if secret is None:  # unreadable (another user's course) or damaged: no copy without a token
        raise CourseError.at(
            secret_path(course_obj.root), t("release.no_secret"), t("release.no_secret_fix")
        )
    # private by default (kit.access): the exchange and the build before anything lands in them
    access.protect_course(course_obj, cohort, only=())
    mark_exchange(exchange, course_obj.root)
    editions: dict[Path, Any] = {}  # trainee edition → notebook, or why it cannot be released

    def edition(path: Path) -> Any:
        if path not in editions:
            if not path.exists():
                editions[path] = ReleaseFailure(str(path), t("release.not_built"))
            else:
                try:
                    editions[path] = nbformat.read(path, as_version=4)
                except Exception as exc:
                    why = t("release.unreadable", error=exc)
                    editions[path] = ReleaseFailure(str(path), why)
        return editions[path]

    for session in sessions:
        mode = modes.get(session, "assessed")
        for row in rows:
            tid = str(row["id"])
            item = f"{tid}/{session}"
            # the trainee's own variant where the session has one per trainee, else the cohort's
            where = artifacts.build_paths(course_obj, cohort, session, tid)
            base_nb = edition(where.trainee)
            if isinstance(base_nb, ReleaseFailure):
                if base_nb not in result.failures:  # one line per missing edition, not per trainee
                    result.failures.append(base_nb)
                continue
            try:
                check_id(tid, "trainee id")
                practice = None
                if mode == "practice":
                    # The build writes salted hashes beside the trainee edition;
                    # without them, derive them from the instructor keys file.
                    if where.practice.exists():
                        practice = artifacts.read_practice(where.practice)
                    else:
                        practice = _practice_for(where.keys, tid)
                    practice = practice or None
                src = setup_source(
                    session,
                    title=title_of(base_nb, session),
                    trainee=tid,
                    name=str(row.get("name") or "") or None,
                    cohort=cohort,
                    mode=mode,
                    exchange=exchange,
                    language=language,
                    practice=practice,
                    due=due.isoformat() if (due := course_obj.due_at(cohort, session)) else None,
                    zone=str(course_obj.zone),
                )
                nb = nbformat.from_dict(json.loads(json.dumps(base_nb)))
                nb.cells = [
                    c for c in nb.cells if (c.metadata.get("casekit") or {}).get("role") != "setup"
                ]
                cell = nbformat.v4.new_code_cell(src)
                cell.id = SETUP_CELL_ID
                cell.metadata["tags"] = ["locked"]
                cell.metadata["editable"] = False
                cell.metadata["deletable"] = False
                cell.metadata["jupyter"] = {"source_hidden": True}  # the panel is what counts
                cell.metadata["casekit"] = {
                    "role": "setup",
                    "lock": hashlib.sha256(src.encode()).hexdigest(),
                }
                nb.cells.insert(0, cell)
                nb.metadata.setdefault("casekit", {})
                nb.metadata["casekit"].pop("practice", None)
                nb.metadata["casekit"].update(
                    {
                        "trainee": tid,
                        "session": session,
                        "cohort": cohort,
                        "mode": mode,
                        # where and in what words a blank copy hands in (kit.workbook.handin)
                        "exchange": str(exchange),
                        "language": language,
                    }
                )
                nb.metadata["casekit"]["release"] = release_token(secret, cohort, session, tid)
                target = artifacts.outbox_path(exchange, cohort, tid, session)
                data = (nbformat.writes(nb) + "\n").encode("utf-8")
                if target.exists() and target.read_bytes() == data:
                    result.unchanged.append(target)
                    continue
                target.parent.mkdir(mode=access.PRIVATE_DIR, parents=True, exist_ok=True)
                atomic_write(target, data)
                # its release token is a bearer token: readable by its trainee only
                access.give_to_trainee(target.parent, [target], tid)
                result.written.append(target)
            except Exception as exc:  # one trainee's failure never sinks the batch
                result.failures.append(ReleaseFailure(item, str(exc)))
    return result
