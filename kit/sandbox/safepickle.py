"""Values that cross from trainee code to the judge: a data-only pickle.

The trainee's box (``kit.sandbox.judge``) sends the judge the values its answers
bound.  Everything the box sends is written by code the trainee controls, so
the judge must read it as hostile bytes: a stock ``pickle.loads`` would run
any callable the bytes name (``os.system``), and even a pickle restricted to
pandas' own reconstructors is unsafe, because pandas trusts its pickles'
internal layout: a DataFrame pickle with a crafted block placement was
measured to crash the reading process (segmentation fault) — memory the judge
holds (hidden tests) must not be at the mercy of such bytes.

So the format is two layers:

* ``dumps`` (in the trainee's box) turns pandas objects into ``Encoded``
  nodes of plain parts — numpy arrays without objects, lists, names — and
  pickles the result.
* ``loads`` (in the judge) unpickles with an allow-list: builtins' data types,
  ``datetime``, ``decimal``, ``fractions``, four ``collections`` types, numpy
  arrays/dtypes/scalars (numpy validates their buffers; structured dtypes are
  refused) and ``Encoded``; every other global is refused, and BUILD (state
  setting) is allowed only on numpy arrays and dtypes.  Then it rebuilds the
  pandas objects through their public constructors, which check lengths,
  category codes and MultiIndex codes.

A value that cannot cross raises ``Uncrossable`` (trainee side) or
``Refused`` (judge side) with a reason naming the type; the judge reports it
as an answer that cannot be checked.
"""

from __future__ import annotations

import builtins
import collections
import datetime
import decimal
import fractions
import io
import pickle
import zoneinfo
from typing import Any

import numpy as np
from numpy._core.multiarray import _reconstruct

__all__ = ["Encoded", "Refused", "Uncrossable", "dumps", "loads"]

MAX_DEPTH = 200  # nesting the encoder follows; deeper values are refused
# What one decoded value may hold, counting a part as often as it is referenced:
# the decoder copies containers, so a few KB of shared references (a list of the
# same list, 30 levels deep) would expand to 10**9 elements and take the judge's
# memory and a minute.  Counted before expanding, in milliseconds; what passes
# a cap is refused as too large to check (the submission's doing, not the grader's).
MAX_ITEMS = 4_000_000  # container slots (elements, keys and values)
MAX_BYTES = 512 << 20  # bytes of strings, bytes and numpy buffers


class Uncrossable(Exception):
    """(trainee side) A value of a type that cannot be sent to the judge."""


class Refused(Exception):
    """(judge side) Bytes that do not decode to plain data; the reason names what was refused."""


class Encoded(tuple[Any, ...]):
    """A pandas object (or a numpy object array) taken apart: ``(kind, *parts)``."""

    __slots__ = ()


# ----------------------------------------------------------------------------- encode


_PLAIN = {
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    range,
    slice,
    type(Ellipsis),
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    fractions.Fraction,
}
_FACTORIES = {list, dict, set, int, float, str, tuple}  # defaultdict factories that may cross


def dumps(value: Any) -> bytes:
    """Encode ``value`` for the judge; raises ``Uncrossable`` naming the first type that cannot cross."""
    try:
        enc = _enc(value, 0)
    except RecursionError:
        raise Uncrossable("the value is nested too deeply") from None
    return pickle.dumps(enc, protocol=5)


def _typename(x: Any) -> str:
    t = type(x)
    mod = getattr(t, "__module__", "") or ""
    return t.__qualname__ if mod == "builtins" else f"{mod}.{t.__qualname__}"


