"""cgroup v2 limits for one grading run's sandbox, where the machine offers them.

The rlimits of a box (``kit.sandbox.boxes.Limits``) bound each process; a cgroup
bounds the whole run — the zygote, its templates and every box — together:

* ``memory.max``  — the run's memory, page cache included (rlimits bound only
  address space, per process: many boxes at once can still add up);
* ``pids.max``    — processes and threads of the run together (``RLIMIT_NPROC``
  counts per user, and every box runs as the same user);
* ``cpu.weight``  — the run's share of the CPU when others want it (a
  hostile batch slows grading, and with this nothing else on the machine).

A run gets its own cgroup below the one the grader runs in; that needs cgroup
v2 with the ``memory``, ``pids`` and ``cpu`` controllers delegated to this
cgroup, and write access.  When the grader's cgroup holds only the grader,
the grader moves itself into a leaf (``casekit-main``) so that controllers can
be enabled for its children (cgroup v2 allows processes only in leaves).
Where any of that is missing, ``open_run`` returns ``NoCgroup`` with the
reason, and grading goes on with the rlimits alone: never a failure.

Standard library only.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NEEDED", "NoCgroup", "RunCgroup", "RunLimits", "open_run"]

NEEDED = ("memory", "pids", "cpu")
_SEQ = itertools.count()


@dataclass(frozen=True)
class RunLimits:
    """What one grading run (its zygote, templates and boxes together) may use."""

    memory_mb: int = 4096
    processes: int = 1024
    cpu_weight: int = 50  # of 1..10000; 100 is every other cgroup's default


@dataclass(frozen=True)
class NoCgroup:
    """This machine offers no cgroup limits to the grader; ``reason`` says why."""

    reason: str


@dataclass
class RunCgroup:
    """The cgroup of one grading run: processes moved into ``procs`` are bounded by ``limits``."""

    path: Path
    limits: RunLimits

    @property
    def procs(self) -> str:
        """The file a process writes ``0`` to in order to join (see ``kit.sandbox.boxes``)."""
        return str(self.path / "cgroup.procs")

    def close(self) -> None:
        """Kill whatever still runs in it and remove it."""
        try:
            (self.path / "cgroup.kill").write_text("1")
        except OSError:
            pass
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)  # the last processes are still being reaped


def _own_cgroup() -> Path | None:
    """This process's cgroup v2 folder, or None when there is no cgroup v2 hierarchy."""
    mount = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            mount = left.split()[4]
            break
    if mount is None:
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return Path(mount) / line[3:].lstrip("/")
    return None


def _read(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def _delegate(own: Path) -> str | None:
    """Enable the controllers for ``own``'s children; the reason when that cannot be done."""
    enabled = set(_read(own / "cgroup.subtree_control"))
    if set(NEEDED) <= enabled:
        return None
    others = [p for p in _read(own / "cgroup.procs") if p != str(os.getpid())]
    if others:
        return (
            f"its cgroup {own} holds other processes too (run the grader in a cgroup "
            "of its own, e.g. a systemd unit with Delegate=yes)"
        )
    try:
        leaf = own / "casekit-main"
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (own / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in NEEDED))
    except OSError as e:
        return f"the controllers cannot be enabled in {own} ({e.strerror})"
    return None


def open_run(limits: RunLimits | None = None) -> RunCgroup | NoCgroup:
    """A fresh cgroup for one grading run with ``limits`` set, or ``NoCgroup`` saying why not."""
    limits = limits or RunLimits()
    own = _own_cgroup()
    if own is None:
        return NoCgroup("there is no cgroup v2 hierarchy on this machine")
    offered = set(_read(own / "cgroup.controllers"))
    missing = [c for c in NEEDED if c not in offered]
    if missing:
        return NoCgroup(
            f"cgroup v2 does not offer the {', '.join(missing)} controllers to the grader "
            f"(in {own}; a machine that keeps them on cgroup v1 cannot)"
        )
    if not os.access(own, os.W_OK):
        return NoCgroup(f"the grader may not create cgroups in {own}")
    if own.name == "casekit-main":
        own = own.parent  # an earlier run already moved the grader into its leaf
    why = _delegate(own)
    if why is not None:
        return NoCgroup(why)
    path = own / f"casekit-run-{os.getpid()}-{next(_SEQ)}"
    try:
        path.mkdir()
        (path / "memory.max").write_text(str(limits.memory_mb << 20))
        (path / "pids.max").write_text(str(limits.processes))
        (path / "cpu.weight").write_text(str(limits.cpu_weight))
        if (path / "memory.swap.max").exists():
            (path / "memory.swap.max").write_text("0")  # the memory bound is not a swap bound
    except OSError as e:
        RunCgroup(path, limits).close()
        return NoCgroup(f"a cgroup for the run cannot be set up in {own} ({e.strerror})")
    return RunCgroup(path, limits)
