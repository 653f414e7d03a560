"""The byte encoding under every digest: tagged, length-prefixed pieces fed to BLAKE3 in large blocks.

Each piece is a tag, a NUL, an 8-byte length and the payload, so no two
sequences of pieces give the same bytes. `FAST` encodes the commonest
scalars in one call, to the very bytes `Feeder.put` would write for them.
"""

from __future__ import annotations

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
