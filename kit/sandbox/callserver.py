"""The trainee's side of answers that are not plain data: what is offered, and the calls it serves.

Runs only in the trainee's box (``kit.sandbox.judge.trainee_main``).  A value that
``kit.sandbox.safepickle`` cannot carry stays here under a *handle*: a function or
class (``callable``), or any other object — a generator, an iterator, an
instance of the trainee's class, a closure's result, a matplotlib figure
(``object``).  The judge holds a stand-in (``kit.sandbox.proxies``) and asks this box,
one request at a time, to do with the real value whatever the test does with
the stand-in: call it, read or set an attribute, take the next item, compare
it, ...  Only the result crosses back, as data or as another handle.

So that a call means what it would mean in the notebook, each request also
carries the test's view of the notebook (``_apply``): which of the answers'
names the test deleted or rebound (``del squares`` before calling
``sum_of_squares``), and the state of ``random`` and ``numpy.random``; and the
reply carries what the call printed, the random state it left and the files
it wrote, which the judge takes over.
"""

from __future__ import annotations

import builtins
import inspect
import io
import operator
import os
import pickle
import random
import signal
import socket
import sys
import types
from typing import Any

from kit.execution import shell
from kit.execution.shell import CellTimeoutError
from kit.sandbox import safepickle
from kit.sandbox.answers import DETAIL_CAP

__all__ = [
    "STATE",
    "changed_files",
    "describe",
    "offer",
    "random_state",
    "serve_calls",
    "set_random",
]

STATE: dict[str, Any] = {}  # in a template and its boxes: the template's job, the box's scratch
_MISSING = object()
# Files that could become code in the judge (its scratch folder is on sys.path) never cross.
CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".pyd", ".so", ".pth", ".egg", ".whl")
MAX_FILES = 200
_OUTPUT_CAP = 1 << 20


def offer(
    ns: dict[str, Any], name: str, handles: dict[int, Any], timeout: float
) -> tuple[Any, ...]:
    """What crosses for one name (see ``describe``), or ("absent",)."""
    if name not in ns:
        return ("absent",)
    return describe(ns[name], handles, timeout)


def describe(value: Any, handles: dict[int, Any], timeout: float) -> tuple[Any, ...]:
    """("data", bytes) | ("callable"|"object", handle, meta) | ("module", m) | ("uncrossable", why)."""
    found = _describe(value, handles, timeout)
    cap = int(STATE.get("answer_bytes") or 0)
    if found[0] == "data" and cap and len(found[1]) > cap:
        return ("uncrossable", f"larger than {cap // (1024 * 1024)} MB")
    return found


def _describe(value: Any, handles: dict[int, Any], timeout: float) -> tuple[Any, ...]:
    if isinstance(value, types.ModuleType):
        return ("module", str(getattr(value, "__name__", "")))
    try:
        signal.setitimer(signal.ITIMER_REAL, max(float(timeout), 1.0))
        try:
            return ("data", safepickle.dumps(value))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except safepickle.Uncrossable as e:
        return _handle(value, handles, str(e)[:DETAIL_CAP])
    except CellTimeoutError:
        return ("uncrossable", "it took too long to copy")
    except MemoryError:
        return ("uncrossable", "it is too large")
    except Exception as e:  # noqa: BLE001 - whatever the trainee's objects do, it is their answer's fault
        return ("uncrossable", f"{type(e).__name__}: {e}"[:DETAIL_CAP])


def _handle(value: Any, handles: dict[int, Any], why: str) -> tuple[Any, ...]:
    """Keep ``value`` here under a handle (the same handle for the same object)."""
    h = next((k for k, v in handles.items() if v is value), None)
    if h is None:
        h = len(handles) + 1
        handles[h] = value
    t = type(value)
    meta = {
        "type": str(getattr(t, "__qualname__", "?"))[:200],
        "module": str(getattr(t, "__module__", "") or "")[:200],
        "why": why,
        "generator": isinstance(value, types.GeneratorType),
        "iterator": hasattr(t, "__next__"),
        "name": str(getattr(value, "__name__", "") or "")[:200] if callable(value) else "",
        "globals": _global_names(value),
    }
    return ("callable" if callable(value) else "object", h, meta)


