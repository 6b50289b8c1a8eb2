"""The judge's stand-ins for answers that stay in the trainee's box, and what a request carries.

Runs only in the judge's box (``kit.sandbox.judge.judge_main``).  What the trainee's
box offers for a name (``kit.sandbox.callserver``) becomes, here (``materialise``):

* plain data, rebuilt by ``kit.sandbox.safepickle``;
* ``AnswerFunction`` for a function or class: calling it runs the trainee's
  code in their box; ``isinstance(x, Cls)`` asks their box too;
* ``AnswerObject`` for any other object (an instance, an iterator, a
  figure): attribute reads, item access, comparisons, ``len``, ``next`` are
  done on the real object in the trainee's box;
* a real generator (``_generator``) for a generator, so that
  ``isinstance(g, types.GeneratorType)``, ``next(g)`` and ``list(g)`` mean
  what they mean in a notebook;
* ``Uncheckable`` for what cannot be checked (every use raises).

Trainee code never runs here: a stand-in only sends requests, and what comes
back is read with ``kit.sandbox.safepickle``.  Each request carries the test's view of
the notebook (``NotebookView.sync``): answer names the test deleted, rebound
or changed, and the random state; each reply brings back what the trainee's
code printed (written to this process's ``sys.stdout``, where a test's
``redirect_stdout`` sees it), its random state and the files it wrote.
"""

from __future__ import annotations

import inspect
import io
import os
import pickle
import socket
import sys
import time
import types
from typing import Any

from kit.sandbox import safepickle
from kit.sandbox.answers import DETAIL_CAP
from kit.sandbox.callserver import CODE_SUFFIXES, _do, random_state, set_random

__all__ = [
    "AnswerCallFailed",
    "AnswerFunction",
    "AnswerNotCheckable",
    "AnswerObject",
    "NotebookView",
    "Uncheckable",
    "materialise",
]

SAFE_MODULES = {
    "numpy", "pandas", "matplotlib", "math", "statistics", "datetime", "collections",
    "itertools", "functools", "re", "json", "random", "decimal", "fractions", "string",
    "operator", "scipy", "seaborn", "html",
}  # fmt: skip
_MUTABLE_CAP = 4 << 20  # data larger than this is not re-read for changes before each call


class AnswerNotCheckable(Exception):
    """Raised by any use of an answer value that could not be brought into the judge."""


class AnswerCallFailed(Exception):
    """A request to the trainee's box did not return a checkable result."""


class Uncheckable:
    """Stands for an answer value that could not cross; every use raises ``AnswerNotCheckable``."""

    def __init__(self, name: str, reason: str) -> None:
        object.__setattr__(self, "_why", f"answer `{name}` cannot be checked: {reason}")

    def _fail(self, *a: Any, **k: Any) -> Any:
        raise AnswerNotCheckable(object.__getattribute__(self, "_why"))

    def __getattr__(self, name: str) -> Any:
        raise AnswerNotCheckable(object.__getattribute__(self, "_why"))

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_why')}>"

    __str__ = __repr__
    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __contains__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _fail
    __float__ = __int__ = __index__ = __array__ = __hash__ = _fail


# ----------------------------------------------------------------------------- the test's notebook


