"""A stable hash of Python values, for cache keys.

Equal values hash equal in any process and any run; different values (and
different types: 1, 1.0, True, "1") hash differently. Pickle is not used:
its bytes depend on object identity and memo order, and unpicklable or
stateful objects would give keys that silently collide or never match.
A value this module cannot hash reliably raises `Unhashable` naming its type,
and the caller turns caching off for that step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import hashlib
import math
import pathlib
import struct
import types
import uuid
from typing import Any

from ..core.errors import NbflowError


class Unhashable(NbflowError, TypeError):
    """A value whose content cannot be hashed reliably."""

    def __init__(self, type_name: str, where: str = "") -> None:
        at = f" at {where}" if where else ""
        super().__init__(f"cannot hash a {type_name} value reliably{at}", type_name=type_name, where=where)


def stable_hash(value: Any) -> bytes:
    """A 32-byte blake2b digest of the value's content."""
    digest = hashlib.blake2b(digest_size=32)
    _feed(digest, value, set(), "")
    return digest.digest()


def _tag(digest: Any, tag: str, payload: bytes = b"") -> None:
    digest.update(tag.encode() + b"\x00" + struct.pack("<Q", len(payload)) + payload)


def _feed(digest: Any, value: Any, active: set[int], where: str) -> None:
    kind = type(value)
    if value is None or value is Ellipsis or kind is bool:
        _tag(digest, f"const:{value!r}")
    elif kind is int:
        _tag(digest, "int", str(value).encode())
    elif kind is float:
        _tag(digest, "float", _float(value))
    elif kind is complex:
        _tag(digest, "complex", _float(value.real) + _float(value.imag))
    elif kind is str:
        _tag(digest, "str", value.encode("utf-8", "surrogatepass"))
    elif kind in (bytes, bytearray):
        _tag(digest, kind.__name__, bytes(value))
    elif kind is memoryview:
        _tag(digest, "memoryview", value.tobytes())
    elif kind in (tuple, list, dict, set, frozenset) or isinstance(value, (tuple, list, dict, set, frozenset)):
        _container(digest, value, active, where)
    elif isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        _tag(digest, kind.__qualname__, value.isoformat().encode() if hasattr(value, "isoformat")
             else repr(value).encode())
    elif isinstance(value, (decimal.Decimal, fractions.Fraction, uuid.UUID, range, pathlib.PurePath)):
        _tag(digest, kind.__qualname__, str(value).encode())
    elif isinstance(value, enum.Enum):
        _tag(digest, f"enum:{kind.__module__}.{kind.__qualname__}", value.name.encode())
    elif isinstance(value, types.ModuleType):
        _tag(digest, "module", value.__name__.encode())
    elif isinstance(value, type):
        _tag(digest, "class", f"{value.__module__}.{value.__qualname__}".encode())
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        _function(digest, value, active, where)
    elif kind.__module__.split(".")[0] == "numpy":
        _numpy(digest, value, active, where)
    elif kind.__module__.split(".")[0] == "pandas":
        _pandas(digest, value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _tag(digest, f"dataclass:{kind.__module__}.{kind.__qualname__}")
        for field in dataclasses.fields(value):
            _tag(digest, "field", field.name.encode())
            _feed(digest, getattr(value, field.name), active, f"{where}.{field.name}")
    else:
        raise Unhashable(f"{kind.__module__}.{kind.__qualname__}", where)


def _float(number: float) -> bytes:
    if math.isnan(number):
        return b"nan"
    return struct.pack("<d", number)


def _container(digest: Any, value: Any, active: set[int], where: str) -> None:
    if id(value) in active:
        _tag(digest, "cycle")
        return
    active.add(id(value))
    try:
        kind = type(value)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        if isinstance(value, dict):
            # Dicts compare equal whatever their insertion order, so their hashes must too.
            pairs = sorted(
                _digest_of(k, active, f"{where}<key>") + _digest_of(v, active, f"{where}[{k!r}]")
                for k, v in value.items()
            )
            _tag(digest, name, struct.pack("<Q", len(pairs)))
            for pair in pairs:
                _tag(digest, "item", pair)
        elif isinstance(value, (set, frozenset)):
            members = sorted(_digest_of(member, active, f"{where}<member>") for member in value)
            _tag(digest, name, struct.pack("<Q", len(members)))
            for member in members:
                _tag(digest, "member", member)
        else:
            _tag(digest, name, struct.pack("<Q", len(value)))
            for index, item in enumerate(value):
                _feed(digest, item, active, f"{where}[{index}]")
    finally:
        active.discard(id(value))


def _digest_of(value: Any, active: set[int], where: str) -> bytes:
    digest = hashlib.blake2b(digest_size=32)
    _feed(digest, value, active, where)
    return digest.digest()


def _function(digest: Any, value: Any, active: set[int], where: str) -> None:
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__qualname__", getattr(value, "__name__", "?"))
    code = getattr(value, "__code__", None)
    if code is None or (module not in ("__main__", "builtins") and not module.startswith("__")):
        # Importable functions are named, not hashed: their module's version decides.
        _tag(digest, "function", f"{module}.{name}".encode())
        return
    _tag(digest, "code", f"{module}.{name}".encode())
    _code(digest, code)
    _feed(digest, value.__defaults__ or (), active, f"{where}<defaults>")
    for cell in value.__closure__ or ():
        _feed(digest, cell.cell_contents, active, f"{where}<closure>")


def _code(digest: Any, code: types.CodeType) -> None:
    _tag(digest, "co_code", code.co_code)
    _tag(digest, "co_names", "\x00".join(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code(digest, const)
        else:
            _feed(digest, const, set(), "<const>")


def _numpy(digest: Any, value: Any, active: set[int], where: str) -> None:
    import numpy as np

    if isinstance(value, np.generic):
        _tag(digest, f"np:{value.dtype.str}", value.tobytes())
        return
    if not isinstance(value, np.ndarray):
        raise Unhashable(f"numpy.{type(value).__qualname__}", where)
    _tag(digest, f"ndarray:{value.dtype.str}:{value.shape}")
    if value.dtype.hasobject:
        for index, item in enumerate(value.ravel(order="C")):
            _feed(digest, item, active, f"{where}[{index}]")
    else:
        flat: Any = np.ascontiguousarray(value).reshape(-1).view(np.uint8)  # no copy when already contiguous
        digest.update(flat)


def _pandas(digest: Any, value: Any) -> None:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        _tag(digest, "DataFrame", repr((list(map(str, value.columns)), [str(t) for t in value.dtypes])).encode())
        hashed = pd.util.hash_pandas_object(value, index=True).to_numpy()
    elif isinstance(value, (pd.Series, pd.Index)):
        _tag(digest, type(value).__name__, repr((str(value.dtype), str(value.name))).encode())
        hashed = pd.util.hash_pandas_object(value, index=isinstance(value, pd.Series)).to_numpy()
    else:
        raise Unhashable(f"pandas.{type(value).__qualname__}")
    raw: Any = hashed.view("uint8")
    digest.update(raw)
