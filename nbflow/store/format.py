"""The checkpoint file format (version 2): layout, header, checksum, signature.

    offset 0   fixed part   b"NBFLOWCK", u32 format version, u32 header length (little endian)
    16         header       UTF-8 JSON (see `Header`)
    ...        zero padding to a multiple of 64
               pickle       the cloudpickle protocol-5 stream of {name: value}
               buffers      each out-of-band buffer, each starting at a multiple of 64
               footer       u64 length, UTF-8 JSON: each saved value's content digest
    end        trailer      32-byte signature tag, 32-byte checksum, b"NBCKEND\\0"

Integrity is computed over fixed-size chunks of the bytes [0, end) - header,
padding, pickle and buffers alike, with a new chunk at the start of each
out-of-band buffer: each chunk gets a BLAKE3 digest, and

    tag      = BLAKE3-keyed(secret, b"nbflow-checkpoint-v2\\0" || u64 end || digests)
    checksum = BLAKE3(b"nbflow-checksum-v2\\0" || u64 end || digests || tag)

BLAKE3's keyed mode is a MAC, so the tag binds header and payload (through
the chunk digests) to the per-user secret; the unkeyed checksum covers
everything including the tag, so a damaged file is told apart from one signed
with another secret. Chunk digests are independent, so they are computed on
several threads while the file is being written or read (BLAKE3 releases the
GIL); at several GB/s per core, hashing stays well ahead of the disk.

The header also carries what a restore needs besides the values: the names
the step deleted, the inputs it changed in place, the parts of the cache key
and how long the run took. The values' content digests go in the footer,
written after the buffers: a big array's digest is made of the same 4 MiB
piece digests the signature uses, so the writer hashes the buffers while
writing them and the digests follow from that, with no second pass. Files of
format version 1 (before content-addressed keys) are refused as written by
an older nbflow, and the step is recomputed.
"""

from __future__ import annotations

import hmac
import json
import struct
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import blake3

from ..core.digest.pieces import hash_pool

MAGIC = b"NBFLOWCK"
END_MAGIC = b"NBCKEND\x00"
FORMAT_VERSION = 2
FIXED = struct.Struct("<8sII")
TRAILER = struct.Struct("<32s32s8s")
ALIGN = 64
MAX_HEADER = 16 << 20
DEFAULT_CHUNK = 4 << 20
MIN_CHUNK = 4096
MIN_BUFFER = 4096  # out-of-band buffers are at least this big: bounds their count by file size
MAX_CHUNK = 1 << 30
_TAG_DOMAIN = b"nbflow-checkpoint-v2\x00"
_SUM_DOMAIN = b"nbflow-checksum-v2\x00"
_ZEROS = bytes(ALIGN)


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
            )
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise FormatError("damaged header") from exc
        if not MIN_CHUNK <= header.chunk <= MAX_CHUNK:
            raise FormatError("damaged header (chunk size)")
        if any(size < MIN_BUFFER for size in header.buffer_sizes):
            raise FormatError("damaged header (buffer size)")
        return header


FOOTER_LENGTH = struct.Struct("<Q")


def encode_footer(digests: Mapping[str, Any]) -> bytes:
    """u64 length, then UTF-8 JSON: the length lets a reader check the file's size before reading on."""
    text = json.dumps({"digests": dict(digests)}, ensure_ascii=False, separators=(",", ":")).encode()
    return FOOTER_LENGTH.pack(len(text)) + text


def decode_footer(data: bytes) -> dict[str, Any]:
    """The digests of a verified footer; anything odd is a `FormatError`."""
    try:
        doc = json.loads(data[FOOTER_LENGTH.size:].decode())
        return {_typed(k, str): _digest_entry(v) for k, v in _typed(doc["digests"], dict).items()}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise FormatError("damaged footer") from exc


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


