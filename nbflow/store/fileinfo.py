"""What a checkpoint file says about itself: the JSON header before the values, the footer after them.

The header holds every size needed to lay the file out (see `format.py` for
the layout) and what a restore needs besides the values: deletions, inputs
changed in place, the key's parts, the run's duration. The footer holds each
value's content digest, written after the buffers because it is computed
while they are written. Both are type-checked when read: a file that parses
but says something odd is refused like a damaged one.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 2
MIN_CHUNK = 4096
MIN_BUFFER = 4096  # out-of-band buffers are at least this big: bounds their count by file size
MAX_CHUNK = 1 << 30


class FormatError(ValueError):
    """A file that does not parse as a checkpoint; the message is the refusal reason."""


@dataclass(frozen=True)
class Header:
    """What a checkpoint says about itself; every size needed to lay it out."""

    step: str
    key: str
    python: str
    cloudpickle: str
    created: float
    chunk: int
    pickle_size: int
    buffer_sizes: tuple[int, ...]
    outputs: tuple[str, ...]
    unpicklable: Mapping[str, str] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    deleted: tuple[str, ...] = ()
    mutated: tuple[str, ...] = ()
    # name -> [content digest hex, namespace names it reached, volatile]; None when not hashable.
    # Written in the footer (see the module docstring), filled in when the file is read.
    digests: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[tuple[str, str, str, str], ...] = ()  # the cache key's parts (kind, name, digest, detail)
    duration: float | None = None  # seconds the run that produced it took
    displays: tuple[dict[str, Any], ...] = ()  # what the run displayed: in the footer, like `digests`
    attempts: int | None = None  # how many attempts the run took

    def encode(self) -> bytes:
        doc = {
            "format": self.format,
            "step": self.step,
            "key": self.key,
            "python": self.python,
            "cloudpickle": self.cloudpickle,
            "created": self.created,
            "chunk": self.chunk,
            "pickle_size": self.pickle_size,
            "buffer_sizes": list(self.buffer_sizes),
            "outputs": list(self.outputs),
            "unpicklable": dict(self.unpicklable),
            "deleted": list(self.deleted),
            "mutated": list(self.mutated),
            "parts": [list(p) for p in self.parts],
            "duration": self.duration,
            "attempts": self.attempts,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> Header:
        """Parse and type-check a header; anything odd is a `FormatError`."""
        try:
            doc = json.loads(data.decode())
            header = cls(
                step=_typed(doc["step"], str),
                key=_typed(doc["key"], str),
                python=_typed(doc["python"], str),
                cloudpickle=_typed(doc["cloudpickle"], str),
                created=float(_typed(doc["created"], (int, float))),
                chunk=_size(doc["chunk"]),
                pickle_size=_size(doc["pickle_size"]),
                buffer_sizes=tuple(_size(n) for n in _typed(doc["buffer_sizes"], list)),
                outputs=tuple(_typed(n, str) for n in _typed(doc["outputs"], list)),
                unpicklable={
                    _typed(k, str): _typed(v, str)
                    for k, v in _typed(doc["unpicklable"], dict).items()
                },
                format=_size(doc["format"]),
                deleted=tuple(_typed(n, str) for n in _typed(doc.get("deleted", []), list)),
                mutated=tuple(_typed(n, str) for n in _typed(doc.get("mutated", []), list)),
                parts=tuple(_part(p) for p in _typed(doc.get("parts", []), list)),
                duration=None if doc.get("duration") is None else float(_typed(doc["duration"], (int, float))),
                attempts=None if doc.get("attempts") is None else _size(doc["attempts"]),
            )
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FormatError("damaged header") from exc
        if not MIN_CHUNK <= header.chunk <= MAX_CHUNK:
            raise FormatError("damaged header (chunk size)")
        if any(size < MIN_BUFFER for size in header.buffer_sizes):
            raise FormatError("damaged header (buffer size)")
        return header


FOOTER_LENGTH = struct.Struct("<Q")


def encode_footer(digests: Mapping[str, Any], displays: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """u64 length, then UTF-8 JSON: the length lets a reader check the file's size before reading on.

    `displays` (nbformat output dicts) sit here rather than in the header:
    they can be megabytes, and the header is read on its own for listings.
    """
    doc: dict[str, Any] = {"digests": dict(digests)}
    if displays:
        doc["displays"] = [dict(d) for d in displays]
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return FOOTER_LENGTH.pack(len(text)) + text


def decode_footer(data: bytes) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The digests and displays of a verified footer; anything odd is a `FormatError`."""
    try:
        doc = json.loads(data[FOOTER_LENGTH.size:].decode())
        digests = {_typed(k, str): _digest_entry(v) for k, v in _typed(doc["digests"], dict).items()}
        displays = tuple(_display(d) for d in _typed(doc.get("displays", []), list))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise FormatError("damaged footer") from exc
    return digests, displays


def _display(value: Any) -> dict[str, Any]:
    output: dict[str, Any] = _typed(value, dict)
    _typed(output["output_type"], str)
    return output


def _digest_entry(value: Any) -> Any:
    if value is None:
        return None
    hex_, reached, volatile = _typed(value, list)
    return [_typed(hex_, str), [_typed(n, str) for n in _typed(reached, list)], bool(volatile)]


def _part(value: Any) -> tuple[str, str, str, str]:
    items = _typed(value, list)
    if len(items) != 4:
        raise ValueError("a key part has four fields")
    kind, name, digest_, detail = (_typed(x, str) for x in items)
    return kind, name, digest_, detail


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind}, got {type(value).__name__}")
    return value


def _size(value: Any) -> int:
    number: int = _typed(value, int)
    if number < 0:
        raise ValueError("negative size")
    return number
