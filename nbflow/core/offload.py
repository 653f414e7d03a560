"""A checkpoint an executor may write where the body runs, instead of the kernel writing it.

With `%flow config dask_store=shared` a Dask worker writes its step's
checkpoint itself, so a large output need not travel through the kernel to
be saved (README "Beyond one machine"). The attempt knows the key and the
cache, the executor knows where the body runs: the attempt puts an `Offer`
on its thread while the body runs, and an executor that can write there
takes it and leaves a `Receipt` on it. The attempt then adopts the staged
file once it claims the result (only the current attempt keeps a
checkpoint), or drops it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .cache import Receipt
from .keys import Part

_local = threading.local()


@dataclass
class Offer:
    """The checkpoint of the attempt running on this thread: what a remote writer needs, and what it did."""

    step: str
    key: str
    parts: tuple[Part, ...]
    attempt: int
    cache: Any  # a `SharedCache`
    receipt: Receipt | None = None
    #: why the checkpoint could not be written remotely (the kernel then writes it), one line each
    notes: list[str] = field(default_factory=list)


@contextmanager
def offering(offer: Offer | None) -> Iterator[Offer | None]:
    """Make `offer` this thread's while the body runs."""
    previous = getattr(_local, "offer", None)
    _local.offer = offer
    try:
        yield offer
    finally:
        _local.offer = previous


def current_offer() -> Offer | None:
    """The offer of the attempt running on this thread, if its cache can be written remotely."""
    return getattr(_local, "offer", None)