def _global_names(value: Any) -> list[str] | None:
    """The global names a function's (or a class's methods') code reads; None: unknown."""
    codes = []
    fn = getattr(value, "__func__", value)
    if isinstance(fn, types.FunctionType):
        codes.append(fn.__code__)
    elif isinstance(value, type):
        for attr in vars(value).values():
            attr = getattr(attr, "__func__", attr)
            if isinstance(attr, types.FunctionType):
                codes.append(attr.__code__)
    else:
        return None
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return sorted(names)[:500]


# ----------------------------------------------------------------------------- files the answers wrote


def changed_files(seen: dict[str, tuple[int, int]]) -> dict[str, bytes]:
    """Files the trainee's code wrote in the box's scratch folder since the last look.

    The session's own data files and anything that could be imported as code
    are left out; links are not followed; at most ``MAX_FILES`` files and the
    answer size cap in all.
    """
    root = STATE.get("scratch")
    if not root:
        return {}
    data = set(STATE.get("files") or {})
    cap = int(STATE.get("answer_bytes") or (64 << 20))
    out: dict[str, bytes] = {}
    total = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if rel in data or name.endswith(CODE_SUFFIXES) or name.startswith("."):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            mark = (st.st_mtime_ns, st.st_size)
            if seen.get(rel) == mark:
                continue
            total += st.st_size
            if total > cap or len(out) >= MAX_FILES:
                return out
            try:
                with open(path, "rb") as fh:
                    out[rel] = fh.read(cap)
            except OSError:
                continue
            seen[rel] = mark
    return out


# ----------------------------------------------------------------------------- serving the judge


