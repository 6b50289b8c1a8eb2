"""What ``collect`` checks of each hand-in before it is stored, and where a refused one goes.

Bad input is the submitter's problem, not the cohort's: every file casekit
will parse (a workbook, an answer store, a receipt, any notebook another tool
handed in) is read once here within caps on size and depth
(:mod:`kit.untrusted`); one that fails makes its whole hand-in quarantined
with the cause, and ``collect`` goes on with the others.

Who handed in is decided per source (`SOURCES`): each says what its folders
and files can vouch for. A refused or unidentifiable hand-in is copied to
``quarantine/<cohort>/<digest>/`` (private, with ``cause.json``); it is never
graded and replaces nobody's work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from kit import access, artifacts
from kit.untrusted import MAX_ANSWERS, BadInput, OverCap, load_json

if TYPE_CHECKING:
    from kit.course import Course


@dataclass(frozen=True)
class Source:
    """Where hand-ins come from and what that says about who handed each in.

    ``accounts``: its files' owners are the local accounts that wrote them (a
    folder on this machine); ``chosen``: the instructor picked it (a folder or
    an archive downloaded from elsewhere), so another tool's submission in it
    is taken by its folder's name, as that tool's exchange filed it.
    """

    name: str
    accounts: bool
    chosen: bool


#: The kinds of source ``collect`` reads. A new one (an LMS download, another tool's
#: exchange) is a new entry here with its identity rule.
SOURCES = {
    "inbox": Source("inbox", accounts=True, chosen=False),
    "folder": Source("folder", accounts=True, chosen=True),
    "archive": Source("archive", accounts=False, chosen=True),
    "service": Source("service", accounts=False, chosen=False),
}

# The names casekit parses in a hand-in (anything else is an upload, stored as it is).
_PARSED = (artifacts.WORKBOOK, artifacts.ANSWERS, artifacts.RECEIPT)


def _parsed(name: str) -> bool:
    path = PurePosixPath(name)
    if path.name in _PARSED:
        return True
    # another tool's notebook (kit.importers reads it); uploads under files/ are not parsed
    return path.suffix == ".ipynb" and artifacts.FILES not in path.parts


def screen(files: dict[str, bytes], max_bytes: int) -> dict[str, str]:
    """{file name: why it cannot be read} for every file of the tree casekit would parse past a cap.

    Depth, size, memory and the number of answers; a file that is merely not
    JSON is left to the rest of collect and to grade, which record it as the
    trainee's failure.
    """
    bad: dict[str, str] = {}
    for name, data in files.items():
        if not _parsed(name):
            continue
        try:
            doc = load_json(data, max_bytes=max_bytes)
        except OverCap as exc:
            bad[name] = str(exc)
            continue
        except BadInput:
            # plain broken JSON costs nobody anything: stored, and graded as the trainee's failure
            continue
        if PurePosixPath(name).name == artifacts.ANSWERS:
            answers = doc.get("answers") if isinstance(doc, dict) else None
            if isinstance(answers, dict) and len(answers) > MAX_ANSWERS:
                bad[name] = f"holds {len(answers)} answers (at most {MAX_ANSWERS})"
    return bad


def in_group(root: str, names: dict[str, str] | dict[str, int]) -> dict:
    """The entries of `names` that lie in the hand-in whose folder is `root`."""
    if root.endswith(".ipynb") and root in names:
        return {root: names[root]}
    prefix = "" if root == "." else root + "/"
    return {n: v for n, v in names.items() if n.startswith(prefix) or n == root}


def writer_of(root: str, owners: dict[str, int], trusted: set[int]) -> access.Writer | None:
    """The account that wrote the hand-in at `root`, or None when its files have no owner here."""
    uids = set(in_group(root, owners).values())
    return access.handin_writer(uids, trusted) if uids else None


def quarantine(
    course: Course, cohort: str, label: str, files: dict[str, bytes], cause: str
) -> Path:
    """Keep a refused hand-in apart with its cause; the same content is kept once."""
    digest = artifacts.submission_digest(files)[:16]
    dest = access.quarantine_dir(course, cohort) / digest
    if dest.exists():
        return dest
    tmp = dest.with_name(f".tmp-{digest}")
    tmp.mkdir(mode=access.PRIVATE_DIR, parents=True, exist_ok=True)
    for name, data in files.items():
        parts = [p for p in PurePosixPath(name).parts if p not in ("", ".", "..", "/")]
        if not parts:
            continue
        target = tmp.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    doc = {"source": label, "cause": cause}
    (tmp / "cause.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    tmp.rename(dest)
    return dest
