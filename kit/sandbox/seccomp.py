"""The system calls trainee code may not make: seccomp filters, written here as classic BPF.

Two filters, because the sandbox's own processes need calls its boxes must not
have (see ``kit.sandbox.boxes``):

* ``sandbox_filter`` — loaded by bubblewrap (``--seccomp FD``) on the zygote,
  so every template and box inherits it: a deny-list of calls no grading run
  needs and each of which is kernel surface a hostile submission could reach —
  tracing and reading other processes (``ptrace``, ``process_vm_*``,
  ``pidfd_getfd``, ``kcmp``), the kernel keyring, ``bpf``,
  ``perf_event_open``, ``userfaultfd``, ``io_uring``, the new mount API,
  ``umount2``/``pivot_root``/``chroot``, ``unshare``/``setns``, kernel modules,
  ``kexec``, ``reboot``, swap, ``acct``, setting clocks and names, I/O ports,
  file handles (``open_by_handle_at``), and any ``personality`` but the
  default and the query.  Calls for another ABI (32-bit, x32) end the process.
* ``box_filter`` — loaded by each box once it is set up (``enter_box``),
  stacked on the first (which still applies): ``mount``, ``clone`` with any namespace flag,
  and ``clone3`` (whose flags a filter cannot read: it answers ENOSYS, so the
  C library falls back to ``clone``, whose flags it can).  A template keeps
  ``mount`` and namespaced ``clone``: it makes the boxes.

A denied call fails with EPERM, as a call refused by permissions does; it does
not kill the process, so trainee code that probes sees an ordinary error.
Standard library only; the programs are built once per process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from functools import cache

__all__ = ["BOX_DENIED", "DENIED", "Unsupported", "box_filter", "load", "number", "sandbox_filter"]

# name: (x86_64, aarch64); None where the architecture has no such call
_NUMBERS: dict[str, tuple[int | None, int | None]] = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "pidfd_getfd": (438, 438), "kcmp": (312, 272),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430),
    "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433),
    "mount_setattr": (442, 442), "umount2": (166, 39), "pivot_root": (155, 41),
    "chroot": (161, 51), "unshare": (272, 97), "setns": (308, 268),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "create_module": (174, None), "get_kernel_syms": (177, None), "query_module": (178, None),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "reboot": (169, 142),
    "swapon": (167, 224), "swapoff": (168, 225), "acct": (163, 89),
    "settimeofday": (164, 170), "clock_settime": (227, 112), "clock_adjtime": (305, 266),
    "adjtimex": (159, 171), "sethostname": (170, 161), "setdomainname": (171, 162),
    "iopl": (172, None), "ioperm": (173, None),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "lookup_dcookie": (212, 18), "quotactl": (179, 60), "quotactl_fd": (443, 443),
    "nfsservctl": (180, 42), "vhangup": (153, 58), "syslog": (103, 116),
    "uselib": (134, None), "ustat": (136, None), "sysfs": (139, None), "_sysctl": (156, None),
    "fanotify_init": (300, 262),
    # checked by argument, or only in boxes
    "personality": (135, 92), "mount": (165, 40), "clone": (56, 220), "clone3": (435, 435),
}  # fmt: skip
_SPECIAL = {"personality", "mount", "clone", "clone3"}
DENIED = tuple(sorted(set(_NUMBERS) - _SPECIAL))
BOX_DENIED = ("mount", "clone with a namespace flag", "clone3 (ENOSYS)")

_ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}  # column, AUDIT_ARCH_*
_X32_BIT = 0x40000000
_NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}
_PERSONALITY_OK = (0x0, 0xFFFFFFFF)  # PER_LINUX, and the query

# classic BPF
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16  # struct seccomp_data (little-endian low word)
_ALLOW, _KILL_PROCESS, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000


class Unsupported(RuntimeError):
    """No filter for this machine's architecture."""