def align(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


@dataclass(frozen=True)
class Layout:
    """Where each part of a checkpoint sits, derived from the header alone."""

    header_size: int
    pickle_at: int
    buffers_at: tuple[int, ...]
    footer_at: int
    end: int

    @classmethod
    def of(cls, header_size: int, pickle_size: int, buffer_sizes: Sequence[int], footer_size: int = 0) -> Layout:
        pickle_at = align(FIXED.size + header_size)
        offset = pickle_at + pickle_size
        starts = []
        for size in buffer_sizes:
            offset = align(offset)
            starts.append(offset)
            offset += size
        return cls(header_size, pickle_at, tuple(starts), offset, offset + footer_size)

    def with_footer(self, footer_size: int) -> Layout:
        return Layout(self.header_size, self.pickle_at, self.buffers_at, self.footer_at, self.footer_at + footer_size)

    @property
    def total(self) -> int:
        """File size, trailer included."""
        return self.end + TRAILER.size


def regions(
    layout: Layout,
    prefix: memoryview,
    pickle: memoryview,
    buffers: Sequence[memoryview],
    *,
    writable_pads: bool = False,
) -> list[memoryview]:
    """The bytes [0, footer) as consecutive views: prefix, pads, pickle, buffers.

    Pads are zeros to write, or (`writable_pads`) scratch space to read into.
    The footer follows them (a chunk of its own), then the trailer.
    """
    out = [prefix]
    offset = len(prefix)
    for at, view in zip((layout.pickle_at, *layout.buffers_at), (pickle, *buffers), strict=True):
        if at > offset:
            pad = bytearray(at - offset) if writable_pads else _ZEROS[: at - offset]
            out.append(memoryview(pad))
        out.append(view)
        offset = at + len(view)
    return [view for view in out if len(view)]


def chunks(views: Sequence[memoryview], chunk: int, starts: Sequence[int] = ()) -> Iterator[list[memoryview]]:
    """Split consecutive views into pieces grouped by `chunk`-byte spans of the file.

    A chunk also begins at each offset in `starts` (the out-of-band buffers,
    `Layout.buffers_at`), so a buffer's chunks are exactly its own 4 MiB
    pieces: the digests its content hash already made (`nbflow.core.digest.pieces`).
    """
    pieces: list[memoryview] = []
    room = chunk
    offset = 0
    fresh = set(starts)
    for view in views:
        if offset in fresh and pieces:
            yield pieces
            pieces, room = [], chunk
        offset += len(view)
        while len(view):
            take = view[:room]
            pieces.append(take)
            view = view[len(take) :]
            room -= len(take)
            if room == 0:
                yield pieces
                pieces, room = [], chunk
    if pieces:
        yield pieces


def _digest_all(group: Sequence[Sequence[memoryview]]) -> list[bytes]:
    return [digest(pieces) for pieces in group]


def buffer_bounds(layout: Layout, sizes: Sequence[int]) -> list[int]:
    """Where each out-of-band buffer starts and ends, and the footer starts: chunks never straddle these."""
    bounds = [bound for start, size in zip(layout.buffers_at, sizes, strict=True) for bound in (start, start + size)]
    return [*bounds, layout.footer_at]


def digest(pieces: Sequence[memoryview]) -> bytes:
    h = blake3.blake3()
    for piece in pieces:
        h.update(piece)
    return h.digest()


def sign(secret: bytes, end: int, digests: Sequence[bytes]) -> bytes:
    """The signature tag (keyed BLAKE3): binds the payload length and every chunk digest to the secret."""
    mac = blake3.blake3(_TAG_DOMAIN + struct.pack("<Q", end), key=_mac_key(secret))
    mac.update(b"".join(digests))
    return mac.digest()


def _mac_key(secret: bytes) -> bytes:
    """A 32-byte BLAKE3 key from the secret (which is 32 bytes; longer or shorter ones are derived)."""
    if len(secret) == 32:
        return secret
    return blake3.blake3(secret, derive_key_context="nbflow checkpoint signing key").digest()


def checksum(end: int, digests: Sequence[bytes], tag: bytes) -> bytes:
    """The unkeyed checksum over everything, tag included."""
    h = blake3.blake3(_SUM_DOMAIN + struct.pack("<Q", end))
    h.update(b"".join(digests))
    h.update(tag)
    return h.digest()


def trailer(secret: bytes, end: int, digests: Sequence[bytes]) -> bytes:
    tag = sign(secret, end, digests)
    return TRAILER.pack(tag, checksum(end, digests, tag), END_MAGIC)


def check_trailer(data: bytes, secret: bytes, end: int, digests: Sequence[bytes]) -> None:
    """Raise `FormatError` naming the first check that fails."""
    tag, total, end_magic = TRAILER.unpack(data)
    if end_magic != END_MAGIC:
        raise FormatError("damaged trailer")
    if not hmac.compare_digest(total, checksum(end, digests, tag)):
        raise FormatError("checksum mismatch (file damaged)")
    if not hmac.compare_digest(tag, sign(secret, end, digests)):
        raise FormatError("signature mismatch (signed with another secret, or altered)")


def prefix(header: bytes) -> bytes:
    return FIXED.pack(MAGIC, FORMAT_VERSION, len(header)) + header


def parse_fixed(data: bytes, file_size: int) -> int:
    """Check magic and version of the 16-byte fixed part; return the header length."""
    if len(data) < FIXED.size:
        raise FormatError("truncated file")
    magic, version, header_size = FIXED.unpack(data)
    if magic != MAGIC:
        raise FormatError("not an nbflow checkpoint")
    if version < FORMAT_VERSION:
        raise FormatError("written by an older nbflow; recomputing")
    if version != FORMAT_VERSION:
        raise FormatError(f"format version {version} (this nbflow reads {FORMAT_VERSION})")
    if header_size > MAX_HEADER or FIXED.size + header_size + TRAILER.size > file_size:
        raise FormatError("damaged header (length)")
    return int(header_size)


# -- hashing on the shared pool (the content hashes' own), overlapping the caller's I/O ---------


class Digester:
    """Collects chunk digests, hashing on pool threads when the file is big enough.

    `add` returns at once in parallel mode, so the caller writes or reads the
    next chunk while earlier ones are hashed.
    """

    def __init__(self, parallel: bool) -> None:
        self._pool = hash_pool() if parallel else None
        # Per chunk: its digest, a future of it, or (a future of a batch's digests, position in it).
        self._results: list[bytes | Future[bytes] | tuple[Future[list[bytes]], int]] = []

    @staticmethod
    def _value(result: bytes | Future[bytes] | tuple[Future[list[bytes]], int]) -> bytes:
        if isinstance(result, bytes):
            return result
        if isinstance(result, tuple):
            return result[0].result()[result[1]]
        return result.result()

    def digests_of(self, indexes: Sequence[int]) -> list[bytes]:
        """The digests of these chunks (waiting for them to be hashed)."""
        return [self._value(self._results[i]) for i in indexes]

    def add_batch(self, chunks: Sequence[Sequence[memoryview]]) -> None:
        """Several chunks, hashed by a few pool tasks rather than one each.

        Fewer tasks mean fewer trips through the GIL, which matters when other
        threads hold it (unpickling another checkpoint, say).
        """
        if self._pool is None or len(chunks) < 2:
            for pieces in chunks:
                self.add(pieces)
            return
        lanes = min(len(chunks), self._pool._max_workers)
        size = -(-len(chunks) // lanes)
        for start in range(0, len(chunks), size):  # contiguous groups, so entries stay in chunk order
            group = [list(pieces) for pieces in chunks[start:start + size]]
            future = self._pool.submit(_digest_all, group)
            self._results.extend((future, position) for position in range(len(group)))

    def add_digest(self, value: bytes) -> None:
        """A chunk whose digest is already known (see `nbflow.core.digest.pieces`)."""
        self._results.append(value)

    def add(self, pieces: Sequence[memoryview]) -> None:
        if self._pool is None:
            self._results.append(digest(pieces))
        else:
            self._results.append(self._pool.submit(digest, list(pieces)))

    def done(self) -> bool:
        """Every chunk is hashed already (always true when hashing inline)."""
        return all(isinstance(r, bytes) or (r[0] if isinstance(r, tuple) else r).done() for r in self._results)

    def digests(self) -> list[bytes]:
        return [self._value(r) for r in self._results]

    def cancel(self) -> None:
        """Drop pending work after a failure, and wait for chunks already being hashed.

        Waiting matters: a running chunk holds views of the caller's buffers,
        and a bytearray with live views cannot be resized.
        """
        futures = list({id(f): f for f in (r[0] if isinstance(r, tuple) else r for r in self._results)
                        if isinstance(f, Future)}.values())
        for f in futures:
            f.cancel()
        for f in futures:
            if not f.cancelled():
                f.exception()
        self._results = []
