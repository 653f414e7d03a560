"""Moving checkpoint bytes to and from storage, hashing chunks alongside the I/O.

Writing: every chunk's digest is handed to the hashing pool first, then the
regions are written straight from the objects' memory; if hashing is still
running the data is flushed (`fdatasync`) meanwhile; the trailer goes last
before the temporary file is committed (fsync, rename, folder fsync).

Reading: the header is parsed (unverified, but only to learn the layout; its
sizes must add up to the file's size before anything is allocated), then
every region is read with `readinto` into a freshly allocated buffer, each
chunk handed to the pool as soon as it is in memory. The trailer is checked
against the digests before the caller may unpickle anything; the buffers then
become the unpickled objects' memory without another copy.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core.digest.pieces import PIECE, known_pieces, offer_pieces
from . import format as fmt
from .fs import Backend, ReadHandle

_NUMPY_MIN = 1 << 20
READ_SLICE = 32 << 20
_numpy: Any = None


def write_file(
    fs: Backend,
    final: str,
    header: fmt.Header,
    stream: memoryview,
    buffers: Sequence[memoryview],
    secret: bytes,
    footer: Callable[[], bytes] | None = None,
) -> int:
    """Write one checkpoint atomically at `final`; return its size.

    `footer` makes the footer's bytes once every buffer has been written and
    hashed: the digests of a buffer's chunks are offered (`pieces`) to the
    content hashes it computes, so they need not read the buffers again.
    Raises the `OSError` that stopped it, after removing the temporary file;
    whatever was at `final` before is untouched.
    """
    encoded = header.encode()
    layout = fmt.Layout.of(len(encoded), header.pickle_size, header.buffer_sizes)
    views = fmt.regions(layout, memoryview(fmt.prefix(encoded)), stream, buffers)
    digester = fmt.Digester(parallel=layout.end > header.chunk)
    addresses = _addresses(buffers) if header.chunk == PIECE else [None] * len(buffers)
    known = _known_chunks(layout, buffers, addresses)
    spans: dict[int, list[int]] = {start: [] for start in layout.buffers_at}  # buffer start -> its chunk indexes
    owner = _owners(layout, header.buffer_sizes)
    offset = 0
    for index, pieces in enumerate(fmt.chunks(views, header.chunk, fmt.buffer_bounds(layout, header.buffer_sizes))):
        reused = known.get(offset)
        if reused is not None:
            digester.add_digest(reused)  # an output's content hash already read these bytes
        else:
            digester.add(pieces)
        buffer_start = owner(offset)
        if buffer_start is not None:
            spans[buffer_start].append(index)
        offset += sum(len(p) for p in pieces)
    try:
        temp = fs.create_temp(final)
        try:
            for view in views:
                temp.write(view)
            for start, view, address in zip(layout.buffers_at, buffers, addresses, strict=True):
                if address is not None:
                    offer_pieces(address, len(view), digester.digests_of(spans[start]))
            tail = footer() if footer is not None else fmt.encode_footer({})
            digester.add([memoryview(tail)])
            temp.write(tail)
            layout = layout.with_footer(len(tail))
            if not digester.done():
                temp.sync_data()  # flush the payload while the last chunks are hashed
            temp.write(fmt.trailer(secret, layout.end, digester.digests()))
            temp.commit()
        except BaseException:
            temp.abort()
            raise
    except BaseException:
        digester.cancel()
        raise
    return layout.total


def _addresses(buffers: Sequence[memoryview]) -> list[int | None]:
    """Where each buffer's memory is (the key under which content hashes offer their pieces)."""
    if "numpy" not in sys.modules:
        return [None] * len(buffers)
    import numpy

    return [int(numpy.frombuffer(view, dtype=numpy.uint8).ctypes.data) for view in buffers]


def _owners(layout: fmt.Layout, sizes: Sequence[int]) -> Callable[[int], int | None]:
    """offset -> the start of the buffer it lies in (None outside every buffer)."""
    spans = list(zip(layout.buffers_at, sizes, strict=True))

    def owner(offset: int) -> int | None:
        for start, size in spans:
            if start <= offset < start + size:
                return start
        return None

    return owner


