"""Large buffers hashed as 4 MiB pieces, so a checkpoint write can reuse the pieces' digests.

A big array's content digest is the BLAKE3 of the digests of its 4 MiB
pieces, computed on a few threads (BLAKE3 releases the GIL). A checkpoint
signs the same pieces (each out-of-band buffer starts a chunk of its own,
see `nbflow.store.format`), so when an attempt hashes its outputs and then
writes them, the writer takes the piece digests the hasher just made instead
of reading the memory again: an output's digest costs nothing beyond
writing its checkpoint.

The hand-over is scoped: only digests made on the same thread inside
`recording()` are offered, and the attempt opens that scope after its body
ran, just before hashing its outputs and writing them, so no piece digest
can describe memory that changed since.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import blake3

PIECE = 4 << 20
_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def hash_pool() -> ThreadPoolExecutor:
    """The threads nbflow hashes on: content digests here, checkpoint chunks in `nbflow.store.format`."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(2, min(4, os.cpu_count() or 2)), thread_name_prefix="nbflow-hash")
        return _pool


def _forget_pool() -> None:  # a forked child has the pool object but not its threads
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _one(view: Any) -> bytes:
    return blake3.blake3(view).digest()


def piece_digests(flat: Any, address: int | None) -> list[bytes]:
    """BLAKE3 of each PIECE-sized slice of the contiguous bytes `flat`.

    With an `address` (the memory a pickled buffer of the value will point
    at), the digests are offered to checkpoint writes inside `recording()`.
    """
    view = memoryview(flat).cast("B")
    slices = [view[i:i + PIECE] for i in range(0, len(view), PIECE)]
    found = list(hash_pool().map(_one, slices)) if len(slices) > 1 else [_one(s) for s in slices]
    if address is not None:
        offer_pieces(address, len(view), found)
    return found


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Offer the piece digests made on this thread, inside this block, to checkpoint writes in it."""
    previous = getattr(_local, "known", None)
    _local.known = {}
    try:
        yield
    finally:
        _local.known = previous


def offer_pieces(address: int, nbytes: int, pieces: list[bytes]) -> None:
    """Offer the piece digests of the buffer at `address` (a checkpoint writer just hashed it)."""
    known = getattr(_local, "known", None)
    if known is not None:
        known[(address, nbytes)] = pieces


def known_pieces(address: int, nbytes: int) -> list[bytes] | None:
    """The piece digests of the buffer at `address` made inside the current `recording()`, if any."""
    known = getattr(_local, "known", None)
    return None if known is None else known.get((address, nbytes))
