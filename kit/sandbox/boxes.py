"""How trainee code is confined: bubblewrap around a warm zygote, a namespace box per run.

Two layers, so that the warm-fork speed of ``kit.execution.zygote`` survives:

1. **The sandbox** (once per grading run).  ``Zygote`` starts the warm zygote
   inside ``bwrap``: new user, PID, network (loopback only), IPC, UTS and
   cgroup namespaces, a new session, an empty environment plus a fixed one,
   and a root file system that holds only what Python needs, read-only —
   ``/usr``, the Python installation, the virtualenv, the ``kit`` package
   folder (exactly that subfolder even when it sits inside a course folder),
   a few ``/etc`` files and fonts — with ``/proc``, a minimal ``/dev`` and an
   empty ``/tmp``.  Nothing of the course folder, ``build/``, keys, the
   gradebook, the exchange or the submission store is mounted.  When the
   grader runs as root, the sandbox runs as ``nobody`` (uid 65534) on the host
   too: bubblewrap started by root would map the sandbox user to host root,
   and the kernel does not enforce ``RLIMIT_NPROC`` for host root (measured:
   a fork bomb was not stopped).  So a small launcher (``_launch``) bind-mounts
   the sources into a private staging folder (``/root`` is not searchable by
   nobody), drops to nobody and execs an unprivileged bwrap.

2. **A box** per piece of work (``clone_box`` in the zygote or in a
   template, then ``enter_box`` in the child).  The child is cloned straight
   into new user, mount, PID, network and IPC namespaces, so it is PID 1 of
   its own PID namespace, and its parent (zygote or template) is its keeper.
   It mounts a fresh tmpfs on ``/tmp`` (its scratch folder) and ``/dev/shm``
   and a new ``/proc`` (only the box's processes are visible), sets rlimits
   (address space, CPU seconds, processes, file size, open files, no core),
   drops every capability and sets no-new-privileges.  The keeper kills it
   when the supervisor closes the box's connection, and it dies with its
   keeper (parent-death signal); when PID 1 dies the kernel kills every
   process of its PID namespace, so nothing a submission started (fork,
   ``setsid``, double fork, daemons) outlives it.

   A *template* (``Template``) is a box that ran the first, common cells of a
   session's notebook once and then forks boxes itself, so each submission
   starts where its own code begins.

``unsafe=True`` runs the same zygote and protocol without bubblewrap and
without namespaces (rlimits and process-group kill only): for machines where
user namespaces are unavailable, chosen explicitly by the instructor.

This module imports only the standard library: ``_launch`` runs it in a bare
``python -S`` before bubblewrap starts.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kit.sandbox.cgroup import NoCgroup, RunCgroup, RunLimits, open_run
from kit.sandbox.seccomp import Unsupported, box_filter, load, number, sandbox_filter

__all__ = ["Box", "Limits", "SandboxUnavailable", "Zygote", "enter_box"]

NOBODY = 65534
PACKAGE_HINT = (
    "install the Debian package `bubblewrap` (apt-get install bubblewrap), or grade "
    "without a sandbox only if you trust every submission (unsafe=True / --unsafe-no-sandbox)"
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing, or this machine cannot create the namespaces it needs.

    ``reason`` says what failed; the message adds what to do (``PACKAGE_HINT``).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}; {PACKAGE_HINT}")


@dataclass(frozen=True)
class Limits:
    """What one submission may use.  Each box (trainee, judge) gets these."""

    cell_timeout: float = 30.0  # seconds per cell
    run_timeout: float = 120.0  # seconds for the whole submission, both boxes
    memory_mb: int = 1024  # address space a box may add to the warm image
    cpu_seconds: int = 60  # CPU time of any one process in a box
    processes: int = 64  # processes and threads in one box
    file_mb: int = 64  # the largest file a box may write
    scratch_mb: int = 128  # size of the box's scratch folder (tmpfs)
    open_files: int = 256
    answer_mb: int = 64  # the largest frame a box may send

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (what crosses into a box)."""
        return asdict(self)


# ----------------------------------------------------------------------------- libc

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
POLLRDHUP = 0x2000


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None) -> None:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    _check(
        _libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {dst}",
    )


