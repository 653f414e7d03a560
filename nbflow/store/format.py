"""The checkpoint file format (version 2): layout, header, checksum, signature.

    offset 0   fixed part   b"NBFLOWCK", u32 format version, u32 header length (little endian)
    16         header       UTF-8 JSON (see `Header`)
    ...        zero padding to a multiple of 64
               pickle       the cloudpickle protocol-5 stream of {name: value}
               buffers      each out-of-band buffer, each starting at a multiple of 64
               footer       u64 length, UTF-8 JSON: each saved value's content digest, what the step displayed
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
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import blake3

from ..core.digest.pieces import hash_pool
from .fileinfo import (
    FOOTER_LENGTH,
    FORMAT_VERSION,
    MAX_CHUNK,
    MIN_BUFFER,
    MIN_CHUNK,
    FormatError,
    Header,
    decode_footer,
    encode_footer,
)

MAGIC = b"NBFLOWCK"
END_MAGIC = b"NBCKEND\x00"
FIXED = struct.Struct("<8sII")
TRAILER = struct.Struct("<32s32s8s")
ALIGN = 64
MAX_HEADER = 16 << 20
DEFAULT_CHUNK = 4 << 20
_TAG_DOMAIN = b"nbflow-checkpoint-v2\x00"
_SUM_DOMAIN = b"nbflow-checksum-v2\x00"
_ZEROS = bytes(ALIGN)

__all__ = [  # the header and footer live in fileinfo.py; they are part of the format all the same
    "FOOTER_LENGTH", "FORMAT_VERSION", "MAX_CHUNK", "MIN_BUFFER", "MIN_CHUNK", "FormatError", "Header",
    "decode_footer", "encode_footer",
]


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