def _enc(x: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Uncrossable("the value is nested too deeply")
    t = type(x)
    if t in _PLAIN:
        return x
    d = depth + 1
    if t is datetime.timezone:
        return x
    if t is list:
        return [_enc(v, d) for v in x]
    if t is tuple:
        return tuple(_enc(v, d) for v in x)
    if t is set or t is frozenset:
        return t(_enc(v, d) for v in x)
    if t is dict or t is collections.OrderedDict or t is collections.Counter:
        return t({_enc(k, d): _enc(v, d) for k, v in x.items()})
    if t is collections.defaultdict:
        if x.default_factory is not None and x.default_factory not in _FACTORIES:
            raise Uncrossable(f"a defaultdict whose factory is {x.default_factory!r}")
        return collections.defaultdict(
            x.default_factory, {_enc(k, d): _enc(v, d) for k, v in x.items()}
        )
    if t is collections.deque:
        return collections.deque((_enc(v, d) for v in x), maxlen=x.maxlen)
    if t is np.ndarray:
        return _enc_ndarray(x, d)
    if isinstance(x, np.generic) and t.__module__ == "numpy":
        if x.dtype.hasobject or x.dtype.fields is not None:
            raise Uncrossable(f"a numpy scalar of dtype {x.dtype}")
        return x
    if isinstance(x, np.dtype):
        if x.hasobject or x.fields is not None or x.subdtype is not None:
            raise Uncrossable(f"the numpy dtype {x}")
        return x
    mod = t.__module__ or ""
    if mod.startswith("pandas"):
        return _enc_pandas(x, d)
    raise Uncrossable(f"a value of type {_typename(x)}")


def _enc_ndarray(x: np.ndarray, depth: int) -> Any:
    if x.dtype == object:
        return Encoded(("objarr", tuple(x.shape), [_enc(v, depth) for v in x.ravel().tolist()]))
    if x.dtype.hasobject or x.dtype.fields is not None or x.dtype.subdtype is not None:
        raise Uncrossable(f"a numpy array of structured dtype {x.dtype}")
    return np.ascontiguousarray(x)


def _enc_pandas(x: Any, depth: int) -> Any:
    import pandas as pd

    t = type(x)
    if t is pd.DataFrame:
        cols = [_enc_values(x.iloc[:, i].array, depth) for i in range(x.shape[1])]
        return Encoded(("frame", _enc_index(x.columns, depth), _enc_index(x.index, depth), cols))
    if t is pd.Series:
        return Encoded(
            ("series", _enc(x.name, depth), _enc_index(x.index, depth), _enc_values(x.array, depth))
        )
    if t is pd.RangeIndex or t is pd.MultiIndex or t in _index_types():
        return _enc_index(x, depth)
    if t is pd.Timestamp:
        if x.tz is not None:
            return Encoded(("ts", x.tz_convert(None).to_datetime64(), str(x.tz)))
        return Encoded(("ts", x.to_datetime64(), None))
    if t is pd.Timedelta:
        return Encoded(("td", x.to_timedelta64()))
    if x is pd.NaT:
        return Encoded(("nat",))
    if x is pd.NA:
        return Encoded(("na",))
    raise Uncrossable(f"a value of type {_typename(x)}")


def _enc_index(idx: Any, depth: int) -> Encoded:
    import pandas as pd

    t = type(idx)
    if t is pd.RangeIndex:
        return Encoded(("range", idx.start, idx.stop, idx.step, _enc(idx.name, depth)))
    if t is pd.MultiIndex:
        return Encoded(
            (
                "multi",
                [_enc_index(level, depth + 1) for level in idx.levels],
                [np.asarray(c, dtype=np.int64) for c in idx.codes],
                [_enc(n, depth) for n in idx.names],
            )
        )
    if t in _index_types():
        return Encoded(("index", _enc_values(idx.array, depth), _enc(idx.name, depth)))
    raise Uncrossable(f"an index of type {_typename(idx)}")


def _index_types() -> set[type]:
    import pandas as pd

    return {pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex, pd.PeriodIndex,
            pd.IntervalIndex}  # fmt: skip


def _enc_values(arr: Any, depth: int) -> Encoded:
    """One column's values (an ExtensionArray or ndarray) as plain parts."""
    import pandas as pd
    from pandas.core.dtypes.dtypes import BaseMaskedDtype

    dtype = arr.dtype
    # exact types: StringArray is a subclass of NumpyExtensionArray
    if type(arr) in (np.ndarray, pd.arrays.NumpyExtensionArray) or isinstance(dtype, np.dtype):
        return Encoded(("np", _enc_ndarray(np.asarray(arr), depth)))
    if isinstance(dtype, pd.CategoricalDtype):
        return Encoded(
            (
                "cat",
                np.asarray(arr.codes, dtype=np.int64),
                _enc_index(dtype.categories, depth),
                bool(dtype.ordered),
            )
        )
    if isinstance(dtype, pd.DatetimeTZDtype):
        return Encoded(("dt", np.asarray(arr.tz_convert(None)), str(dtype.tz)))
    if isinstance(dtype, BaseMaskedDtype):
        values = arr.to_numpy(dtype=dtype.numpy_dtype, na_value=dtype.numpy_dtype.type(0))
        return Encoded(("masked", values, np.asarray(pd.isna(arr)), dtype.name))
    if isinstance(dtype, pd.StringDtype):
        values = arr.to_numpy(dtype=object, na_value=None)
        nan = dtype.na_value is not pd.NA
        return Encoded(("str", dtype.storage, nan, [_enc(v, depth) for v in values.tolist()]))
    # Periods, intervals, sparse and other extension types: their elements, if those cross.
    return Encoded(("np", _enc_ndarray(np.asarray(arr, dtype=object), depth)))


# ----------------------------------------------------------------------------- decode


def _allowed_globals() -> dict[tuple[str, str], Any]:
    from numpy._core import numeric

    g: dict[tuple[str, str], Any] = {}
    for name in ("complex", "set", "frozenset", "bytearray", "bytes", "range", "slice", "list",
                 "dict", "tuple", "int", "float", "str", "bool"):  # fmt: skip
        g[("builtins", name)] = getattr(builtins, name)
    g[("builtins", "Ellipsis")] = Ellipsis
    for name in ("date", "datetime", "time", "timedelta", "timezone"):
        g[("datetime", name)] = getattr(datetime, name)
    g[("decimal", "Decimal")] = decimal.Decimal
    g[("fractions", "Fraction")] = fractions.Fraction
    for name in ("OrderedDict", "Counter", "deque", "defaultdict"):
        g[("collections", name)] = getattr(collections, name)
    g[("numpy", "ndarray")] = np.ndarray
    g[("numpy", "dtype")] = np.dtype
    for mod in ("numpy._core.multiarray", "numpy.core.multiarray"):
        g[(mod, "_reconstruct")] = _reconstruct
        g[(mod, "scalar")] = _scalar
    for mod in ("numpy._core.numeric", "numpy.core.numeric"):
        g[(mod, "_frombuffer")] = numeric._frombuffer  # type: ignore[attr-defined]
    g[("kit.sandbox.safepickle", "Encoded")] = Encoded
    return g


def _scalar(dtype: Any, *args: Any) -> Any:
    from numpy._core.multiarray import scalar

    if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.fields is not None:
        raise Refused(f"a numpy scalar of dtype {dtype!r}")
    return scalar(dtype, *args)


_GLOBALS: dict[tuple[str, str], Any] | None = None


# The Python implementation, whose BUILD can be guarded. Any: typeshed leaves out the
# internals overridden below (stack, load_build, dispatch), so it is subclassed as Any.
_PyUnpickler: Any = pickle._Unpickler


class _Unpickler(_PyUnpickler):  # type: ignore[misc]  # the Any base above
    def find_class(self, module: str, name: str) -> Any:
        global _GLOBALS
        if _GLOBALS is None:
            _GLOBALS = _allowed_globals()
        try:
            return _GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise Refused(f"{module}.{name} is not plain data") from None

    def load_build(self) -> None:
        state = self.stack[-1]
        inst = self.stack[-2]
        if type(inst) is np.ndarray:
            ok = (
                isinstance(state, tuple)
                and len(state) == 5
                and isinstance(state[2], np.dtype)
                and state[2].fields is None
                and state[2].subdtype is None
            )
        elif type(inst).__module__.startswith("numpy") and isinstance(inst, np.dtype):
            # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            ok = isinstance(state, tuple) and len(state) >= 5 and state[2] is None
            ok = ok and state[3] is None and state[4] is None
        else:
            ok = False
        if not ok:
            raise Refused(f"setting the state of a {type(inst).__name__} is not plain data")
        super().load_build()

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("persistent references are not plain data")

    def load_reduce(self) -> None:
        _check_call(self.stack[-2], self.stack[-1], {})
        super().load_reduce()

    def load_newobj(self) -> None:
        _check_call(self.stack[-2], self.stack[-1], {})
        super().load_newobj()

    def load_newobj_ex(self) -> None:
        _check_call(self.stack[-3], self.stack[-2], self.stack[-1])
        super().load_newobj_ex()

    def _instantiate(self, klass: Any, args: Any) -> None:  # OBJ and INST
        _check_call(klass, args, {})
        super()._instantiate(klass, args)

    dispatch = dict(_PyUnpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex


_CONTAINERS = (list, tuple, set, frozenset, dict, collections.deque, collections.Counter,
               collections.OrderedDict, collections.defaultdict, Encoded)  # fmt: skip


def _check_call(func: Any, args: Any, kwargs: Any) -> None:
    """Refuse a constructor call that would make much from little (an allowed type called on a
    ``range``, ``bytes(10**10)``, a sized numpy allocation); what ``dumps`` writes never does."""
    values = [
        *(args if isinstance(args, tuple) else ()),
        *(kwargs.values() if isinstance(kwargs, dict) else ()),
    ]
    for v in values:
        if type(v) is range:
            raise Refused("a range expanded by a call is not plain data")
        if func in (bytes, bytearray) and type(v) is int:
            raise Refused("bytes made from a size are not plain data")
        if func in _CONTAINERS and type(v) in (str, bytes, bytearray):
            raise Refused("a container made from a string is not plain data")
    if func is np.ndarray:
        raise Refused("a numpy array allocated by a call is not plain data")
    if func is _reconstruct and not (
        len(values) >= 2 and isinstance(values[1], tuple) and values[1] == (0,)
    ):
        raise Refused("a numpy array allocated by a call is not plain data")


def loads(data: bytes) -> Any:
    """Decode bytes from a trainee's box into plain data; raises ``Refused`` with the reason."""
    if not isinstance(data, bytes | bytearray):
        raise Refused("not bytes")
    try:
        raw = _Unpickler(io.BytesIO(data)).load()
    except Refused:
        raise
    except RecursionError:
        raise Refused("the value is nested too deeply") from None
    except MemoryError:
        raise Refused("the value is too large to check") from None
    except Exception as e:  # noqa: BLE001 - any malformed pickle is a refusal, with its reason
        raise Refused(f"malformed data ({type(e).__name__}: {str(e)[:200]})") from None
    try:
        _Size().add(raw, 0)
        return _dec(raw, 0)
    except Refused:
        raise
    except RecursionError:
        raise Refused("the value is nested too deeply") from None
    except MemoryError:
        raise Refused("the value is too large to check") from None
    except Exception as e:  # noqa: BLE001 - pandas' constructors refuse inconsistent parts
        raise Refused(f"inconsistent data ({type(e).__name__}: {str(e)[:200]})") from None


_SCALARS = frozenset({int, float, bool, complex, type(None)})


class _Size:
    """The decoded size of a raw value, each shared part counted once per reference.

    A part's size is remembered by identity, so a value of shared references
    is measured in time proportional to its distinct parts, not its expansion;
    ``add`` raises ``Refused`` as soon as a cap is passed.
    """

    def __init__(self) -> None:
        self.items = 0
        self.bytes = 0
        self.seen: dict[int, tuple[int, int]] = {}

    def add(self, x: Any, depth: int) -> None:
        """Count ``x`` (and everything it holds) into the totals."""
        t = type(x)
        if t in (str, bytes, bytearray):
            self._count(0, len(x))
            return
        if t is np.ndarray:
            self._count(0, x.nbytes)
            return
        if not isinstance(x, dict | list | tuple | set | frozenset | collections.deque):
            return
        if depth > MAX_DEPTH:
            raise Refused("the value is nested too deeply")
        known = self.seen.get(id(x))
        if known is not None:
            self._count(*known)
            return
        items, size = self.items, self.bytes
        if isinstance(x, dict):
            self._count(2 * len(x), 0)
            self._parts(x.keys(), depth + 1)
            self._parts(x.values(), depth + 1)
        else:
            self._count(len(x), 0)
            self._parts(x, depth + 1)
        self.seen[id(x)] = (self.items - items, self.bytes - size)

    def _parts(self, parts: Any, depth: int) -> None:
        text = 0
        for v in parts:
            t = type(v)
            if t is str:  # the common cases, without a call
                text += len(v)
            elif t not in _SCALARS:
                self.add(v, depth)
        self._count(0, text)

    def _count(self, items: int, size: int) -> None:
        self.items += items
        self.bytes += size
        if self.items > MAX_ITEMS or self.bytes > MAX_BYTES:
            raise Refused(
                f"the value is too large to check (over {MAX_ITEMS:,} elements or "
                f"{MAX_BYTES >> 20} MB once its shared parts are expanded)"
            )


def _dec(x: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Refused("the value is nested too deeply")
    t = type(x)
    d = depth + 1
    if t is Encoded:
        return _dec_encoded(x, d)
    if t is list:
        return [_dec(v, d) for v in x]
    if t is tuple:
        return tuple(_dec(v, d) for v in x)
    if t is set or t is frozenset:
        return t(_dec(v, d) for v in x)
    if t is dict or t is collections.OrderedDict or t is collections.Counter:
        return t({_dec(k, d): _dec(v, d) for k, v in x.items()})
    if t is collections.defaultdict:
        if x.default_factory is not None and x.default_factory not in _FACTORIES:
            raise Refused("a defaultdict with a factory that is not a plain type")
        return collections.defaultdict(
            x.default_factory, {_dec(k, d): _dec(v, d) for k, v in x.items()}
        )
    if t is collections.deque:
        return collections.deque((_dec(v, d) for v in x), maxlen=x.maxlen)
    if t is np.ndarray and x.dtype.hasobject:
        raise Refused("a numpy object array outside an encoded node")
    return x


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise Refused(f"malformed {what}")


def _dec_encoded(x: Encoded, depth: int) -> Any:
    import pandas as pd

    _need(len(x) >= 1 and isinstance(x[0], str), "node")
    kind, parts = x[0], x[1:]
    if kind == "objarr":
        _need(len(parts) == 2 and isinstance(parts[0], tuple) and isinstance(parts[1], list), kind)
        shape, items = parts
        _need(all(type(n) is int and n >= 0 for n in shape), "object array shape")
        _need(int(np.prod(shape, dtype=np.int64)) == len(items), "object array size")
        out = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):
            out[i] = _dec(v, depth)
        return out.reshape(shape)
    if kind == "frame":
        _need(len(parts) == 3 and isinstance(parts[2], list), kind)
        columns = _dec_index(parts[0], depth)
        index = _dec_index(parts[1], depth)
        cols = [_dec_values(c, depth) for c in parts[2]]
        _need(len(cols) == len(columns), "frame: columns")
        _need(all(len(c) == len(index) for c in cols), "frame: column lengths")
        df = pd.DataFrame({i: c for i, c in enumerate(cols)}, index=index)
        df.columns = columns
        return df
    if kind == "series":
        _need(len(parts) == 3, kind)
        name = _dec(parts[0], depth)
        index = _dec_index(parts[1], depth)
        values = _dec_values(parts[2], depth)
        _need(len(values) == len(index), "series: length")
        return pd.Series(values, index=index, name=name, copy=False)
    if kind in ("range", "multi", "index"):
        return _dec_index(x, depth)
    if kind == "ts":
        _need(len(parts) == 2 and isinstance(parts[0], np.datetime64), kind)
        ts = pd.Timestamp(parts[0])
        return ts.tz_localize("UTC").tz_convert(_tz(parts[1])) if parts[1] is not None else ts
    if kind == "td":
        _need(len(parts) == 1 and isinstance(parts[0], np.timedelta64), kind)
        return pd.Timedelta(parts[0])
    if kind == "nat":
        return pd.NaT
    if kind == "na":
        return pd.NA
    raise Refused(f"unknown node {kind[:40]!r}")


def _tz(name: Any) -> Any:
    _need(isinstance(name, str) and 0 < len(name) < 64, "time zone")
    if name == "UTC":
        return datetime.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise Refused(f"unknown time zone {name!r}") from None


def _dec_index(x: Any, depth: int) -> Any:
    import pandas as pd

    _need(type(x) is Encoded and len(x) >= 1, "index")
    kind, parts = x[0], x[1:]
    if kind == "range":
        _need(len(parts) == 4 and all(type(v) is int for v in parts[:3]), "range index")
        return pd.RangeIndex(parts[0], parts[1], parts[2], name=_dec(parts[3], depth))
    if kind == "multi":
        _need(len(parts) == 3 and all(isinstance(p, list) for p in parts), "multi-index")
        levels = [_dec_index(level, depth + 1) for level in parts[0]]
        codes = parts[1]
        _need(
            all(type(c) is np.ndarray and c.dtype.kind == "i" for c in codes), "multi-index codes"
        )
        names = [_dec(n, depth) for n in parts[2]]
        return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=True)
    if kind == "index":
        _need(len(parts) == 2, "index")
        return pd.Index(_dec_values(parts[0], depth), name=_dec(parts[1], depth), copy=False)
    raise Refused(f"unknown index node {str(kind)[:40]!r}")


def _dec_values(x: Any, depth: int) -> Any:
    import pandas as pd

    _need(type(x) is Encoded and len(x) >= 1, "column")
    kind, parts = x[0], x[1:]
    if kind == "np":
        _need(len(parts) == 1, "column")
        v = _dec(parts[0], depth)
        _need(type(v) is np.ndarray and v.ndim == 1, "column values")
        return v
    if kind == "cat":
        _need(len(parts) == 3 and type(parts[0]) is np.ndarray and parts[0].dtype.kind == "i", kind)
        categories = _dec_index(parts[1], depth)
        return pd.Categorical.from_codes(parts[0], categories=categories, ordered=bool(parts[2]))
    if kind == "dt":
        _need(len(parts) == 2 and type(parts[0]) is np.ndarray and parts[0].dtype.kind == "M", kind)
        _need(parts[0].ndim == 1, kind)
        return pd.array(parts[0]).tz_localize("UTC").tz_convert(_tz(parts[1]))
    if kind == "masked":
        _need(len(parts) == 3 and all(type(p) is np.ndarray for p in parts[:2]), kind)
        values, mask, name = parts
        _need(values.ndim == 1 and mask.shape == values.shape and mask.dtype == bool, kind)
        _need(name in _MASKED, "masked dtype")
        out = pd.array(values, dtype=name)
        out[mask] = pd.NA
        return out
    if kind == "str":
        _need(
            len(parts) == 3 and parts[0] in ("python", "pyarrow") and isinstance(parts[2], list),
            kind,
        )
        values = [_dec(v, depth) for v in parts[2]]
        _need(all(v is None or type(v) is str for v in values), "string values")
        dtype = pd.StringDtype(storage=parts[0], na_value=np.nan if parts[1] else pd.NA)
        return pd.array(values, dtype=dtype)
    raise Refused(f"unknown column node {str(kind)[:40]!r}")


_MASKED = {
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float32", "Float64", "boolean",
}  # fmt: skip
