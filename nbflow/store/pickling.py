"""Turning a step's outputs into one pickle stream plus out-of-band buffers, and back.

All picklable outputs go into one cloudpickle protocol-5 stream of
`{name: value}`, so two outputs that share an object still share it after a
restore. Large contiguous buffers (numpy arrays and everything built on them:
pandas, Arrow; top-level `bytes`/`bytearray` outputs) are passed out of band:
the stream holds a reference and the store writes the buffer straight from
the object's memory, with no copy into the stream. Small buffers stay in band,
where a copy costs less than a separate region of the file.

If the stream cannot be made, each output is pickled on its own (into a sink
that discards the bytes) to name exactly which ones fail and why; the others
are saved and the checkpoint records the failures.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from .format import MIN_BUFFER
from .live import loading_into, reference

PROTOCOL = 5
OUT_OF_BAND_MIN = 64 << 10


@dataclass
class Pickled:
    """A step's outputs ready to write: the stream, its buffers, and what could not be saved."""

    stream: memoryview
    buffers: list[memoryview]
    names: tuple[str, ...]
    unpicklable: dict[str, str] = field(default_factory=dict)

    def release(self) -> None:
        """Let go of views into the outputs' memory (a viewed bytearray cannot be resized)."""
        for view in self.buffers:
            view.release()
        self.buffers = []


class _Blob:
    """A top-level bytes or bytearray output, reduced to an out-of-band buffer."""

    __slots__ = ("value",)

    def __init__(self, value: bytes | bytearray) -> None:
        self.value = value

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        rebuild = _rebuild_bytes if isinstance(self.value, bytes) else _rebuild_bytearray
        return (rebuild, (pickle.PickleBuffer(self.value),))


def _rebuild_bytes(buffer: Any) -> bytes:
    return bytes(buffer)


def _rebuild_bytearray(buffer: Any) -> bytearray:
    return buffer if type(buffer) is bytearray else bytearray(buffer)


class _Sink:
    """A file that forgets what is written: pickling only to find what fails."""

    def write(self, data: Any) -> int:
        return len(data)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, with the notebook's own classes and functions written as live references (`live.py`)."""

    def __init__(self, file: Any, live: Mapping[str, Any] | None, **options: Any) -> None:
        super().__init__(file, protocol=PROTOCOL, **options)
        self._live = live

    def reducer_override(self, obj: Any) -> Any:
        found = reference(obj, self._live)
        if found is not None:
            return found
        return super().reducer_override(obj)


def dump_outputs(outputs: Mapping[str, Any], oob_min: int = OUT_OF_BAND_MIN,
                 live: Mapping[str, Any] | None = None) -> Pickled:
    """Pickle `outputs`; unpicklable values are left out and named with the reason.

    `live` is the namespace the outputs will be restored into: the notebook's
    classes and functions bound there are saved as references to it.
    """
    oob_min = max(oob_min, MIN_BUFFER)
    for name in outputs:
        if not isinstance(name, str):
            raise TypeError(f"output names must be str, got {name!r}")
    try:
        return _dump(outputs, oob_min, {}, live)
    except Exception:  # any failure: find out which outputs cause it
        pass
    unpicklable: dict[str, str] = {}
    for name, value in outputs.items():
        try:
            _Pickler(_Sink(), live, buffer_callback=_discard).dump(value)
        except Exception as exc:  # the reason is reported, not raised
            unpicklable[name] = _reason(exc)
    rest = {n: v for n, v in outputs.items() if n not in unpicklable}
    try:
        return _dump(rest, oob_min, unpicklable, live)
    except Exception as exc:  # fails only together: blame them all
        reason = _reason(exc)
        return _dump({}, oob_min, {**unpicklable, **dict.fromkeys(rest, reason)}, live)


def _discard(buffer: pickle.PickleBuffer) -> bool:
    return False


def _dump(outputs: Mapping[str, Any], oob_min: int, unpicklable: dict[str, str],
          live: Mapping[str, Any] | None) -> Pickled:
    buffers: list[memoryview] = []

    def keep(buffer: pickle.PickleBuffer) -> bool:
        try:
            view = buffer.raw()
        except BufferError:  # not contiguous: serialize in band
            return True
        if view.nbytes < oob_min:
            view.release()
            return True
        buffers.append(view)
        return False

    blobs: dict[int, _Blob] = {}
    wrapped: dict[str, Any] = {}
    for name, value in outputs.items():
        if type(value) in (bytes, bytearray) and len(value) >= oob_min:
            value = blobs.setdefault(id(value), _Blob(value))
        wrapped[name] = value
    sink = io.BytesIO()
    _Pickler(sink, live, buffer_callback=keep).dump(wrapped)
    return Pickled(sink.getbuffer(), buffers, tuple(outputs), unpicklable)


def load_outputs(stream: Any, buffers: Sequence[Any], live: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Unpickle a *verified* stream; the buffers are used in place, not copied.

    Live references resolve against `live` (see `live.py`); one that does not
    resolve raises, and the checkpoint is refused.
    """
    with loading_into(live):
        value = pickle.loads(stream, buffers=buffers)
    if not isinstance(value, dict):
        raise TypeError(f"checkpoint holds a {type(value).__name__}, not a dict of outputs")
    return value