def number(name: str, machine: str | None = None) -> int | None:
    """The number of the call ``name`` on ``machine`` (this one by default); None if it has none."""
    machine = machine or os.uname().machine
    if machine not in _ARCHES:
        raise Unsupported(f"no seccomp filter for {machine}")
    return _NUMBERS[name][_ARCHES[machine][0]]


def _assemble(code: list[tuple[int, int, int | str, int | str] | str]) -> bytes:
    """``(op, k, jt, jf)`` with label jumps, and labels (str) between them, to a program."""
    labels, index = {}, 0
    for item in code:
        if isinstance(item, str):
            labels[item] = index
        else:
            index += 1
    out, index = bytearray(), 0
    for item in code:
        if isinstance(item, str):
            continue
        op, k, jt, jf = item
        rel = [labels[j] - index - 1 if isinstance(j, str) else j for j in (jt, jf)]
        assert all(0 <= r <= 255 for r in rel), "jump out of range"
        out += struct.pack("=HBBI", op, rel[0], rel[1], k)
        index += 1
    return bytes(out)


def _program(machine: str, *, box: bool) -> bytes:
    if machine not in _ARCHES:
        raise Unsupported(f"no seccomp filter for {machine}")
    column, arch = _ARCHES[machine]

    def nr(name: str) -> int | None:
        return _NUMBERS[name][column]

    code: list[tuple[int, int, int | str, int | str] | str] = [
        (_LD_W_ABS, _OFF_ARCH, 0, 0),
        (_JEQ, arch, 0, "kill"),
        (_LD_W_ABS, _OFF_NR, 0, 0),
    ]
    if machine == "x86_64":
        code.append((_JGE, _X32_BIT, "kill", 0))
    if box:
        # Stacked on the sandbox's filter, which a box inherits: only what a box adds.
        # (Short, so that loading it costs each box little: the kernel runs a new
        # filter once per call number to cache its answers.)
        code += [
            (_JEQ, nr("clone") or 0, "clone", 0),
            (_JEQ, nr("clone3") or 0, "enosys", 0),
            (_JEQ, nr("mount") or 0, "eperm", 0),
        ]
    else:
        code.append((_JEQ, nr("personality") or 0, "personality", 0))
        numbers = sorted(n for n in {nr(c) for c in DENIED} if n is not None)
        code += [(_JEQ, n, "eperm", 0) for n in numbers]
    code += [
        (_RET, _ALLOW, 0, 0),
        "personality",
        (_LD_W_ABS, _OFF_ARG0, 0, 0),
        (_JEQ, _PERSONALITY_OK[0], "allow", 0),
        (_JEQ, _PERSONALITY_OK[1], "allow", "eperm"),
        "clone",
        (_LD_W_ABS, _OFF_ARG0, 0, 0),  # the flags, on both architectures
        (_JSET, _NAMESPACE_FLAGS, "eperm", "allow"),
        "allow",
        (_RET, _ALLOW, 0, 0),
        "eperm",
        (_RET, _ERRNO | errno.EPERM, 0, 0),
        "enosys",
        (_RET, _ERRNO | errno.ENOSYS, 0, 0),
        "kill",
        (_RET, _KILL_PROCESS, 0, 0),
    ]
    return _assemble(code)


@cache
def sandbox_filter(machine: str | None = None) -> bytes:
    """The program bubblewrap loads on the sandbox (``--seccomp``): the deny-list."""
    return _program(machine or os.uname().machine, box=False)


@cache
def box_filter(machine: str | None = None) -> bytes:
    """The program a box stacks on the sandbox's once set up: ``mount`` and new namespaces."""
    return _program(machine or os.uname().machine, box=True)


_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load(program: bytes) -> None:
    """Install ``program`` on this thread's process (sets no-new-privileges first); raises OSError."""
    libc = _libc()
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _Fprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    for args in (
        (_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        (_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0),
    ):
        if libc.prctl(*(ctypes.c_ulong(a) for a in args)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp: {os.strerror(err)}")