class NotebookView:
    """The judge's notebook as the trainee's code must see it during a request.

    ``injected``: each answer name as it was put in (the value, and the bytes
    it came as when it was data).  ``scratch``: the judge's scratch folder,
    where files the trainee's code wrote are copied (``write_files``).
    """

    def __init__(self, ns: dict[str, Any], scratch: str, data_files: set[str]) -> None:
        self.ns = ns
        self.scratch = scratch
        self.data_files = data_files
        self.injected: dict[str, tuple[Any, bytes | None]] = {}
        self.from_trainee: set[str] = set()  # files the trainee's code wrote, as copied here
        self.frozen: set[str] | None = None  # the judge's own files when the tests began
        self.sent: dict[str, tuple[int, int]] = {}  # the tests' files as last sent

    def freeze(self) -> None:
        """The tests begin: the files there now are the notebook's own (the tests' may be changed)."""
        if self.frozen is None:
            self.frozen = {
                os.path.relpath(os.path.join(d, f), self.scratch)
                for d, _, files in os.walk(self.scratch)
                for f in files
            }

    def sync(self, reads: list[str] | None) -> dict[str, Any]:
        """What a request carries: the answer names the test changed, and the random state."""
        names: dict[str, tuple[Any, ...]] = {}
        for name, (value, raw) in self.injected.items():
            if name not in self.ns:
                names[name] = ("absent",)
                continue
            now = self.ns[name]
            if now is not value:
                names[name] = ("value", now)
            elif raw is not None and (reads is None or name in reads) and _changed(now, raw):
                names[name] = ("value", now)  # the test changed it in place

        # data the trainee's code reads may be changed by it (`items.append(x)`): watched
        watch = [
            n
            for n, (value, raw) in self.injected.items()
            if raw is not None and n in self.ns and n not in names and (reads is None or n in reads)
        ]
        return {
            "names": names,
            "random": random_state(),
            "watch": watch,
            "files": self._test_files(),
        }

    def _test_files(self) -> dict[str, bytes]:
        """Files the tests wrote since the last request: the trainee's code sees them too."""
        if self.frozen is None:
            return {}
        out: dict[str, bytes] = {}
        for folder, _dirs, files in os.walk(self.scratch):
            for name in files:
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, self.scratch)
                if rel in self.frozen or rel in self.from_trainee or os.path.islink(path):
                    continue
                st = os.stat(path)
                mark = (st.st_mtime_ns, st.st_size)
                if self.sent.get(rel) != mark and st.st_size <= _MUTABLE_CAP:
                    with open(path, "rb") as fh:
                        out[rel] = fh.read()
                    self.sent[rel] = mark
        return out

    def take_globals(self, changed: Any) -> None:
        """Answer names the trainee's code changed during a request: the judge's change alike."""
        if not isinstance(changed, dict):
            return
        for name, raw in changed.items():
            if name not in self.injected or not isinstance(raw, bytes):
                continue
            try:
                new = safepickle.loads(raw)
            except safepickle.Refused:
                continue
            value = self.ns.get(name)
            if value is self.injected[name][0] and _update(value, new):
                self.injected[name] = (value, raw)
            else:
                self.ns[name] = new
                self.injected[name] = (new, raw)

    def take(self, extras: Any) -> None:
        """What a reply brought: printed text, the random state, files."""
        if not isinstance(extras, dict):
            return
        for stream, text in extras.get("out") or []:
            if isinstance(text, str):
                (sys.stderr if stream == "stderr" else sys.stdout).write(text)
        if isinstance(extras.get("random"), bytes):
            _take_random(extras["random"])
        self.write_files(extras.get("files"))
        self.take_globals(extras.get("globals"))

    def write_files(self, files: Any) -> None:
        """Copy files the trainee's code wrote into the judge's scratch folder.

        Never code, never the session's data, never over a file the judge's own
        cells wrote (a hidden test may read it: the trainee's copy must not stand in).
        """
        if not isinstance(files, dict):
            return
        for rel, data in files.items():
            if not isinstance(rel, str) or not isinstance(data, bytes):
                continue
            norm = os.path.normpath(rel)
            if (
                norm.startswith(("/", "..", "."))
                or norm in self.data_files
                or norm.endswith(CODE_SUFFIXES)
                or "\0" in norm
                or "__pycache__" in norm.split(os.sep)
            ):
                continue
            target = os.path.join(self.scratch, norm)
            own = self.frozen is None or norm in self.frozen
            if norm not in self.from_trainee and own and os.path.lexists(target):
                continue  # the judge's own file (its cells wrote it): hidden tests may read it
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if os.path.islink(target):
                    os.unlink(target)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                self.from_trainee.add(norm)
            except OSError:
                continue


def _changed(value: Any, raw: bytes) -> bool:
    if len(raw) > _MUTABLE_CAP or isinstance(value, int | float | str | bytes | tuple | type(None)):
        return False
    try:
        return safepickle.dumps(value) != raw
    except Exception:  # noqa: BLE001 - not data any more: send it as it is
        return True