def _prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def _drop_capabilities() -> None:
    """Empty bounding, ambient, effective, permitted and inheritable sets; no new privileges."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


# ----------------------------------------------------------------------------- the sandbox


# Where the sandbox sees the kit package and the virtualenv: neutral paths, so
# that nothing inside names the folders they come from (in the sample course
# both live inside the course folder).
KIT_ROOT = "/opt/casekit"
VENV = "/opt/casekit/venv"


def _layout() -> tuple[list[tuple[str, str]], list[str], str]:
    """Read-only binds (source, destination), bwrap symlink arguments, and the sandbox's python."""
    import kit

    binds: list[tuple[str, str]] = [("/usr", "/usr")]
    links: list[str] = []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            links += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            binds.append((top, top))
    for extra in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/var/cache/fontconfig"):
        if os.path.exists(extra):
            binds.append((os.path.realpath(extra), extra))

    def covered(path: str) -> bool:
        return any(path == d or path.startswith(d.rstrip("/") + "/") for _, d in binds)

    for root in {sys.base_prefix, sys.base_exec_prefix}:
        root = str(Path(root).resolve())
        if not covered(root):
            binds.append((root, root))  # at its own path: the venv's python links there
    python = sys.executable
    prefix = str(Path(sys.prefix).resolve())
    if prefix != str(Path(sys.base_prefix).resolve()) and not covered(prefix):
        binds.append((prefix, VENV))
        exe = Path(sys.executable)
        if str(exe.parent.resolve()).startswith(prefix):
            python = f"{VENV}/{exe.parent.resolve().relative_to(prefix)}/{exe.name}"
    binds.append((str(Path(kit.__file__).resolve().parent), f"{KIT_ROOT}/kit"))
    return binds, links, python


def _env(python: str) -> dict[str, str]:
    venv_bin = str(Path(python).parent)
    return {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "LANG": "C.UTF-8",
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": KIT_ROOT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CASEKIT_MODE": "grade",
        "CASEKIT_PRELOAD": "kit.sandbox.boxes,kit.sandbox.seccomp,kit.sandbox.safepickle,kit.sandbox.judge",
    }


def _font_cache() -> Path | None:
    """matplotlib's font list of this user, so the sandboxed zygote need not rebuild it."""
    base = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    found = sorted(Path(base).glob("fontlist-v*.json")) if os.path.isdir(base) else []
    return found[-1] if found else None