class _ArgsUnpickler(pickle.Unpickler):
    """Reads the judge's requests (trusted bytes); the judge's stand-ins become the real values."""

    def __init__(self, data: bytes, handles: dict[int, Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.handles = handles

    def persistent_load(self, pid: Any) -> Any:
        if pid[0] == "cb":
            return _JudgeValue(int(pid[1]))
        return self.handles[pid[1]]


class _JudgeValue:
    """A function or generator of the judge's test, given to the trainee's code: used through the judge.

    ``apply_twice(lambda x: x + 1, 3)``: each call of the lambda asks the judge
    to run it (the test's own code, in the judge's box) on what the trainee's
    code passes, as data or stand-ins.
    """

    def __init__(self, ref: int) -> None:
        self._ref = ref

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _ask(self._ref, "call", args, kwargs)

    def __iter__(self) -> _JudgeValue:
        return self

    def __next__(self) -> Any:
        return _ask(self._ref, "next", (), {})


_SERVING: dict[str, Any] = {}  # the link, handles and timeout of the request being served


def _ask(ref: int, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Have the judge do ``op`` on its value ``ref``; serve the judge's own requests meanwhile."""
    from kit.execution import zygote

    link, handles, timeout = _SERVING["link"], _SERVING["handles"], _SERVING["timeout"]
    offers = [describe(a, handles, timeout) for a in args]
    kw = {str(k): describe(v, handles, timeout) for k, v in kwargs.items()}
    zygote.send_frame(link, ("callback", ref, op, offers, kw))
    while True:
        frame = zygote.recv_frame(link)
        if frame is None:
            os._exit(0)
        if frame[0] == "op":
            _serve_one(frame)
        elif frame[0] == "cbresult":
            if frame[1] is True:
                return _ArgsUnpickler(frame[2], handles).load()
            ename, message = frame[2]
            cls = getattr(builtins, str(ename), None)
            if isinstance(cls, type) and issubclass(cls, Exception):
                raise cls(message)
            raise RuntimeError(f"{ename}: {message}")


class _Globals:
    """The answers' names as the judge's test left them, put in place for one request."""

    def __init__(self) -> None:
        self.ns = shell.shell().user_ns
        self.orig: dict[str, Any] = {}
        self.changed: set[str] = set()

    def apply(self, names: dict[str, tuple[Any, ...]]) -> None:
        for n in self.changed:  # what the previous request changed goes back first
            value = self.orig.get(n, _MISSING)
            if value is _MISSING:
                self.ns.pop(n, None)
            else:
                self.ns[n] = value
        self.changed.clear()
        for n, state in names.items():
            if n not in self.orig:
                self.orig[n] = self.ns.get(n, _MISSING)
            if state[0] == "absent":
                self.ns.pop(n, None)
            elif state[0] == "value":
                self.ns[n] = state[1]
            else:
                continue
            self.changed.add(n)


def set_random(state: Any) -> None:
    """Put back a ``random_state()`` (on either side of the boxes); nothing for none."""
    if not state:
        return
    random.setstate(state[0])
    if state[1] is not None and "numpy" in sys.modules:
        sys.modules["numpy"].random.set_state(state[1])


def random_state() -> tuple[Any, Any]:
    """The state of ``random`` and, once it is imported, of ``numpy.random``."""
    np_state = sys.modules["numpy"].random.get_state() if "numpy" in sys.modules else None
    return (random.getstate(), np_state)


def _do(value: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """One operation of the judge's stand-in, done on the real value."""
    if op == "call":
        return value(*args, **kwargs)
    if op == "getattr":
        return getattr(value, args[0])
    if op == "setattr":
        return setattr(value, args[0], args[1])
    if op == "delattr":
        return delattr(value, args[0])
    if op == "next":
        return next(value)
    if op == "send":
        return value.send(args[0])
    if op == "throw":
        return value.throw(args[0])
    if op == "iter":
        return iter(value)
    if op == "isinstance":
        return isinstance(args[0], value)
    if op == "issubclass":
        return isinstance(args[0], type) and issubclass(args[0], value)
    if op == "signature":
        return _signature(value)

    fn: Any = {"len": len, "repr": repr, "str": str, "bool": bool, "contains": operator.contains,
          "getitem": operator.getitem, "setitem": operator.setitem, "delitem": operator.delitem,
          "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
          "gt": operator.gt, "ge": operator.ge, "add": operator.add, "sub": operator.sub,
          "mul": operator.mul, "truediv": operator.truediv, "neg": operator.neg,
          "abs": abs, "float": float, "int": int, "hash": hash, "dir": dir}.get(op)  # fmt: skip
    if fn is None:
        raise TypeError(f"unsupported operation {op!r}")
    return fn(value, *args)


def _signature(value: Any) -> list[tuple[str, int, bool, Any]]:
    """The parameters of a function as data: name, kind, whether it has a default, the default."""
    out = []
    for p in inspect.signature(value).parameters.values():
        default = None
        if p.default is not p.empty:
            try:
                safepickle.dumps(p.default)
                default = p.default
            except Exception:  # noqa: BLE001 - a default that is not data: its presence is enough
                pass
        out.append((p.name, int(p.kind), p.default is not p.empty, default))
    return out


def serve_calls(link: socket.socket, handles: dict[int, Any], timeout: float) -> None:
    """Do the judge's requests on the answers' values, one at a time, each under the cell timeout."""
    from kit.execution import zygote

    _SERVING.update(link=link, handles=handles, timeout=timeout, view=_Globals(), seen={})
    changed_files(_SERVING["seen"])  # what the cells wrote has crossed with their answers
    while True:
        frame = zygote.recv_frame(link)
        if frame is None:
            return
        _serve_one(frame)


def _serve_one(frame: tuple[Any, ...]) -> None:
    from kit.execution import zygote

    link, handles, timeout = _SERVING["link"], _SERVING["handles"], _SERVING["timeout"]
    _, cid, handle, op, data = frame
    shell._Sink.outputs = []
    given: dict[Any, tuple[Any, bytes]] = {}
    try:
        args, kwargs, sync = _ArgsUnpickler(data, handles).load()
        _SERVING["view"].apply(sync.get("names", {}))
        set_random(sync.get("random"))
        _take_files(sync.get("files") or {})
        given = _mutable_args(args, kwargs)
        watched = _snapshot(sync.get("watch") or [])
        signal.setitimer(signal.ITIMER_REAL, float(timeout))
        try:
            result = _do(handles[handle], op, args, kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        reply: tuple[Any, ...] = ("ok", describe(result, handles, timeout))
    except BaseException as e:  # noqa: BLE001 - the answer's exception is the answer's result
        if isinstance(e, SystemExit | KeyboardInterrupt):
            os._exit(0)
        # an exception class of the trainee's own reaches the judge as its built-in base
        base = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
        reply = ("raised", base.__name__, str(e)[:DETAIL_CAP])
    extras: dict[str, Any] = {"out": _printed(), "files": changed_files(_SERVING["seen"])}
    extras["args"] = _changed_args(given)
    extras["globals"] = _changed_args(watched, _SERVING["view"].ns)
    try:
        extras["random"] = safepickle.dumps(random_state())
    except Exception:  # noqa: BLE001 - the trainee broke their random module: the judge keeps its own
        pass
    zygote.send_frame(link, ("result", cid, reply, extras))


_ARG_CAP = 4 << 20


def _mutable_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[Any, tuple[Any, bytes]]:
    """The arguments a call could change in place, with their bytes before it."""
    out = {}
    for key, value in [*enumerate(args), *kwargs.items()]:
        if isinstance(value, list | dict | set | bytearray) or type(value).__module__.startswith(
            ("numpy", "pandas")
        ):
            if (raw := _data(value)) is not None:
                out[key] = (value, raw)
    return out


def _data(value: Any) -> bytes | None:
    """``value`` as data, or None when it is not data or larger than ``_ARG_CAP``."""
    try:
        raw = safepickle.dumps(value)
    except Exception:  # noqa: BLE001
        return None
    return raw if len(raw) <= _ARG_CAP else None


def _take_files(files: dict[str, bytes]) -> None:
    """Files the judge's tests wrote: put here, as seen (they do not go back unchanged)."""
    root = STATE.get("scratch")
    if not root:
        return
    for rel, data in files.items():
        norm = os.path.normpath(rel)
        if norm.startswith(("/", "..")):
            continue
        path = os.path.join(root, norm)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        st = os.stat(path)
        _SERVING["seen"][norm] = (st.st_mtime_ns, st.st_size)


def _snapshot(names: list[str]) -> dict[Any, tuple[Any, bytes]]:
    """The answers' data the request's code reads, with its bytes before the request."""
    ns = _SERVING["view"].ns
    out = {}
    for n in names:
        if isinstance(n, str) and n in ns and (raw := _data(ns[n])) is not None:
            out[n] = (ns[n], raw)
    return out


def _changed_args(
    given: dict[Any, tuple[Any, bytes]], ns: dict[str, Any] | None = None
) -> dict[Any, bytes]:
    """Values the request changed (in place, or rebound in ``ns``): their new bytes."""
    out = {}
    for key, (value, raw) in given.items():
        if ns is not None:
            if key not in ns:
                continue
            value = ns[key]
        now = _data(value)
        if now is not None and now != raw:
            out[key] = now
    return out


def _printed() -> list[tuple[str, str]]:
    """What the request printed, stream by stream."""
    out = []
    size = 0
    for o in shell._Sink.outputs:
        if o.get("output_type") == "stream" and size < _OUTPUT_CAP:
            text = "".join(o.get("_chunks") or [o.get("text", "")])[: _OUTPUT_CAP - size]
            size += len(text)
            out.append((str(o.get("name")), text))
    shell._Sink.outputs = []
    return out
