"""`kit.hub`: a cohort's JupyterHub on one machine — accounts, homes, configuration, start, stop.

What ``casekit hub start COHORT`` does (as root; every step is idempotent):

1. a system user owns the course (default ``casekit``); the course folder
   becomes ``owner:owner 0750`` (instructors join the owner's group), the
   exchange folder and ``.casekit/`` the owner's alone: trainees can read
   nothing of the course, the build, the keys, the inbox or the gradebook;
2. one real system user per trainee on the roster and per instructor teaching
   the cohort (marked ``casekit <cohort> <role>`` in the GECOS field; another user of
   the same name is never taken over), home ``<homes>/<name>`` mode 0700;
3. `kit.release` for the cohort, and each trainee's workbooks copied into
   ``~/<cohort>/`` (an existing copy is never replaced: it holds their work);
   JupyterLab set to the course language with its news pop-up off;
4. a password per account without one (printed once; ``--reissue NAME``);
5. ``plan.json`` + a two-line ``jupyterhub_config.py`` (`kit.hub.config`)
   under ``<course>/.casekit/hub/<cohort>/``, then JupyterHub in the
   background, with configurable-http-proxy from ``node_modules`` and the
   exchange service (`kit.hub.service`) running as the owner.

``stop`` ends JupyterHub (and with it the proxy, the service and every
trainee's server); answers stay in the trainees' homes. ``remove-users`` takes
the accounts and their homes away (only users casekit made for that cohort).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import urlopen

from kit import artifacts
from kit.course import Course, load_course
from kit.hub import auth
from kit.hub.access import bin_dir, check_as_trainee, check_reachable, lay_out_for_hub
from kit.hub.config import IDLE_KERNEL_MINUTES, IDLE_SERVER_MINUTES, SERVICE
from kit.hub.errors import HubError
from kit.hub.spawner import RUNTIME
from kit.messages import t
from kit.problems import CourseError, Problem

ACTIONS = ("start", "stop", "status", "config", "remove-users")
VIEWS = ("voila", "lab")
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
GECOS = "casekit {cohort} {role}"
PROXY_BIN = "configurable-http-proxy"
#: Settings every trainee's JupyterLab starts with (written into their home, theirs to change).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
LOCALES = {"zh": "zh_CN", "en": "en"}
#: Passwords made but not yet handed out, root-only in the state folder (see `keep_slips`).
SLIPS = "slips.json"


@dataclass
class Account:
    """One hub account: a system user of the same name."""

    username: str
    id: str
    role: str  # trainee | instructor
    name: str

    def record(self) -> dict:
        return {"role": self.role, "id": self.id, "name": self.name}


@dataclass
class HubResult:
    """What `hub` did: the URL, new passwords (shown once), files written, workbooks placed."""

    action: str
    url: str = ""
    running: bool = False
    pid: int | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    slips: dict[str, str] = field(default_factory=dict)  # every password not yet handed out
    slips_file: Path | None = None
    reissue: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # remove-users: accounts whose home is elsewhere
    log: Path | None = None


def _root() -> Path:
    """The repository (for node_modules) when casekit runs from a checkout."""
    return Path(__file__).resolve().parents[2]


def proxy_command() -> str:
    """configurable-http-proxy installed by `make setup` (npm ci), or one on PATH."""
    local = _root() / "node_modules" / ".bin" / PROXY_BIN
    if local.exists():
        return str(local)
    found = shutil.which(PROXY_BIN)
    if found:
        return found
    raise HubError(t("hub.no_proxy", proxy=PROXY_BIN))


def username_for(ident: str) -> str:
    """The hub and system user name of a roster or faculty id."""
    name = str(ident).strip().lower()
    if not USERNAME_RE.match(name):
        raise HubError(t("hub.bad_username", ident=str(ident)))
    return name


def accounts_of(course: Course, cohort: str) -> list[Account]:
    """Trainees on the roster, then the faculty who teach one of the cohort's sessions."""
    co = course.cohort(cohort)
    roster = co.roster.reset_index() if "id" not in co.roster.columns else co.roster
    out = [
        Account(username_for(r["id"]), str(r["id"]), "trainee", str(r.get("name") or r["id"]))
        for _, r in roster.iterrows()
    ]
    teachers = sorted({s.teacher for s in co.sessions})
    faculty = course.faculty
    for fid in teachers:
        name = str(faculty.loc[fid, "name"]) if fid in faculty.index else fid
        out.append(Account(username_for(fid), fid, "instructor", name))
    seen: dict[str, Account] = {}
    for a in out:
        if a.username in seen:
            other = seen[a.username]
            raise HubError(
                t(
                    "hub.shared_account",
                    role=t("hub.role." + a.role),
                    ident=a.id,
                    other_role=t("hub.role." + other.role),
                    other=other.id,
                    username=a.username,
                )
            )
        seen[a.username] = a
    return out


