"""Who can reach what on a hub machine: the course for its owner and the service, Python for trainees.

Trainees' servers run as the trainees' own system users, so the Python
environment casekit runs in (its ``bin/``, its packages and casekit's own
code) must be reachable by them, while nothing else of the course is. With
the course in the repository and ``.venv`` beside it (what ``make setup``
gives), the course folder is entered by everybody (``o+x``, not ``o+r``)
and every other top-level entry is closed to others, as is every entry made
there later (a default ACL: the gradebook, ``submissions/``); otherwise the
course folder is ``0750``. Its user owner stays (the instructor who cloned it keeps
building and running the live view); its group becomes the course owner's,
the system user the exchange service runs as.

Before a hub starts, a trainee account actually runs the environment
(`check_as_trainee`): a permission anywhere on the way shows as one sentence
naming the folder, never as a 500 on each trainee's first click.
"""

from __future__ import annotations

import os
import pwd
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import kit
from kit import artifacts
from kit.course import Course
from kit.hub.errors import HubError
from kit.messages import t

#: What a trainee's server imports at start (the server, Voilà, the questions in the kernel).
TRAINEE_IMPORTS = "import jupyterhub.singleuser, voila.app, ipykernel, kit.questions"


def bin_dir() -> Path:
    """The environment's ``bin/`` as invoked (a venv's, not the interpreter it links to)."""
    return Path(sys.executable).parent


def trainee_paths() -> list[Path]:
    """Everything a trainee's server must reach: the environment and casekit's code."""
    code = Path(kit.__file__).resolve().parent
    prefix = Path(sys.prefix)
    return [
        bin_dir() / "jupyterhub-singleuser",
        Path(os.path.realpath(sys.executable)),
        prefix,
        prefix.resolve(),
        code,
    ]


def closed_folder(path: Path, inside: Path | None = None) -> Path | None:
    """The first folder on the way to `path` that others cannot enter (None: all open).

    Folders at or below `inside` (the course, which `lay_out_for_hub` opens) are skipped.
    """
    path = Path(os.path.abspath(path))
    for parent in reversed(path.parents):
        if inside is not None and parent.is_relative_to(inside):
            continue
        try:
            if not os.stat(parent).st_mode & 0o001:
                return parent
        except OSError:
            return parent
    return None


def check_reachable(course_root: Path) -> None:
    """Before any account is made: the environment and the course are on paths others can enter."""
    root = Path(os.path.abspath(course_root))
    for path in trainee_paths():
        blocked = closed_folder(path, inside=root)
        if blocked is not None:
            raise HubError(t("hub.python_unreachable", folder=str(blocked), python=str(path)))
    blocked = closed_folder(root / "course.toml")
    if blocked is not None and blocked != root:
        raise HubError(t("hub.course_unreachable", folder=str(blocked)))


def _needed_inside(root: Path) -> set[str]:
    """Top-level entries of the course that trainees' servers must reach (e.g. ``.venv``, ``kit``)."""
    names = set()
    for path in trainee_paths():
        for p in {Path(os.path.abspath(path)), path.resolve()}:
            if p.is_relative_to(root) and p != root:
                names.add(p.relative_to(root).parts[0])
    return names


def close_new_entries(folder: Path) -> None:
    """A default ACL on `folder`: whatever is made in it later (the gradebook, submissions/) is
    closed to others from the start, whatever the umask of the command that makes it."""
    # owner rwx, group r-x, others nothing
    acl = _acl([(0x01, 0o7, _UNDEFINED), (0x04, 0o5, _UNDEFINED), (0x20, 0, _UNDEFINED)])
    try:
        os.setxattr(folder, "system.posix_acl_default", acl)
    except OSError as exc:
        raise HubError(t("hub.course_holds_env", folder=str(folder), error=exc.strerror)) from exc


_UNDEFINED = 0xFFFFFFFF  # the id of an ACL entry that names no user or group