def _take_random(raw: bytes) -> None:
    try:
        py_state, np_state = safepickle.loads(raw)
        set_random((py_state, np_state))
    except Exception:  # noqa: BLE001 - a state that does not fit: the judge keeps its own
        pass


# ----------------------------------------------------------------------------- channels


class Channel:
    """A socket to a process in the trainee's box; every frame from it is read with safepickle."""

    def __init__(self, sock: socket.socket, limit: int, cell_timeout: float) -> None:
        self.sock = sock
        self.limit = limit
        self.cell_timeout = float(cell_timeout)

    def recv(self, timeout: float) -> Any:
        from kit.execution.zygote import recv_frame

        self.sock.settimeout(max(timeout, 0.001))
        return recv_frame(self.sock, loads=safepickle.loads, limit=self.limit)


class Server(Channel):
    """The judge's end of a call server: the process holding one answer's values."""

    def __init__(self, sock: socket.socket, link: Any) -> None:
        super().__init__(sock, link.limit, link.cell_timeout)
        self.link = link  # kit.sandbox.judge._Link: counts calls, holds the notebook view
        self.broken: str | None = None  # why requests can no longer be made
        self.next_id = 0
        self.proxies: dict[int, Any] = {}  # one stand-in per handle
        self.callbacks: dict[int, Any] = {}  # the test's functions given to the trainee's code

    def register(self, value: Any) -> int:
        """A number for a value of the test's that the trainee's code may use through the judge."""
        for ref, known in self.callbacks.items():
            if known is value:
                return ref
        ref = len(self.callbacks) + 1
        self.callbacks[ref] = value
        return ref

    def _callback(self, frame: tuple[Any, ...]) -> None:
        """The trainee's code uses a value of the test's: do it here (test code, on plain data)."""
        from kit.execution.zygote import send_frame

        _, ref, op, offers, kw = frame
        try:
            if op not in ("call", "next"):
                # only what the test gave can be done: reading attributes of the test's
                # function (its __globals__: keys, hidden tests) must not be
                raise TypeError("the test's value can only be called or iterated")
            value = self.callbacks[ref]
            args = [materialise("an argument", o, self, objects=True) for o in offers]
            kwargs = {
                str(k): materialise("an argument", o, self, objects=True) for k, o in kw.items()
            }
            reply: tuple[Any, ...] = (
                "cbresult",
                True,
                _pickle(_do(value, str(op), tuple(args), kwargs), self),
            )
        except BaseException as e:  # noqa: BLE001 - the test's exception goes to the trainee's code
            if not isinstance(e, Exception):
                raise
            reply = ("cbresult", False, (type(e).__name__, str(e)[:DETAIL_CAP]))
        send_frame(self.sock, reply)

    def request(
        self, who: Remote, op: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        """Do ``op`` on the trainee's value in its box; the result comes back as data or a stand-in."""
        from kit.execution.zygote import send_frame

        name = object.__getattribute__(who, "_name")
        if self.broken:
            raise AnswerCallFailed(f"`{name}` cannot be used: {self.broken}")
        self.link.calls += 1
        self.next_id += 1
        cid = self.next_id
        view = self.link.view
        meta = object.__getattribute__(who, "_meta")
        kwargs = kwargs or {}
        try:
            data = _pickle((args, kwargs, view.sync(meta.get("globals"))), self)
        except Exception as e:  # noqa: BLE001
            raise AnswerCallFailed(f"what the test gives `{name}` cannot be sent: {e}") from None
        try:
            send_frame(self.sock, ("op", cid, object.__getattribute__(who, "_handle"), op, data))
            deadline = time.monotonic() + self.cell_timeout + 1.0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                frame = self.recv(left)
                if frame is None:
                    raise EOFError
                if isinstance(frame, tuple) and len(frame) == 4 and frame[:2] == ("result", cid):
                    reply, extras = frame[2], frame[3]
                    break
                if isinstance(frame, tuple) and len(frame) == 5 and frame[0] == "callback":
                    self._callback(frame)
                    deadline = time.monotonic() + self.cell_timeout + 1.0
        except TimeoutError:
            self.broken = f"a use of `{name}` ran past {self.cell_timeout:g} s"
            raise AnswerCallFailed(self.broken) from None
        except BaseException as e:
            # the judge's own cell timeout may land here: the channel is out of step now
            self.broken = f"a use of `{name}` did not return ({type(e).__name__})"
            if isinstance(e, EOFError | OSError | safepickle.Refused):
                raise AnswerCallFailed(self.broken) from None
            raise
        view.take(extras)
        if isinstance(extras, dict) and isinstance(extras.get("args"), dict):
            _write_back(extras["args"], args, kwargs)
        if isinstance(reply, tuple) and reply and reply[0] == "raised" and len(reply) == 3:
            raise _raised(str(reply[1]), str(reply[2]), name)
        if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "ok":
            root = object.__getattribute__(who, "_root")
            value = materialise(
                f"{name}(...)", reply[1], self, objects=self.link.objects_from(root), root=root
            )
            if isinstance(reply[1], tuple) and reply[1][:1] == ("object",):
                self.link.gave_objects.add(root)
            if isinstance(value, Uncheckable):
                raise AnswerCallFailed(repr(value)[1:-1])
            return value
        raise AnswerCallFailed(f"`{name}` gave nothing checkable")


# ----------------------------------------------------------------------------- stand-ins

_PASSED_ON = {"__name__", "__qualname__", "__doc__", "__module__", "__defaults__", "__wrapped__"}


class Remote:
    """A value that stays in the trainee's box; what the test does with it is done there."""

    def __init__(
        self, server: Server, name: str, handle: int, meta: dict[str, Any], root: str
    ) -> None:
        object.__setattr__(self, "_root", root)  # the answer name it came from
        object.__setattr__(self, "_server", server)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_meta", meta)

    def _do(self, op: str, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_server").request(self, op, args, kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr not in _PASSED_ON:
            raise AttributeError(attr)  # Python's and numpy's probing stay here
        return self._do("getattr", attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        self._do("setattr", attr, value)

    def __delattr__(self, attr: str) -> None:
        self._do("delattr", attr)

    def __repr__(self) -> str:
        try:
            return str(self._do("repr"))
        except Exception:  # noqa: BLE001
            return f"<the trainee's {object.__getattribute__(self, '_name')}>"

    def __str__(self) -> str:
        return str(self._do("str"))

    def __eq__(self, other: Any) -> Any:
        return self._do("eq", other)

    def __ne__(self, other: Any) -> Any:
        return self._do("ne", other)

    def __hash__(self) -> int:
        return object.__hash__(self)


def _op(name: str) -> Any:
    def method(self: Remote, *args: Any) -> Any:
        return self._do(name, *args)

    method.__name__ = f"__{name}__"
    return method


class AnswerObject(Remote):
    """An object of the trainee's (an instance, an iterator, a figure, ...)."""

    __len__ = _op("len")
    __bool__ = _op("bool")
    __contains__ = _op("contains")
    __getitem__ = _op("getitem")
    __setitem__ = _op("setitem")
    __delitem__ = _op("delitem")
    __lt__ = _op("lt")
    __le__ = _op("le")
    __gt__ = _op("gt")
    __ge__ = _op("ge")
    __add__ = _op("add")
    __sub__ = _op("sub")
    __mul__ = _op("mul")
    __truediv__ = _op("truediv")
    __neg__ = _op("neg")
    __abs__ = _op("abs")
    __float__ = _op("float")
    __int__ = _op("int")

    def __iter__(self) -> Any:
        got = self._do("iter")
        return got if got is self or hasattr(got, "__next__") else iter(got)

    def __next__(self) -> Any:
        return self._do("next")

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """A matplotlib type when the object claims one (an Axes), so ``isinstance`` holds.

        Never a data type: an object posing as a DataFrame must not pass for one.
        """
        # the trainee's box says: believed for figures only
        meta = object.__getattribute__(self, "_meta")
        mod = sys.modules.get(str(meta.get("module")))
        if mod is not None and str(meta.get("module")).split(".")[0] == "matplotlib":
            found: Any = mod
            for part in str(meta.get("type")).split("."):
                found = getattr(found, part, None)
            if isinstance(found, type):
                return found
        return AnswerObject


class AnswerFunction(AnswerObject):
    """A function or class of the trainee's: calls go to the trainee's box."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._do("call", *args, **kwargs)

    @property
    def __signature__(self) -> Any:
        """The trainee's function's parameters (``inspect.signature``), rebuilt from data."""
        params = []
        for name, kind, has_default, default in self._do("signature"):
            extra = {"default": default} if has_default else {}
            params.append(inspect.Parameter(str(name), inspect._ParameterKind(kind), **extra))
        return inspect.Signature(params)

    def __instancecheck__(self, obj: Any) -> bool:
        return _same_box(self, obj) and bool(self._do("isinstance", obj))

    def __subclasscheck__(self, cls: Any) -> bool:
        return _same_box(self, cls) and bool(self._do("issubclass", cls))

    def __repr__(self) -> str:
        return f"<the trainee's function {object.__getattribute__(self, '_name')}>"


def _remote_doc(self: Remote) -> Any:
    return self._do("getattr", "__doc__")


# The docstring a test reads is the trainee's, not the stand-in's (the classes' own stay in the source).
AnswerObject.__doc__ = property(_remote_doc)  # type: ignore[assignment]
AnswerFunction.__doc__ = property(_remote_doc)  # type: ignore[assignment]


def _same_box(a: Remote, b: Any) -> bool:
    server = object.__getattribute__(a, "_server")
    return _handle_of(b, server) is not None


_GENERATORS: dict[int, tuple[Any, Server, int]] = {}  # id(generator) -> (it, server, handle)


def _generator(proxy: AnswerObject, server: Server, handle: int) -> Any:
    """A real generator that takes each item from the trainee's generator (``send`` passes on)."""

    def gen() -> Any:
        sent = None
        while True:
            try:
                item = proxy._do("next") if sent is None else proxy._do("send", sent)
            except StopIteration:
                return
            sent = yield item

    g = gen()
    g.__qualname__ = g.__name__ = str(object.__getattribute__(proxy, "_meta").get("name") or "gen")
    _GENERATORS[id(g)] = (g, server, handle)
    return g


def _handle_of(obj: Any, server: Server) -> int | None:
    """The handle of a stand-in of ``server``'s (None for anything else)."""
    if isinstance(obj, Remote) and type(obj) in (AnswerObject, AnswerFunction):
        if object.__getattribute__(obj, "_server") is server:
            return int(object.__getattribute__(obj, "_handle"))
        raise AnswerCallFailed("a value of one answer cannot be given to another answer's code")
    found = _GENERATORS.get(id(obj))
    if found is not None and found[0] is obj:
        if found[1] is not server:
            raise AnswerCallFailed("a value of one answer cannot be given to another answer's code")
        return found[2]
    return None


def _write_back(changed: dict[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The trainee's code changed arguments in place: change the test's own objects alike."""
    for key, raw in changed.items():
        if type(key) is int and 0 <= key < len(args):
            target = args[key]
        elif isinstance(key, str) and key in kwargs:
            target = kwargs[key]
        else:
            continue
        try:
            _update(target, safepickle.loads(raw))
        except Exception:  # noqa: BLE001 - a change that does not fit leaves the test's object as it was
            continue


def _update(target: Any, new: Any) -> bool:
    """Change ``target`` in place to equal ``new``; False when it cannot be (an int, another type)."""
    import numpy as np
    import pandas as pd

    if type(target) is list and type(new) is list:
        target[:] = new
    elif type(target) in (dict, set) and type(new) is type(target):
        target.clear()
        target.update(new)
    elif type(target) is bytearray and type(new) is bytearray:
        target[:] = new
    elif type(target) is np.ndarray and type(new) is np.ndarray and target.shape == new.shape:
        target[...] = new
    elif type(target) is pd.DataFrame and type(new) is pd.DataFrame:
        if not target.index.equals(new.index):
            target.drop(index=[i for i in target.index if i not in new.index], inplace=True)
        for col in [c for c in target.columns if c not in new.columns]:
            del target[col]
        for col in new.columns:
            target[col] = new[col]
    elif type(target) is pd.Series and type(new) is pd.Series and target.index.equals(new.index):
        target[:] = new.values
    else:
        return False
    return True


def _by_reference(o: Any) -> bool:
    """A function the trainee's box can import itself (numpy's, say) is sent by name."""
    mod = str(getattr(o, "__module__", "") or "")
    return mod.split(".")[0] in SAFE_MODULES and "<" not in str(getattr(o, "__qualname__", "<"))


def _pickle(obj: Any, server: Server) -> bytes:
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=5)

    def pid(o: Any) -> Any:
        if type(o) in (AnswerObject, AnswerFunction) or id(o) in _GENERATORS:
            h = _handle_of(o, server)
            if h is not None:
                return ("h", h)
        if isinstance(o, types.FunctionType | types.MethodType | types.GeneratorType):
            if not _by_reference(o):
                return ("cb", server.register(o))
        return None

    p.persistent_id = pid  # type: ignore[method-assign]
    p.dump(obj)
    return buf.getvalue()


_RAISABLE = {
    e.__name__: e
    for e in (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, AttributeError,
              NameError, AssertionError, ArithmeticError, LookupError, RuntimeError,
              NotImplementedError, OverflowError, RecursionError, StopIteration,
              FileNotFoundError, OSError, UnboundLocalError)
}  # fmt: skip


def _raised(ename: str, message: str, name: str) -> BaseException:
    """The trainee's exception, re-raised in the judge as the same builtin type when it is one."""
    cls = _RAISABLE.get(ename)
    if cls is not None:
        return cls(message)
    return AnswerCallFailed(f"`{name}` raised {ename[:100]}: {message}")


def materialise(
    name: str, offer: Any, server: Server | None, *, objects: bool, root: str | None = None
) -> Any:
    """Turn what the trainee's box offered for a name into the judge's value.

    ``objects``: an object of the trainee's may stand here (a name whose
    solution is itself such an object, or what using one gives where the
    solution's gave objects too); where the solution holds or returns data,
    an object is not checkable: it could pose as the data (an ``__eq__`` that
    says yes to anything).  ``root``: the answer name the value comes from.
    """
    if not isinstance(offer, tuple) or not offer or not isinstance(offer[0], str):
        return Uncheckable(name, "nothing readable was sent")
    kind = offer[0]
    if kind == "data" and len(offer) == 2:
        try:
            return safepickle.loads(offer[1])
        except safepickle.Refused as e:
            return Uncheckable(name, f"it is of a type that cannot be checked ({e})")
    if kind in ("callable", "object") and len(offer) == 3 and type(offer[1]) is int:
        meta = offer[2] if isinstance(offer[2], dict) else {}
        if kind == "object" and not objects:
            return Uncheckable(name, f"it is {str(meta.get('why') or 'not data')[:DETAIL_CAP]}")
        if server is None:
            return Uncheckable(name, "its process did not start")
        known = server.proxies.get(offer[1])
        if known is not None:
            return known
        cls = AnswerFunction if kind == "callable" else AnswerObject
        proxy = cls(server, name, offer[1], meta, root or name)
        value = _generator(proxy, server, offer[1]) if meta.get("generator") is True else proxy
        server.proxies[offer[1]] = value
        return value
    if kind == "module" and len(offer) == 2 and isinstance(offer[1], str):
        mod = sys.modules.get(offer[1])
        if mod is not None and offer[1].split(".")[0] in SAFE_MODULES:
            return mod
        return Uncheckable(name, f"the module {offer[1][:100]!r} is not available to the checks")
    if kind == "uncrossable" and len(offer) == 2:
        return Uncheckable(name, f"it is {str(offer[1])[:DETAIL_CAP]}")
    return Uncheckable(name, "nothing readable was sent")