# ----------------------------------------------------------- system users


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        output = proc.stderr.strip() or proc.stdout.strip()
        raise HubError(t("hub.command_failed", command=" ".join(cmd), output=output))


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def ensure_owner(owner: str) -> pwd.struct_passwd:
    """The system user that owns the course and runs the exchange service."""
    if _user(owner) is None:
        _run("useradd", "--system", "--user-group", "--no-create-home", "--shell",
             "/usr/sbin/nologin", "--comment", "casekit course owner", owner)  # fmt: skip
    return pwd.getpwnam(owner)


def ensure_user(account: Account, cohort: str, homes: Path, owner: str) -> Path:
    """Create `account`'s system user and private home (or check the one casekit made)."""
    home = homes / account.username
    mark = GECOS.format(cohort=cohort, role=account.role)
    existing = _user(account.username)
    if existing is None:
        homes.mkdir(parents=True, exist_ok=True)
        os.chmod(homes, 0o755)
        _run("useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash",
             "--user-group", "--comment", mark, account.username)  # fmt: skip
    elif not existing.pw_gecos.startswith(f"casekit {cohort} "):
        raise HubError(
            t(
                "hub.foreign_user",
                username=account.username,
                cohort=cohort,
                gecos=existing.pw_gecos or t("hub.no_comment"),
            )
        )
    elif Path(existing.pw_dir) != home:
        # the same cohort name in another course (or another --homes): its hub, its
        # homes; taking the account over would put this hub's trainees in those homes
        raise HubError(
            t("hub.other_home", username=account.username, home=existing.pw_dir, expected=str(home))
        )
    if account.role == "instructor":
        _run("usermod", "--append", "--groups", owner, account.username)
    os.chmod(home, 0o700)
    return home


def remove_users(accounts: list[Account], cohort: str, homes: Path) -> tuple[list[str], list[str]]:
    """Delete the system users (and homes) casekit made for `cohort` under `homes`.

    Returns (removed, left): an account of the same name whose home is
    elsewhere belongs to another course's hub (or another ``--homes``) and stays.
    """
    removed, left = [], []
    for a in accounts:
        u = _user(a.username)
        if u is None or not u.pw_gecos.startswith(f"casekit {cohort} "):
            continue
        if Path(u.pw_dir) != homes / a.username:
            left.append(a.username)
            continue
        subprocess.run(["pkill", "-KILL", "-u", a.username], capture_output=True)
        _run("userdel", "--remove", a.username)
        shutil.rmtree(RUNTIME / a.username, ignore_errors=True)  # its kernels' sockets (spawner)
        removed.append(a.username)
    return removed, left


# ------------------------------------------------------------- the course


def workspace(cohort: str, account: Account, home: Path) -> Path:
    """``~/<cohort>/``, the account's own: where its server opens (the plan's notebook_dir)."""
    u = pwd.getpwnam(account.username)
    target = home / cohort
    target.mkdir(exist_ok=True)
    os.chown(target, u.pw_uid, u.pw_gid)
    os.chmod(target, 0o700)
    return target


def place_workbooks(course: Course, cohort: str, account: Account, home: Path) -> tuple[list, list]:
    """Copy the trainee's released workbooks into ``~/<cohort>/``; never replace one."""
    u = pwd.getpwnam(account.username)
    target = workspace(cohort, account, home)
    written, kept = [], []
    outbox = course.exchange_dir / cohort / "outbox" / account.id
    for src in sorted(outbox.glob("*.ipynb")):
        dst = target / src.name
        if dst.exists():
            kept.append(dst)
            continue
        tmp = dst.with_name(f".{dst.name}.casekit-tmp")
        shutil.copyfile(src, tmp)
        os.chown(tmp, u.pw_uid, u.pw_gid)
        os.chmod(tmp, 0o600)
        os.replace(tmp, dst)
        written.append(dst)
    return written, kept


