"""Tamper checks: what a handed-in workbook changed of what was released locked,
and answers to questions the session never asked.

Flags never change a score (grading uses the instructor's content); the
instructor sees them beside the grade (:mod:`kit.grading.autograde`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from kit.grading.keys import SessionKeys
from kit.messages import t as say
from kit.notebooks import casekit_meta, cell_role, checksum, source


def tamper_flags(
    submitted: Any | None, keys: SessionKeys, answers: dict[str, Any]
) -> list[dict[str, str]]:
    """Flags for a submission: locked cells changed or removed, tests edited or removed, unknown answers.

    Cells are matched by cell id, then by the lock checksum in their metadata,
    so moved or added cells are not flagged. Flags never change a score
    (grading uses the instructor's content); they are shown to the instructor.
    """
    flags: list[dict[str, str]] = []
    roles = _roles(keys)
    if submitted is not None:
        by_id = {c.get("id"): c for c in submitted.cells if c.get("id")}
        by_lock = {
            casekit_meta(c).get("lock"): c for c in submitted.cells if casekit_meta(c).get("lock")
        }
        for cid, sha in keys.locks.items():
            cell = by_id.get(cid) or by_lock.get(sha)
            is_test = roles.get(cid) in ("tests", "hidden-tests")
            if cell is not None and _checksum(source(cell)) == sha:
                continue  # as released: most cells of most workbooks
            what = say("tamper.tests_cell" if is_test else "tamper.locked_cell")
            if cell is None:
                flags.append(
                    {
                        "code": "tests-removed" if is_test else "locked-removed",
                        "where": f"cell {cid}",
                        "message": say("tamper.removed", what=what, cell=cid),
                    }
                )
            else:
                flags.append(
                    {
                        "code": "tests-edited" if is_test else "locked-changed",
                        "where": f"cell {cid}",
                        "message": say("tamper.changed", what=what, cell=cid),
                    }
                )
    unknown = [qid for qid in answers if qid not in keys.questions]
    if len(unknown) == 1:
        flags.append(
            {
                "code": "unknown-question",
                "where": f"question {unknown[0]}"[:200],
                "message": say("tamper.unknown_question", qid=unknown[0]),
            }
        )
    elif unknown:  # counted in one flag: a million made-up ids are one fact, not a million rows
        first = min(unknown, key=str)
        flags.append(
            {
                "code": "unknown-question",
                "where": f"question {first}"[:200],
                "message": say("tamper.unknown_questions", n=len(unknown), first=str(first)[:80]),
            }
        )
    return flags


_ROLES: dict[str, dict[Any, str]] = {}


def _roles(keys: SessionKeys) -> dict[Any, str]:
    """The role of each instructor cell by id, worked out once per keys file (not per submission)."""
    found = _ROLES.get(keys.fingerprint)
    if found is None:
        if len(_ROLES) > 256:
            _ROLES.clear()
        found = _ROLES[keys.fingerprint] = {
            c.get("id"): cell_role(c) for c in keys.instructor.cells
        }
    return found


# most handed-in cells are the released ones, byte for byte: their checksums are worked out once
_checksum = lru_cache(maxsize=8192)(checksum)
