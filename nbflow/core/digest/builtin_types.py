"""The exact encodings of built-in values: `Feeder.feed` looks a value's exact type up in `EXACT` first.

Scalars are a tag and their exact bytes (`1`, `1.0`, `True` and `"1"` all
differ); tuples, lists and dicts are a tag, a count and their items, plain
scalar items written inline (`encoding.FAST`, the same bytes); a set is its
members' sorted digests, since its iteration order differs between
processes. Lists, dicts and sets go through the feeder's cycle check
(`Feeder.enter`); functions, classes and modules are handed on to `code.py`.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .encoding import FAST, I64, Sink

if TYPE_CHECKING:  # the feeder imports this table; these functions only get one passed in
    from .feed import Feeder


def _const(self: Feeder, hasher: Any, value: Any) -> None:
    self.text(hasher, b"const", repr(value))


def _int(self: Feeder, hasher: Any, value: int) -> None:
    if -(1 << 63) <= value < (1 << 63):
        self.put(hasher, b"int", I64(value))
    else:  # a different length: cannot collide with the 8-byte form
        self.put(hasher, b"int", value.to_bytes((value.bit_length() + 8) // 8 + 8, "little", signed=True))


def _float(self: Feeder, hasher: Any, value: float) -> None:
    self.put(hasher, b"float", value.hex().encode())


def _complex(self: Feeder, hasher: Any, value: complex) -> None:
    self.put(hasher, b"complex", f"{value.real.hex()},{value.imag.hex()}".encode())


def _str(self: Feeder, hasher: Any, value: str) -> None:
    self.text(hasher, b"str", value)


def _bytes(self: Feeder, hasher: Any, value: bytes) -> None:
    self.put(hasher, b"bytes" if type(value) is bytes else b"bytearray", bytes(value))


def _memoryview(self: Feeder, hasher: Any, value: memoryview) -> None:
    self.text(hasher, b"memoryview", f"{value.format}:{value.shape}")
    self.put(hasher, b"data", value.tobytes())


def _sequence(self: Feeder, hasher: Any, value: list[Any] | tuple[Any, ...]) -> None:
    if type(value) is tuple:  # immutable: a cycle must pass through a list, dict or object, caught there
        self.count(hasher, b"tuple", len(value))
        _items(self, hasher, enumerate(value))
        return
    if not self.enter(hasher, value):
        return
    try:
        self.count(hasher, b"list", len(value))
        _items(self, hasher, enumerate(value))
    finally:
        self.leave(value)


def _items(self: Feeder, hasher: Any, items: Any) -> None:
    """Items of a list or tuple; plain scalars are encoded inline (the same bytes `feed` writes)."""
    where = self.where
    for index, item in items:
        fast = FAST.get(type(item))
        if fast is not None:
            hasher.update(fast(item))
        else:
            where.append(index)
            self.feed(hasher, item)
            where.pop()


def _dict(self: Feeder, hasher: Any, value: dict[Any, Any]) -> None:
    if not self.enter(hasher, value):
        return
    try:
        self.count(hasher, b"dict", len(value))  # in order: a step can see the order
        for key, item in value.items():
            fast = FAST.get(type(key))
            if fast is not None:
                hasher.update(fast(key))
            else:
                self.at("<key>", hasher, key)
            fast = FAST.get(type(item))
            if fast is not None:
                hasher.update(fast(item))
            else:
                self.at((key,), hasher, item)
    finally:
        self.leave(value)


def _set(self: Feeder, hasher: Any, value: set[Any] | frozenset[Any]) -> None:
    if not self.enter(hasher, value):
        return
    try:
        # Iteration order of a set differs between processes: sort the members' digests.
        members = []
        for member in value:
            inner = Sink()
            self.at("<member>", inner, member)
            members.append(inner.digest())
        self.count(hasher, b"set" if type(value) is set else b"frozenset", len(members))
        for member in sorted(members):
            self.put(hasher, b"member", member)
    finally:
        self.leave(value)


def _function(self: Feeder, hasher: Any, value: Any) -> None:
    from . import code

    code.function(self, hasher, value)


def _method(self: Feeder, hasher: Any, value: types.MethodType) -> None:
    self.put(hasher, b"method")
    self.at("<func>", hasher, value.__func__)
    self.at("<self>", hasher, value.__self__)


def _builtin(self: Feeder, hasher: Any, value: types.BuiltinFunctionType) -> None:
    from . import code

    owner = value.__self__
    if owner is None or isinstance(owner, types.ModuleType):
        module = getattr(owner, "__name__", None) or value.__module__ or "builtins"
        code.global_ref(self, hasher, module, value.__qualname__)
    else:  # a bound built-in method: `rows.append`, `d.get`
        self.text(hasher, b"builtin-method", value.__name__)
        self.at("<self>", hasher, owner)


def _module(self: Feeder, hasher: Any, value: types.ModuleType) -> None:
    from . import code

    code.module(self, hasher, value)


def _klass(self: Feeder, hasher: Any, value: type) -> None:
    from . import code

    code.klass(self, hasher, value)


EXACT: dict[type, Callable[[Feeder, Any, Any], None]] = {
    type(None): _const,
    type(Ellipsis): _const,
    type(NotImplemented): _const,
    bool: _const,
    int: _int,
    float: _float,
    complex: _complex,
    str: _str,
    bytes: _bytes,
    bytearray: _bytes,
    memoryview: _memoryview,
    list: _sequence,
    tuple: _sequence,
    dict: _dict,
    set: _set,
    frozenset: _set,
    types.FunctionType: _function,
    types.MethodType: _method,
    types.BuiltinFunctionType: _builtin,
    types.ModuleType: _module,
    type: _klass,
}

# Descriptors Python derives from a class's definition (slots, C methods): the class's own text decides them.
DERIVED = (
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)
