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
from kit.problems import CourseError
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


def _read_edition(path: Path) -> Any:
    """The trainee edition at `path`, or a ReleaseFailure saying why it cannot be released."""
    import nbformat

    if not path.exists():
        return ReleaseFailure(str(path), t("release.not_built"))
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:
        return ReleaseFailure(str(path), t("release.unreadable", error=exc))


def _practice(mode: str, where: artifacts.BuildPaths, tid: str) -> dict | None:
    """A practice session's salted answer hashes for trainee `tid`; None for any other session."""
    if mode != "practice":
        return None
    # The build writes salted hashes beside the trainee edition;
    # without them, derive them from the instructor keys file.
    if where.practice.exists():
        practice = artifacts.read_practice(where.practice)
    else:
        practice = _practice_for(where.keys, tid)
    return practice or None


def _setup_cell(src: str) -> Any:
    """The locked, hidden setup cell running `src`, with the hash that shows it untouched."""
    import nbformat

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
    return cell


def _personalised(base_nb: Any, src: str, stamp: dict[str, str]) -> Any:
    """A copy of the trainee edition whose first cell is its own setup cell, `stamp` in its metadata."""
    import nbformat

    nb = nbformat.from_dict(json.loads(json.dumps(base_nb)))
    nb.cells = [c for c in nb.cells if (c.metadata.get("casekit") or {}).get("role") != "setup"]
    nb.cells.insert(0, _setup_cell(src))
    nb.metadata.setdefault("casekit", {})
    nb.metadata["casekit"].pop("practice", None)
    nb.metadata["casekit"].update(stamp)
    return nb


@dataclass
class _Release:
    """One `release()` run: the cohort, the exchange and its signing secret, what came of each item."""

    course: Course
    cohort: str
    exchange: Path
    secret: bytes
    result: ReleaseResult = field(default_factory=ReleaseResult)
    editions: dict[Path, Any] = field(default_factory=dict)  # path → notebook or ReleaseFailure

    def item(self, session: str, mode: str, row: Any) -> None:
        """Release `session` to the trainee of roster `row`; a failure is recorded, not raised."""
        tid = str(row["id"])
        # the trainee's own variant where the session has one per trainee, else the cohort's
        where = artifacts.build_paths(self.course, self.cohort, session, tid)
        if where.trainee not in self.editions:
            self.editions[where.trainee] = _read_edition(where.trainee)
        base_nb = self.editions[where.trainee]
        if isinstance(base_nb, ReleaseFailure):
            if base_nb not in self.result.failures:  # one line per missing edition, not per trainee
                self.result.failures.append(base_nb)
            return
        try:
            check_id(tid, "trainee id")
            nb = self._workbook(base_nb, session, mode, row, _practice(mode, where, tid))
            self._write(artifacts.outbox_path(self.exchange, self.cohort, tid, session), nb, tid)
        except Exception as exc:  # one trainee's failure never sinks the batch
            self.result.failures.append(ReleaseFailure(f"{tid}/{session}", str(exc)))

    def _workbook(
        self, base_nb: Any, session: str, mode: str, row: Any, practice: dict | None
    ) -> Any:
        """The workbook of `session` for the trainee of `row`, with its setup cell and token."""
        # not at the top: kit.notebooks imports nbformat (2.4 s of jsonschema grammar), and
        # every workbook imports this package when it opens (kit.workbook.open_workbook)
        from kit.exchange.trust import release_token
        from kit.notebooks import title_of

        tid = str(row["id"])
        language = self.course.language
        src = setup_source(
            session,
            title=title_of(base_nb, session),
            trainee=tid,
            name=str(row.get("name") or "") or None,
            cohort=self.cohort,
            mode=mode,
            exchange=self.exchange,
            language=language,
            practice=practice,
            due=due.isoformat() if (due := self.course.due_at(self.cohort, session)) else None,
            zone=str(self.course.zone),
        )
        nb = _personalised(
            base_nb,
            src,
            {
                "trainee": tid,
                "session": session,
                "cohort": self.cohort,
                "mode": mode,
                # where and in what words a blank copy hands in (kit.workbook.handin)
                "exchange": str(self.exchange),
                "language": language,
            },
        )
        nb.metadata["casekit"]["release"] = release_token(self.secret, self.cohort, session, tid)
        return nb

    def _write(self, target: Path, nb: Any, tid: str) -> None:
        """Write `nb` to `target` for trainee `tid` only, unless it holds these bytes already."""
        import nbformat

        data = (nbformat.writes(nb) + "\n").encode("utf-8")
        if target.exists() and target.read_bytes() == data:
            self.result.unchanged.append(target)
            return
        target.parent.mkdir(mode=access.PRIVATE_DIR, parents=True, exist_ok=True)
        atomic_write(target, data)
        # its release token is a bearer token: readable by its trainee only
        access.give_to_trainee(target.parent, [target], tid)
        self.result.written.append(target)


def _open_exchange(course: Course, cohort: str, exchange: Path) -> bytes:
    """The course's signing secret, once the build and the exchange are made private."""
    from kit.exchange.clients import mark_exchange
    from kit.exchange.trust import course_secret, secret_path

    # release tokens (who a copy was released to) and the folder exchange's signing
    secret = course_secret(course.root)
    if secret is None:  # unreadable (another user's course) or damaged: no copy without a token
        raise CourseError.at(
            secret_path(course.root), t("release.no_secret"), t("release.no_secret_fix")
        )
    # private by default (kit.access): the exchange and the build before anything lands in them
    access.protect_course(course, cohort, only=())
    mark_exchange(exchange, course.root)
    return secret


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
    from kit.course import as_course

    course_obj = as_course(course)  # a broken course raises CourseError (problems listed)
    co = course_obj.cohort(cohort)
    roster = co.roster.reset_index() if "id" not in co.roster.columns else co.roster
    modes = {s.session: s.mode for s in co.sessions}
    if sessions is None:
        sessions = list(modes)
    rows = [r for _, r in roster.iterrows() if trainees is None or str(r["id"]) in trainees]
    exchange = course_obj.exchange_dir
    run = _Release(course_obj, cohort, exchange, _open_exchange(course_obj, cohort, exchange))
    for session in sessions:
        mode = modes.get(session, "assessed")
        for row in rows:
            run.item(session, mode, row)
    return run.result