class Zygote:
    """A warm zygote for trainee code, inside bubblewrap (or, ``unsafe=True``, without).

    ``connect()`` gives a socket to a fresh child of the zygote (see
    ``kit.execution.zygote``); ``Box`` speaks the protocol on it.  Start-up costs about
    a second (imports inside the sandbox), once per grading run.
    """

    def __init__(self, *, unsafe: bool = False, run_limits: RunLimits | None = None) -> None:

        self.unsafe = unsafe
        # The whole run's cgroup (kit.sandbox.cgroup), or why there is none: told once by ``grade``.
        self.cgroup: RunCgroup | NoCgroup = open_run(run_limits)
        self.owner = os.getpid()
        self.dir = tempfile.mkdtemp(prefix="casekit-sandbox-")
        self.path = os.path.join(self.dir, "z.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        listener.listen(128)
        # Its own folder: a tmpfs hides its mode from the launcher, but not the parent's.
        self.stage = tempfile.mkdtemp(prefix="casekit-stage-")
        import kit
        from kit.execution.zygote import ZygoteFailed, spawn

        # The control channel: the zygote answers which children it keeps (``kept``).
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control_lock = threading.Lock()
        zygote_args = ["-c", BOX_ZYGOTE_MAIN, "--fd", str(listener.fileno())]
        zygote_args += ["--control", str(theirs.fileno())]
        keep = [listener.fileno(), theirs.fileno()]
        self.errlog = open(os.path.join(self.dir, "stderr"), "w+b")  # noqa: SIM115 - lives with the zygote
        try:
            if unsafe:
                scratch = os.path.join(self.dir, "tmp")
                os.mkdir(scratch)
                env = _env(sys.executable)
                env.update(HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=f"{scratch}/matplotlib")
                env["PYTHONPATH"] = str(Path(kit.__file__).resolve().parent.parent)
                cmd = [sys.executable, *zygote_args]
                cwd = scratch
            else:
                if shutil.which("bwrap") is None:
                    raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
                cmd, more = self._bwrap_command(zygote_args)
                keep += more
                env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
                cwd = "/"
            procs = self.cgroup.procs if isinstance(self.cgroup, RunCgroup) else None
            self.proc = spawn(cmd, env=env, cwd=cwd, pass_fds=tuple(keep), stderr=self.errlog,
                              cgroup_procs=procs)  # fmt: skip
        except ZygoteFailed:
            self.errlog.seek(0)
            err = self.errlog.read().decode("utf-8", "replace").strip()[-2000:]
            self._cleanup()
            if unsafe:
                raise RuntimeError(f"casekit: the grading zygote failed to start: {err}") from None
            raise SandboxUnavailable(
                f"the sandbox for trainee code did not start: {err or 'no message'}"
            ) from None
        except BaseException:
            self._cleanup()
            raise
        finally:
            listener.close()
            theirs.close()
            for fd in keep[2:]:
                os.close(fd)
        if not unsafe:
            self._probe()

    def _probe(self) -> None:
        """One box, now: a kernel that allows bwrap but not the boxes inside it fails here, clearly."""
        frame = None
        try:
            box = Box(self, {"engine": "probe", "limits": Limits().as_dict(), "confine": True},
                      limit=1 << 20)  # fmt: skip
            try:
                frame = box.recv(30)
            finally:
                box.close()
        except Exception as e:  # noqa: BLE001 - any failure here means: no boxes on this machine
            frame = f"{type(e).__name__}: {e}"
        if not (isinstance(frame, tuple) and frame and frame[0] == "probe"):
            self.close()
            raise SandboxUnavailable(
                "the sandbox started but cannot create a box for trainee code (it needs nested "
                f"user namespaces; got {str(frame)[:300]})"
            )

    def _bwrap_command(self, zygote_args: list[str]) -> tuple[list[str], list[int]]:
        binds, links, python = _layout()
        env = _env(python)
        args = ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
        args += ["--hostname", "casekit"]
        root = os.geteuid() == 0
        staged: list[tuple[str, str]] = []
        for i, (src, dst) in enumerate(binds):
            # As root the sources are staged (bind-mounted) where nobody can reach them.
            source = os.path.join(self.stage, str(i)) if root else src
            staged.append((src, source))
            args += ["--ro-bind", source, dst]
        args += links
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/tmp/matplotlib"]
        # The sandbox's seccomp filter (kit.sandbox.seccomp), read by bwrap from a pipe.

        program = sandbox_filter()
        r, w = os.pipe()
        os.write(w, program)
        os.close(w)
        fds = [r]
        args += ["--seccomp", str(r)]
        cache = _font_cache()
        if cache is not None:
            fd = os.open(cache, os.O_RDONLY)
            fds.append(fd)
            args += ["--file", str(fd), f"/tmp/matplotlib/{cache.name}"]
        for k, v in env.items():
            args += ["--setenv", k, v]
        # Read-only root and /dev: boxes share them, and must not share anything writable.
        args += ["--remount-ro", "/", "--remount-ro", "/dev"]
        args += ["--chdir", "/tmp", "--", python, *zygote_args, "--box"]
        if not root:
            return ["bwrap", *args], fds
        import kit

        spec = {"stage": self.stage, "binds": staged, "bwrap": ["bwrap", *args], "uid": NOBODY}
        kit_root = str(Path(kit.__file__).resolve().parent.parent)
        launcher = [
            sys.executable,
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {kit_root!r}); from kit.sandbox.boxes import _launch; _launch()",
            json.dumps(spec),
        ]
        return launcher, fds

    def alive(self) -> bool:
        """True while the zygote process runs."""
        return self.proc.poll() is None

    def kept(self) -> list[Kept]:
        """The zygote's children whose connection is open (the templates, and boxes in use).

        Asked of the zygote on its control channel, not read from ``/proc``: a
        child being killed or reaped is not among them, and each comes as a
        pidfd, so signalling it can never hit another process.
        """
        from kit.execution.zygote import KEPT

        with self._control_lock:
            self._control.settimeout(10)
            self._control.send(KEPT)
            msg, fds, _, _ = socket.recv_fds(self._control, 16, 1024)
        if not msg:
            raise RuntimeError("the zygote did not answer on its control channel")
        return [Kept(fd) for fd in fds]

    def connect(self) -> socket.socket:
        """A connection to a freshly forked child of the zygote."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        return s

    def close(self) -> None:
        """Stop the zygote (its boxes die with it) and remove its folder."""
        if os.getpid() != self.owner:
            return
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - whatever state it is in, it must go
            self.proc.kill()
            self.proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        if isinstance(self.cgroup, RunCgroup):
            self.cgroup.close()
        self._control.close()
        self.errlog.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Kept:
    """One child the zygote keeps, as a pidfd (its ``pid`` as this process sees it)."""

    def __init__(self, pidfd: int) -> None:
        self.pidfd = pidfd
        self.pid = 0
        for line in Path(f"/proc/self/fdinfo/{pidfd}").read_text().splitlines():
            if line.startswith("Pid:"):
                self.pid = int(line.split()[1])  # -1 once it has exited

    def kill(self) -> None:
        """SIGKILL exactly this process (a no-op once it is gone)."""
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Release the pidfd."""
        os.close(self.pidfd)