def _acl(entries: list[tuple[int, int, int]]) -> bytes:
    """A POSIX ACL as the kernel's xattr holds it: version 2, then (tag, perm, id) entries."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def grant_tree(folder: Path, uid: int) -> None:
    """User `uid` may read and write `folder`'s tree, and what is made in it later (ACLs).

    The course's owner keeps using the exchange folder the service owns (their
    ``casekit live`` reads the room's answers and publishes its state there)
    without the folder opening to anybody else and without a new login.
    """
    for dirpath, dirnames, filenames in os.walk(folder):
        for name, is_dir in [(dirpath, True), *((os.path.join(dirpath, f), False) for f in filenames),
                             *((os.path.join(dirpath, d), True) for d in dirnames)]:  # fmt: skip
            if os.path.islink(name):
                continue
            mode = os.stat(name).st_mode
            mine = 0o7 if is_dir else 0o6
            group = (mode >> 3) & 0o7
            access = [(0x01, (mode >> 6) & 0o7, _UNDEFINED), (0x02, mine, uid),
                      (0x04, group, _UNDEFINED), (0x10, mine | group, _UNDEFINED),
                      (0x20, 0, _UNDEFINED)]  # fmt: skip
            os.setxattr(name, "system.posix_acl_access", _acl(access))
            if is_dir:
                default = [(0x01, 0o7, _UNDEFINED), (0x02, 0o7, uid), (0x04, 0o7, _UNDEFINED),
                           (0x10, 0o7, _UNDEFINED), (0x20, 0, _UNDEFINED)]  # fmt: skip
                os.setxattr(name, "system.posix_acl_default", _acl(default))


def lay_out_for_hub(course: Course, owner: pwd.struct_passwd) -> None:
    """The course reachable by its owner and the service only; exchange and .casekit the owner's."""
    root = Path(os.path.abspath(course.root))
    open_ = _needed_inside(root)
    exchange = course.exchange_dir
    exchange.mkdir(exist_ok=True)
    private = artifacts.secret_path(root).parent
    os.chown(root, -1, owner.pw_gid)
    os.chmod(root, 0o751 if open_ else 0o750)
    if open_:  # others may enter the folder: every entry but the environment is closed to them
        close_new_entries(root)
        for entry in root.iterdir():
            if entry.name in open_ or entry.is_symlink():
                continue
            os.chmod(entry, entry.stat().st_mode & ~0o007)
    for dirpath, dirnames, filenames in os.walk(exchange):
        for n in [dirpath, *(os.path.join(dirpath, f) for f in dirnames + filenames)]:
            os.lchown(n, owner.pw_uid, owner.pw_gid)
    os.chmod(exchange, 0o700)
    author = os.stat(root / "course.toml").st_uid
    if author not in (0, owner.pw_uid):  # the instructor who owns the course folder
        try:
            grant_tree(exchange, author)
        except OSError:  # no ACLs here: `sudo casekit live` still reads it
            pass
    # the secret is the service's to read; the hub's own state below .casekit/hub stays root's
    for p in (private, artifacts.secret_path(root)):
        os.lchown(p, owner.pw_uid, owner.pw_gid)
    os.chmod(private, 0o700)


def check_as_trainee(username: str) -> None:
    """Run the server's environment as `username`; a failure names what to change."""
    bin_ = bin_dir()
    for cmd in (
        [str(bin_ / "jupyterhub-singleuser"), "--version"],
        [str(bin_ / "python"), "-c", TRAINEE_IMPORTS],
    ):
        proc = subprocess.run(
            [shutil.which("runuser") or "/usr/sbin/runuser", "-u", username, "--", *cmd],
            capture_output=True,
            text=True,
            cwd="/",
            env={"PATH": f"{bin_}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/"},
        )
        if proc.returncode != 0:
            said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            blocked = next(
                (b for p in trainee_paths() if (b := closed_folder(p)) is not None), None
            )
            fix = (
                t("hub.trainee_fix_folder", folder=str(blocked))
                if blocked is not None
                else t("hub.trainee_fix_install", python=str(bin_ / "python"))
            )
            raise HubError(
                t(
                    "hub.trainee_cannot_run",
                    user=username,
                    command=" ".join(cmd),
                    said=said[-1] if said else "",
                    fix=fix,
                )
            )