def lab_settings(home: Path, username: str, language: str) -> None:
    """JupyterLab in the course language, news off: user settings in the home (theirs to change)."""
    u = pwd.getpwnam(username)
    base = home / ".jupyter" / "lab" / "user-settings"
    settings = dict(LAB_SETTINGS)
    settings["@jupyterlab/translation-extension/plugin.jupyterlab-settings"] = {
        "locale": LOCALES.get(language, "en"),
    }
    for rel, doc in settings.items():
        path = base / rel
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc), encoding="utf-8")
    for dirpath, dirnames, filenames in os.walk(home / ".jupyter"):
        for n in [dirpath, *(os.path.join(dirpath, f) for f in dirnames + filenames)]:
            os.lchown(n, u.pw_uid, u.pw_gid)


# ------------------------------------------------------------------ state


def state_dir(course: Course, cohort: str) -> Path:
    """Where a cohort's hub keeps its configuration, database, log and passwords."""
    return artifacts.hub_state_dir(Path(course.root).resolve(), cohort)


def _state_folder(course: Course, cohort: str, owner: pwd.struct_passwd) -> Path:
    """The hub's state folder, root's, its group the owner's: the service reads plan and accounts."""
    state = state_dir(course, cohort)
    state.mkdir(parents=True, exist_ok=True)
    os.chown(state, 0, owner.pw_gid)
    os.chmod(state, 0o750)
    return state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def course_timezone(course: Course) -> str:
    """The zone a trainee's times are shown in (the grading zone; Beijing for Chinese courses)."""
    return course.config.grading.timezone or ("Asia/Shanghai" if course.language == "zh" else "UTC")


def _keep_private(state: Path) -> None:
    """Give root the state folder's files; make the hub's tokens and database, root-only, if missing."""
    for f in state.iterdir():
        os.lchown(f, 0, 0)
    for name in ("proxy_token", "admin_token"):
        token = state / name
        if not token.exists():
            fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    db = state / "jupyterhub.sqlite"
    if not db.exists():  # created private: it holds hashed tokens and sign-in state
        os.close(os.open(db, os.O_CREAT | os.O_WRONLY, 0o600))