def _launch() -> None:
    """(root only, in a bare ``python -S``) stage the binds, become nobody, exec bwrap."""
    spec = json.loads(sys.argv[1])
    _check(_libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    _mount("tmpfs", spec["stage"], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for src, staged in spec["binds"]:
        if os.path.isdir(src):
            os.mkdir(staged)
        else:
            open(staged, "w").close()
        _mount(src, staged, None, MS_BIND | MS_REC, None)
    uid = spec["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    os.execvp(spec["bwrap"][0], spec["bwrap"])


# ----------------------------------------------------------------------------- a box

_BOX_FLAGS = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
_pyc = ctypes.PyDLL(None, use_errno=True)  # keeps the GIL across the call, as os.fork does
_pyc.syscall.restype = ctypes.c_long


# what ``python -c`` runs to start the sandbox's zygote: the executor's, whose
# children (with ``--box``) are cloned into namespaces by ``clone_box``
BOX_ZYGOTE_MAIN = "from kit.sandbox.boxes import zygote_main; zygote_main()"


def zygote_main() -> None:
    """Entry point of the sandbox's zygote process (see ``kit.execution.zygote.main``)."""
    from kit.execution import zygote

    zygote.main(box=clone_box)


def clone_box() -> int:
    """Like ``os.fork()``, but the child starts in new user, mount, PID, network and IPC namespaces.

    One ``clone`` instead of fork + ``unshare`` + fork: the child is PID 1 of
    its namespace and this process (the zygote or a template) stays its
    keeper; measured ~3 ms less per box than the two-fork way.  Python's own
    fork bookkeeping (``PyOS_BeforeFork``/``AfterFork``) is run around it.
    The child maps its user to itself before anything else.
    """

    try:
        clone = number("clone")  # from the seccomp filter's table of call numbers
    except Unsupported:
        clone = None
    if clone is None:
        raise SandboxUnavailable(f"boxes are not implemented for {os.uname().machine}")
    if threading.active_count() != 1:
        raise RuntimeError("a box can only be cloned from a single-threaded process")
    uid, gid = os.getuid(), os.getgid()
    ctypes.pythonapi.PyOS_BeforeFork()
    pid: int = _pyc.syscall(  # restype c_long: an int
        ctypes.c_long(clone), ctypes.c_ulong(_BOX_FLAGS | signal.SIGCHLD), 0, 0, 0, 0
    )
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
        try:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        except BaseException:
            os._exit(73)
        return 0
    err = ctypes.get_errno()
    ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


def enter_box(limits: dict[str, Any] | None, files: dict[str, bytes], *, confine: bool) -> str:
    """(in a fresh child of the zygote or a template) Set the box up; return its scratch folder.

    With ``confine`` (the child was made by ``clone_box``): private mounts, a
    fresh tmpfs on ``/tmp`` and ``/dev/shm``, a new ``/proc``, the ``files``
    copied into ``/tmp/work``; then the rlimits of ``limits`` (None for a
    template, which only runs instructor code and must be able to clone
    boxes) and no capabilities.  Without (unsafe mode): a scratch folder and
    the rlimits only.  Any failure ends the process: a box that cannot be set
    up must not run anything.
    """
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if confine:
            scratch = "/tmp/work"
            size = int(limits["scratch_mb"]) if limits else 64
            _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
            _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode=1777")
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            if os.path.isdir("/dev/shm"):
                _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
            os.mkdir(scratch)
            os.mkdir("/tmp/matplotlib")
        else:
            scratch = tempfile.mkdtemp(prefix="box-", dir=os.environ.get("TMPDIR"))
        for name, data in files.items():
            rel = os.path.normpath(name)
            if rel.startswith(("/", "..")):
                continue  # the data's own folder structure only
            target = os.path.join(scratch, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
            os.chmod(target, 0o444)  # cosmetic: a copy in the box's own folder, gone with it
        os.chdir(scratch)
        if scratch not in sys.path:
            sys.path.insert(0, scratch)
        if confine and limits is not None:
            # No user namespaces below a box: what runs in it cannot regain
            # capabilities in a namespace of its own (less kernel to attack).
            # A template must still clone boxes, so only boxes close the door.
            Path("/proc/sys/user/max_user_namespaces").write_text("0")
        if limits is not None:
            _set_limits(limits)
        else:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if confine:
            _drop_capabilities()
        if confine and limits is not None:
            load(box_filter())  # no mount, no new namespaces from here on
    except BaseException:
        os._exit(71)
    return scratch


def _set_limits(limits: dict[str, Any]) -> None:
    from kit.execution.zygote import limit_memory

    limit_memory(float(limits["memory_mb"]))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    n = int(limits["processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    size = int(limits["file_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    files = int(limits["open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Box:
    """The supervisor's end of one box: send its job, read its frames, close to kill it.

    ``server`` is the ``Zygote`` or a ``Template`` the box is forked from.
    Frames from a box are decoded with ``kit.sandbox.safepickle`` (a box that ran
    trainee code may write anything); a frame above ``limit`` bytes ends the
    conversation with ``FrameTooLarge``.
    """

    def __init__(
        self,
        server: Any,
        job: dict[str, Any],
        *,
        limit: int,
        pass_fds: tuple[int, ...] = (),
        sock: socket.socket | None = None,
    ) -> None:
        from kit.execution.zygote import send_frame

        self.limit = limit
        # ``sock``: already connected (connect several first, so their forks overlap)
        self.sock = sock if sock is not None else server.connect()
        self.status: int | None = None
        try:
            hello = self.recv(30)
            if not (isinstance(hello, tuple) and hello and hello[0] == "hello"):
                raise RuntimeError(f"the sandbox did not answer ({hello!r})")
            send_frame(self.sock, job)
            if pass_fds:
                socket.send_fds(self.sock, [b"f"], list(pass_fds))
        except BaseException:
            self.close()
            raise

    def recv(self, timeout: float | None) -> Any:
        """The next frame, None at EOF; raises TimeoutError.  Records an ``exit`` frame's status."""
        from kit.execution.zygote import recv_frame
        from kit.sandbox import safepickle

        self.sock.settimeout(timeout)
        frame = recv_frame(self.sock, loads=safepickle.loads, limit=self.limit)
        if isinstance(frame, tuple) and len(frame) == 2 and frame[0] == "exit":
            if type(frame[1]) is int:
                self.status = frame[1]
        return frame

    def close(self) -> None:
        """Close the connection: the box's keeper kills it if it still runs."""
        try:
            self.sock.close()
        except OSError:
            pass


class Template:
    """A process forked from the zygote that ran a notebook's common first cells and now forks boxes.

    Its job (``engine`` of a template handler, see ``kit.sandbox.judge``) is sent by
    the supervisor; a fresh listening socket is passed to it, and once it
    reports ``ready`` boxes connect there.  Closing it kills it and every box
    it forked.
    """

    def __init__(self, zygote: Zygote, job: dict[str, Any], *, timeout: float, limit: int) -> None:
        self.path = os.path.join(
            zygote.dir, f"t{os.getpid()}-{id(self):x}-{time.monotonic_ns()}.sock"
        )
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.path)
            os.chmod(self.path, 0o600)
            listener.listen(128)
            self.box = Box(zygote, job, limit=limit, pass_fds=(listener.fileno(),))
        finally:
            listener.close()
        try:
            self.ready = self.box.recv(timeout)
        except BaseException:
            self.close()
            raise
        if not (isinstance(self.ready, tuple) and self.ready and self.ready[0] == "ready"):
            self.close()
            raise RuntimeError(f"the template did not start: {self.ready!r}")

    def connect(self) -> socket.socket:
        """A connection to a freshly forked box of this template."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        return s

    def close(self) -> None:
        """Kill the template (and its boxes); remove its socket."""
        self.box.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def receive_fds(conn: socket.socket, n: int = 1) -> list[int]:
    """(in a box) The descriptors the supervisor passed after the job."""
    _, fds, _, _ = socket.recv_fds(conn, 1, n)
    if len(fds) != n:
        raise RuntimeError("the supervisor did not pass the expected channel")
    return fds


def probe_main(conn: socket.socket, job: dict[str, Any]) -> None:
    """(zygote handler ``probe``) Enter a box and report what it looks like from inside."""
    from kit.execution.zygote import send_frame

    scratch = enter_box(job["limits"], {"probe.txt": b"x"}, confine=job["confine"])
    send_frame(conn, ("probe", os.getpid(), os.getuid(), scratch, sorted(os.listdir(scratch))))
    os._exit(0)