def _known_chunks(layout: fmt.Layout, buffers: Sequence[memoryview],
                  addresses: Sequence[int | None]) -> dict[int, bytes]:
    """File offset -> chunk digest, for buffer chunks whose digests the attempt made while hashing values."""
    found: dict[int, bytes] = {}
    for start, view, address in zip(layout.buffers_at, buffers, addresses, strict=True):
        pieces = known_pieces(address, len(view)) if address is not None else None
        if pieces is not None and len(pieces) == -(-len(view) // PIECE):
            found.update({start + i * PIECE: digest for i, digest in enumerate(pieces)})
    return found


def read_header(handle: ReadHandle) -> fmt.Header:
    """Parse the header at the start of `handle` (not verified: for layout or display)."""
    fixed = bytearray(fmt.FIXED.size)
    _read_exact(handle, memoryview(fixed))
    raw = bytearray(fmt.parse_fixed(bytes(fixed), handle.size))
    _read_exact(handle, memoryview(raw))
    return fmt.Header.decode(bytes(raw))


def read_file(handle: ReadHandle, secret: bytes) -> tuple[fmt.Header, bytearray, list[Any]]:
    """Read and verify a whole checkpoint; return its header (with the footer's digests), stream and buffers.

    Raises `format.FormatError` naming the first check that fails; nothing
    has been unpickled at that point.
    """
    fixed = bytearray(fmt.FIXED.size)
    _read_exact(handle, memoryview(fixed))
    header_size = fmt.parse_fixed(bytes(fixed), handle.size)
    prefix = fixed + bytearray(header_size)
    _read_exact(handle, memoryview(prefix)[fmt.FIXED.size :])
    header = fmt.Header.decode(bytes(prefix[fmt.FIXED.size :]))
    layout = fmt.Layout.of(header_size, header.pickle_size, header.buffer_sizes)
    least = layout.footer_at + fmt.FOOTER_LENGTH.size + fmt.TRAILER.size
    if handle.size < least:
        raise fmt.FormatError(f"truncated or damaged (size {handle.size}, header says at least {least})")
    stream = bytearray(header.pickle_size)
    buffers = [_alloc(size) for size in header.buffer_sizes]
    views = fmt.regions(
        layout,
        memoryview(prefix),
        memoryview(stream),
        [memoryview(b) for b in buffers],
        writable_pads=True,
    )
    digester = fmt.Digester(parallel=layout.end > header.chunk)
    try:
        _read_views(handle, views, fmt.chunks(views, header.chunk, fmt.buffer_bounds(layout, header.buffer_sizes)),
                    digester)
        length = bytearray(fmt.FOOTER_LENGTH.size)
        _read_exact(handle, memoryview(length))
        expected = least + fmt.FOOTER_LENGTH.unpack(length)[0]
        if expected != handle.size:
            raise fmt.FormatError(f"truncated or damaged (size {handle.size}, header and footer say {expected})")
        footer = length + bytearray(expected - least)
        _read_exact(handle, memoryview(footer)[fmt.FOOTER_LENGTH.size:])
        layout = layout.with_footer(len(footer))
        digester.add([memoryview(footer)])
        tail = bytearray(fmt.TRAILER.size)
        _read_exact(handle, memoryview(tail))
        digests = digester.digests()
    except BaseException:
        digester.cancel()
        raise
    fmt.check_trailer(bytes(tail), secret, layout.end, digests)
    digests_, displays = fmt.decode_footer(bytes(footer))
    return dataclasses.replace(header, digests=digests_, displays=displays), stream, buffers


def _read_views(handle: ReadHandle, views: Sequence[memoryview], plan: Iterable[list[memoryview]],
                digester: fmt.Digester) -> None:
    """Read every view after the first (the prefix, read already) in large slices, hashing each chunk once in.

    Slices of up to READ_SLICE bytes cost far fewer system calls than one
    read per 4 MiB chunk (measured here: ~15 % more MB/s on a cold read).
    """
    chunks = list(plan)
    ends = list(itertools.accumulate(sum(len(p) for p in pieces) for pieces in chunks))
    submitted = 0
    done = len(views[0]) if views else 0
    while submitted < len(chunks) and ends[submitted] <= done:
        digester.add(chunks[submitted])
        submitted += 1
    for view in views[1:]:
        position = 0
        while position < len(view):
            step = min(READ_SLICE, len(view) - position)
            _read_exact(handle, view[position:position + step])
            position += step
            done += step
            first = submitted
            while submitted < len(chunks) and ends[submitted] <= done:
                submitted += 1
            digester.add_batch(chunks[first:submitted])


def _alloc(size: int) -> Any:
    """A writable buffer for `readinto`: numpy's for big ones (no zero-fill, huge pages).

    `bytearray(n)` zero-fills and faults in 4 KiB pages first, which costs
    about as much as reading the data from disk.
    """
    global _numpy
    if size >= _NUMPY_MIN:
        if _numpy is None:
            try:
                import numpy
            except ImportError:
                _numpy = False
            else:
                _numpy = numpy
        if _numpy is not False:
            return _numpy.empty(size, dtype=_numpy.uint8)
    return bytearray(size)


def _read_exact(handle: ReadHandle, view: memoryview) -> None:
    while len(view):
        got = handle.readinto(view)
        if not got:
            raise fmt.FormatError("truncated file")
        view = view[got:]
