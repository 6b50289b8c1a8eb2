"""Who may read what in a course: the modes casekit creates its files with, and who wrote a hand-in.

Private by default (DESIGN.md "The trust boundary"): the build (instructor
editions, keys files), the submission store, the quarantine, the gradebook and
``.casekit/`` (the course secret, the hub's state) are created readable by the
course's owner only, by every command that creates them, whatever the umask.
The exchange is the one place other accounts reach, the way nbgrader's is:

* ``exchange/`` and ``exchange/<cohort>/``, ``outbox/``: pass-through (0711):
  an account reaches its own folder by name and lists nothing;
* ``outbox/<trainee>/``: the trainee's own (0700, given to the trainee's local
  account when one exists and casekit runs as root), so a released workbook and
  its release token are readable by their trainee only;
* ``inbox/`` and ``live/``: drop boxes (sticky, setgid: 3733): any account
  creates its hand-in there, none lists it or removes another's, and what is
  created takes the course owner's group, so the owner (and nobody else) can
  read it. A hand-in is written 0750/0640.

A local account is an identity: `handin_account` tells ``collect`` which
account wrote a hand-in (the files' owner), and whether that says nothing
because every hand-in is written by the course owner's own account (one
shared account, an instructor's laptop).
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kit import artifacts
from kit.messages import t
from kit.problems import Problem

if TYPE_CHECKING:
    from kit.course import Course
    from kit.problems import Problem

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PASS_DIR = 0o711
DROP_DIR = 0o3733
HANDIN_DIR = 0o750
HANDIN_FILE = 0o640
#: group and other bits that make a private file or folder open to others
OPEN_BITS = 0o077


@dataclass(frozen=True)
class Place:
    """One path casekit creates, with the mode it gets and whether it must stay private."""

    path: Path
    mode: int
    directory: bool = True

    @property
    def private(self) -> bool:
        return not self.mode & OPEN_BITS


def quarantine_dir(course: Course, cohort: str) -> Path:
    """Hand-ins `collect` could not take, each with its cause (never graded, never anybody's)."""
    return course.root / "quarantine" / cohort


def root_places(root: Path) -> list[Place]:
    """The owner-only places of a course folder."""
    return [
        Place(root / ".casekit", PRIVATE_DIR),
        Place(root / "build", PRIVATE_DIR),
        Place(root / "submissions", PRIVATE_DIR),
        Place(root / "quarantine", PRIVATE_DIR),
        Place(root / "gradebook.sqlite", PRIVATE_FILE, directory=False),
    ]


def places(course: Course, cohort: str | None = None) -> list[Place]:
    """The paths of a course (of one cohort's exchange) whose modes casekit sets on creation."""
    found = root_places(course.root) + [Place(course.exchange_dir, PASS_DIR)]
    for co in [cohort] if cohort else list(course.cohorts):
        base = course.exchange_dir / co
        found += [
            Place(base, PASS_DIR),
            Place(base / "outbox", PASS_DIR),
            Place(artifacts.inbox_dir(course.exchange_dir, co), DROP_DIR),
            Place(base / "live", DROP_DIR),
        ]
    return found


def protect_course(
    course: Course, cohort: str | None = None, *, only: tuple[str, ...] | None = None
) -> None:
    """Create the course's private places and the exchange with their modes (existing ones are left as they are).

    Called before anything is written by ``build``, ``release``, ``collect``
    and ``grade``, so the first file of each lands in a folder created right.
    ``only`` names the course folder's places to create (with the exchange);
    all of them when None. An existing place is not changed: ``casekit check`` names it if it is open
    to others (`open_places`), and the instructor decides.
    """
    found = places(course, cohort)
    if only is not None:  # a command creates what it writes, and no empty folder it does not
        found = [
            p for p in found if p.path.name in only or p.path.is_relative_to(course.exchange_dir)
        ]
    _create(found)


def protect_root(root: Path, only: tuple[str, ...]) -> None:
    """`protect_course` for some of the course folder's own places (before a course is loaded: ``build``)."""
    if (Path(root) / "course.toml").is_file():
        _create([p for p in root_places(Path(root)) if p.path.name in only])


def _create(found: list[Place]) -> None:
    for place in found:
        if place.path.exists() or place.path.is_symlink():
            continue
        if not place.directory and not _is_the_gradebook(place.path):
            continue  # the course keeps its gradebook elsewhere (PostgreSQL, another file)
        try:
            place.path.parent.mkdir(parents=True, exist_ok=True)
            if place.directory:
                place.path.mkdir()
            else:
                os.close(os.open(place.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, place.mode))
            os.chmod(place.path, place.mode)  # whatever the umask took away or left
        except FileExistsError:
            continue  # another process made it first
        except PermissionError:
            continue  # not the course's owner: whoever owns it decides (check says so)


def open_places(course: Course) -> list[tuple[Path, int, int]]:
    """``(path, mode, wanted)`` of each existing private place that others can read or enter."""
    found = []
    for place in places(course):
        try:
            mode = stat.S_IMODE(os.lstat(place.path).st_mode)
        except OSError:
            continue
        if place.private and mode & OPEN_BITS:
            found.append((place.path, mode, place.mode))
        elif place.mode in (PASS_DIR, DROP_DIR) and mode & 0o004:  # listable: shows every name
            found.append((place.path, mode, place.mode))
    return found


def open_problems(course: Course) -> list[Problem]:
    """``check``'s warnings: one per private place others can read, with the chmod that fixes it."""

    return [
        Problem(
            str(path),
            "",
            "open-to-others",
            t("access.open", mode=f"{mode:o}"),
            t("access.open_fix", path=path, mode=f"{wanted:o}"),
            severity="warning",
        )
        for path, mode, wanted in open_places(course)
    ]


# ---------------------------------------------------------------- the trainee's side


def make_handin_dirs(path: Path) -> None:
    """Create `path` and missing parents as a hand-in's folders (0750: the owner's group reads)."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, HANDIN_DIR)
        except FileExistsError:
            pass


def make_drop_dir(path: Path) -> None:
    """Create a shared drop folder below a drop box (a live class's answers): anyone adds, the owner's group lists.

    1773: whoever creates it first, every account can add its own file, none
    can remove another's, and the course owner's group (inherited from the
    drop box) can list it.
    """
    if path.is_dir():
        return
    make_handin_dirs(path)
    try:
        os.chmod(path, 0o1773)
    except PermissionError:
        pass  # another account made it first: its mode is already this one


def write_handin_file(path: Path, data: bytes) -> None:
    """Write one new file of a hand-in (0640, never through an existing file or link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, HANDIN_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def account_uid(name: str) -> int | None:
    """The uid of the local account `name`, or None when there is none."""
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, OSError):
        return None


def account_name(uid: int) -> str | None:
    """The local account of `uid`, or None when it has no name."""
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OSError):
        return None


def give_to_trainee(folder: Path, files: list[Path], trainee: str) -> None:
    """Make a trainee's outbox folder and its files readable by that trainee only.

    The folder is 0700 and the files 0600; when a local account is named like
    the trainee and casekit runs as root, they are given to that account,
    otherwise they stay the course owner's (one shared account, or the hub's
    service hands them out).
    """
    uid = account_uid(trainee) if os.geteuid() == 0 else None
    for path, mode in [(folder, PRIVATE_DIR)] + [(f, PRIVATE_FILE) for f in files]:
        if uid is not None:
            os.chown(path, uid, -1, follow_symlinks=False)
        os.chmod(path, mode)


@dataclass(frozen=True)
class Writer:
    """Which local account wrote a hand-in, as its files' owner says.

    ``account`` is the trainee-side account's name when one account other than
    the course owner's (and root's) wrote every file; ``shared`` when the
    course owner's own account wrote them (everyone shares one account: the
    account says nothing); ``mixed`` when several accounts wrote its files.
    """

    account: str | None = None
    shared: bool = False
    mixed: bool = False
    uid: int | None = None


def course_owner(course_root: Path) -> int:
    """The uid that owns the course (its ``course.toml``, else its folder)."""
    root = Path(course_root)
    try:
        return (root / "course.toml").stat().st_uid
    except OSError:
        return root.stat().st_uid


def instructor_side(course_root: Path, exchange: Path) -> set[int]:
    """Accounts whose files are the instructor side's own: root, the course's owner, and the
    exchange's (on a hub the exchange service runs as its own account and files hand-ins)."""
    uids = {0, course_owner(course_root)}
    try:
        uids.add(Path(exchange).stat().st_uid)
    except OSError:
        pass
    return uids


def handin_writer(uids: set[int], trusted: set[int]) -> Writer:
    """The account that wrote a hand-in whose files are owned by `uids` (`trusted`: the instructor side's)."""
    others = uids - trusted
    if not others:
        return Writer(shared=True)
    if len(uids) > 1:
        return Writer(mixed=True)
    uid = next(iter(others))
    return Writer(account=account_name(uid) or f"uid {uid}", uid=uid)


def _is_the_gradebook(path: Path) -> bool:
    """Whether the course of `path` keeps its gradebook in that SQLite file (created empty, private)."""
    return artifacts.gradebook_url(path.parent) == f"sqlite:///{path.resolve()}"