def write_plan(
    course: Course,
    cohort: str,
    accounts: list[Account],
    *,
    ip: str,
    port: int,
    homes: Path,
    owner: pwd.struct_passwd,
    view: str,
) -> Path:
    """``plan.json``, ``accounts.json`` and ``jupyterhub_config.py`` for this cohort's hub."""
    state = _state_folder(course, cohort, owner)
    _keep_private(state)
    old = {}
    if (state / "plan.json").exists():
        old = json.loads((state / "plan.json").read_text(encoding="utf-8"))
    ports = old.get("ports") or {
        "hub_api": _free_port(),
        "proxy_api": _free_port(),
        "exchange": _free_port(),
    }
    url = f"http://{ip}:{port}"
    accounts_file = state / "accounts.json"
    accounts_file.write_text(
        json.dumps(
            {"cohort": cohort, "accounts": {a.username: a.record() for a in accounts}},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    sessions = [s.session for s in course.cohort(cohort).sessions]
    default_url = {
        "lab": f"/lab/tree/{cohort}",
        "voila": "/voila/tree",
    }[view]
    plan = {
        "course": str(course.root),
        "cohort": cohort,
        "sessions": sessions,
        "state": str(state),
        "url": url,
        "ports": ports,
        "proxy": proxy_command(),
        "owner": owner.pw_name,
        "exchange": str(course.exchange_dir),
        "exchange_url": f"{url}/services/{SERVICE}/",
        "accounts_file": str(accounts_file),
        "authenticator": "kit.hub.auth.CohortAuthenticator",
        "notebook_dir": f"{homes}/{{username}}/{cohort}",
        "default_url": default_url,
        "timezone": course_timezone(course),
        "language": course.language,
        "view": view,
        # extra jupyterhub-singleuser arguments an administrator added to plan.json stay
        "server_args": old.get("server_args", []),
        # when idle kernels and then idle servers end (kit.hub.config.idle_args); kept if edited
        "idle_kernel_minutes": old.get("idle_kernel_minutes", IDLE_KERNEL_MINUTES),
        "idle_server_minutes": old.get("idle_server_minutes", IDLE_SERVER_MINUTES),
    }
    plan_file = state / "plan.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False, indent=1), encoding="utf-8")
    (state / "jupyterhub_config.py").write_text(
        "# Generated by `casekit hub`; edit plan.json or kit/hub/config.py instead.\n"
        "from kit.hub.config import configure\n\n"
        f"configure(c, {str(plan_file)!r})  # noqa: F821 - `c` is JupyterHub's config\n",
        encoding="utf-8",
    )
    return plan_file


def admin_token(course: Course | Path | str, cohort: str) -> str:
    """The root-only token of the hub's `casekit-admin` service (servers, users, tokens)."""
    c = course if isinstance(course, Course) else load_course(course)
    return (state_dir(c, cohort) / "admin_token").read_text().strip()


def _pid(state: Path) -> int | None:
    try:
        pid = int((state / "jupyterhub.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _wait_up(url: str, proc: subprocess.Popen | None, log: Path, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            break
        try:
            with urlopen(f"{url}/hub/api/", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    tail = (
        log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:] if log.exists() else []
    )
    raise HubError(t("hub.not_started", log=str(log), tail="\n".join(tail)))


def _stop_service(state: Path) -> None:
    """End this cohort's exchange service if the hub left it running (matched by its plan file)."""
    plan = str(state / "plan.json")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kit.hub.service" in args and plan.encode() in args:
            try:
                os.kill(int(proc.name), signal.SIGTERM)
            except OSError:
                pass


def _stop_proxy(state: Path) -> None:
    """End a proxy a failed hub left behind (JupyterHub stops it itself on a clean stop)."""
    try:
        os.kill(int((state / "proxy.pid").read_text().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    """True while `pid` runs; a process that exited but was not yet reaped is gone."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child (a hub this process started)
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _gone(pid: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


def _processes_of(uids: set[int]) -> list[int]:
    """Processes whose real user is one of `uids` (zombies count as gone)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid in uids and _alive(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _end_processes_of(users: list[str], timeout: float = 20) -> None:
    """Wait for the accounts' servers and kernels to end after the hub; then end what is left.

    JupyterHub returns once it has asked each server to stop; a kernel may
    outlive its server by seconds. `hub stop` promises nothing of the class runs.
    """
    uids = set()
    for name in users:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    uids.discard(0)
    end = time.monotonic() + timeout
    while _processes_of(uids) and time.monotonic() < end:
        time.sleep(0.2)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = _processes_of(uids)
        for pid in left:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if left:
            _gone_all(uids, 5)


def _gone_all(uids: set[int], timeout: float) -> None:
    end = time.monotonic() + timeout
    while _processes_of(uids) and time.monotonic() < end:
        time.sleep(0.1)


def stop(state: Path, timeout: float = 180, users: list[str] | None = None) -> bool:
    """End a running hub (SIGTERM: it stops its proxy, service and servers); True if one ran.

    A class of 60 servers takes a while to stop on a small machine; only a hub
    that has not stopped after `timeout` seconds is killed (its proxy with it).
    Then no process of the accounts in `users` is left running.
    """
    pid = _pid(state)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        if not _gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _gone(pid, 10)
            _stop_proxy(state)
    _stop_service(state)
    # also when the hub itself had died: its servers and kernels may still run
    _end_processes_of(users or [])
    return pid is not None


def _absolute(course: Course | Path | str) -> Course:
    """The course with an absolute root: the plan's paths must hold from the hub's own folder."""
    if not isinstance(course, Course):
        return load_course(Path(course).resolve())
    if course.root.is_absolute():
        return course
    return dataclasses.replace(course, root=course.root.resolve())


def slips_path(state: Path) -> Path:
    """The root-only file of passwords not yet handed out (deleted by the instructor)."""
    return state / SLIPS


def keep_slips(state: Path, fresh: dict[str, str], usernames: list[str]) -> dict[str, str]:
    """Add `fresh` passwords to the slips file at once; return every slip still to hand out.

    Written before anything else can fail, so a start that stops half-way
    never loses a password it made: the next start prints them again.
    """
    path = slips_path(state)
    try:
        slips = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        slips = {}
    slips = {n: p for n, p in slips.items() if n in usernames and n not in fresh}
    slips.update(fresh)
    if slips:
        auth.write_private_json(path, slips)
    return slips


def _prepare(
    c: Course,
    cohort: str,
    accounts: list[Account],
    homes: Path,
    owner_pw: pwd.struct_passwd,
    result: HubResult,
) -> None:
    """Accounts, passwords (kept as slips first), workbooks, and a trainee running the environment."""
    state = _state_folder(c, cohort, owner_pw)
    for a in accounts:
        ensure_user(a, cohort, homes, owner_pw.pw_name)
    result.passwords = auth.issue_passwords(
        state / "passwords.json", [a.username for a in accounts], reissue=result.reissue
    )
    result.slips = keep_slips(state, result.passwords, [a.username for a in accounts])
    result.slips_file = slips_path(state) if result.slips else None
    lay_out_for_hub(c, owner_pw)
    for a in accounts:
        home = homes / a.username
        lab_settings(home, a.username, c.language)
        if a.role == "trainee":
            w, k = place_workbooks(c, cohort, a, home)
            result.written += w
            result.kept += k
        else:  # without it an instructor's server cannot start (no such directory)
            workspace(cohort, a, home)
    trainee = next((a for a in accounts if a.role == "trainee"), accounts[0] if accounts else None)
    if trainee is not None:
        check_as_trainee(trainee.username)


def hub(
    course: Course | Path | str,
    cohort: str,
    action: str = "start",
    *,
    ip: str = "127.0.0.1",
    port: int = 8000,
    homes: Path | str = "/home",
    owner: str = "casekit",
    view: str = "voila",
    reissue: list[str] | None = None,
) -> HubResult:
    """Run a cohort's classroom hub: ``start``, ``stop``, ``status``, ``config`` or ``remove-users``.

    ``config`` prepares everything (users, homes, workbooks, passwords, plan)
    without starting; ``start`` also starts JupyterHub in the background and
    waits until it answers. New passwords are in the result, and every
    password not yet handed out in ``result.slips`` (kept root-only in the
    state folder until the instructor deletes the file).
    """
    if action not in ACTIONS:
        listed = ", ".join((*ACTIONS, "warm"))  # warm: `casekit hub warm COHORT SESSION`
        raise HubError(t("hub.unknown_action", action=action, actions=listed))
    if view not in VIEWS:
        raise HubError(t("hub.unknown_view", view=view, views=", ".join(VIEWS)))
    c = _absolute(course)
    state = state_dir(c, cohort)
    result = HubResult(action)
    accounts = accounts_of(c, cohort)
    result.accounts = accounts
    if action == "status":
        result.pid = _pid(state)
        result.running = result.pid is not None
        if (state / "plan.json").exists():
            result.url = json.loads((state / "plan.json").read_text(encoding="utf-8"))["url"]
        return result
    if action == "stop":
        result.running = False
        result.pid = _pid(state)
        stop(state, users=[a.username for a in accounts])
        return result
    if os.geteuid() != 0:
        raise HubError(t("hub.needs_root"))
    if action == "remove-users":
        if _pid(state) is not None:
            raise HubError(t("hub.running", cohort=cohort))
        result.removed, result.left = remove_users(accounts, cohort, Path(homes))
        return result
    if action == "start" and _pid(state) is not None:
        raise HubError(t("hub.already_running", cohort=cohort))
    result.reissue = list(reissue or [])
    _configure(c, cohort, result, ip=ip, port=port, homes=homes, owner=owner, view=view)
    if action == "start":
        _start(state, result)
    return result


@contextmanager
def _saying_where_slips_are(result: HubResult) -> Iterator[None]:
    """A HubError after passwords were made also says where their slips are kept."""
    try:
        yield
    except HubError as exc:
        if result.slips_file is None:
            raise
        raise HubError(f"{exc}\n{t('hub.slips_kept', file=str(result.slips_file))}") from exc


def _configure(
    c: Course,
    cohort: str,
    result: HubResult,
    *,
    ip: str,
    port: int,
    homes: Path | str,
    owner: str,
    view: str,
) -> None:
    """Everything a hub needs but running: workbooks released, users and homes, the plan."""
    from kit.exchange.trust import course_secret
    from kit.workbook import release

    check_reachable(c.root)  # before any account is made: nothing to undo
    owner_pw = ensure_owner(owner)
    course_secret(c.root)
    released = release(c.root, cohort)
    if released.failures:
        raise CourseError(
            [
                Problem(f.item, message=f.message, fix="run `casekit build` first")
                for f in released.failures
            ]
        )
    homes = Path(homes).resolve()
    with _saying_where_slips_are(result):
        _prepare(c, cohort, result.accounts, homes, owner_pw, result)
    plan_file = write_plan(
        c, cohort, result.accounts, ip=ip, port=port, homes=homes, owner=owner_pw, view=view
    )
    result.written.append(plan_file)
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    result.url = plan["url"]


def _start(state: Path, result: HubResult) -> None:
    """Start JupyterHub in the background, logging to the state folder, and wait until it answers."""
    log = state / "jupyterhub.log"
    result.log = log
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [str(bin_dir() / "jupyterhub"), "-f", str(state / "jupyterhub_config.py")],
            cwd=state,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `casekit hub start`
        )
    with _saying_where_slips_are(result):
        _wait_up(result.url, proc, log)
    result.pid = proc.pid
    result.running = True
