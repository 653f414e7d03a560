"""The byte encoding under every digest: tagged, length-prefixed pieces fed to BLAKE3 in large blocks.

Each piece is a tag, a NUL, an 8-byte length and the payload, so no two
sequences of pieces give the same bytes. `FAST` encodes the commonest
scalars in one call, to the very bytes `Feeder.put` would write for them.
Big containers of plain data (no sets, no objects) are hashed through their
pickle instead, a tagged encoding of its own, ten times faster than a walk
in Python.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Callable
from typing import Any

import blake3

LEN = struct.Struct("<Q").pack
I64 = struct.Struct("<q").pack
_FLUSH = 1 << 20


class Sink:
    """A BLAKE3 hasher fed in large pieces: many small `update`s are joined first (same digest, less overhead)."""

    __slots__ = ("_hasher", "_parts", "_size")

    def __init__(self) -> None:
        self._hasher = blake3.blake3()
        self._parts: list[Any] = []
        self._size = 0

    def update(self, data: Any) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size > _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            self._hasher.update(b"".join(self._parts))
            self._parts.clear()
            self._size = 0

    def digest(self) -> bytes:
        self._flush()
        return self._hasher.digest()


def _fast_int(value: int) -> bytes:
    if -(1 << 63) <= value < (1 << 63):
        return INT_HEAD + I64(value)
    payload = value.to_bytes((value.bit_length() + 8) // 8 + 8, "little", signed=True)
    return b"int\x00" + LEN(len(payload)) + payload


def _fast_str(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return b"str\x00" + LEN(len(data)) + data


def _fast_float(value: float) -> bytes:
    data = value.hex().encode()
    return b"float\x00" + LEN(len(data)) + data


INT_HEAD = b"int\x00" + LEN(8)
FAST: dict[type, Callable[[Any], bytes]] = {int: _fast_int, str: _fast_str, float: _fast_float}


# -- plain data in one C pass ---------------------------------------------------------

_PLAIN = frozenset({dict, list, tuple, str, bytes, int, float, bool, type(None)})
_PLAIN_TAG = b"plain-pickle\x00"
PLAIN_MIN = 64  # smaller containers are cheaper to walk


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    """Pickles only exact dicts, lists, tuples, strings, bytes, numbers, booleans and None.

    `persistent_id` sees every object: anything else (a set, whose order
    depends on the process; an object; a subclass) stops it, and the value is
    walked instead. For plain data pickle's encoding is exact and
    deterministic: types, dict order, -0.0 and big ints all show; without
    its memo ("fast" mode) it depends on values only, not on which objects
    are shared, and a cyclic structure is left to the walk.
    """

    def persistent_id(self, obj: Any, _plain: frozenset[type] = _PLAIN) -> None:
        if type(obj) not in _plain:
            raise _NotPlain
        return None


def plain_digest(value: Any) -> bytes | None:
    """The digest of a big plain-data container, through the C pickler; None if it holds anything else."""
    sink = io.BytesIO()
    pickler = _PlainPickler(sink, protocol=5)
    pickler.fast = True  # no memo: shared and equal-but-distinct objects encode alike (a cycle raises)
    try:
        pickler.dump(value)
    except (_NotPlain, RecursionError, ValueError):
        return None
    hasher = blake3.blake3(_PLAIN_TAG)
    hasher.update(sink.getbuffer())
    return hasher.digest()
