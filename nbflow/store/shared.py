"""Checkpoints written by another process on storage the kernel shares (`dask_store=shared`).

A Dask worker that ran a step writes its checkpoint itself with the same
writer the kernel uses (`CheckpointStore.write`: same format, signature and
atomic write), under a staged name beside the final one; only a small
receipt comes back (README "Beyond one machine"). The kernel then moves the
staged file into place once the attempt is claimed, so a checkpoint is still
only ever kept by the current attempt; a staged file nobody adopts is a temp
file, removed by `sweep_temp_files`.

`SharedWriter` is what travels to the worker: the store's location and the
signing secret, sent over Dask's own channel as an argument of the task and
never written anywhere (its repr leaves the secret out). The worker needs
nbflow installed to use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.digest import Unhashable, digest
from ..core.digest.pieces import recording
from . import format as fmt
from .checkpoint import CheckpointStore
from .results import WriteResult


@dataclass(frozen=True)
class SharedWriter:
    """Writes one staged checkpoint where it is called (a Dask worker); returns the receipt as plain data."""

    root: str
    secret: bytes = field(repr=False)
    chunk_size: int = fmt.DEFAULT_CHUNK

    def __call__(self, step: str, key: str, token: str, values: Mapping[str, Any], *,
                 parts: Sequence[tuple[str, str, str, str]] = (), attempts: int | None = None,
                 duration: float | None = None, displays: Sequence[Mapping[str, Any]] = (),
                 live: Mapping[str, Any] | None = None, where: str = "") -> dict[str, Any]:
        """Hash and save `values` as `step`'s checkpoint under `key`, staged with `token`."""
        store = CheckpointStore(self.root, secret=self.secret, chunk_size=self.chunk_size)
        found: dict[str, Any] = {}

        def digests() -> dict[str, Any]:  # after the buffers are hashed: their piece digests are reused
            for name, value in values.items():
                try:
                    made = digest(value, live, live)
                except Unhashable:
                    found[name] = None
                else:
                    found[name] = [made.hex, sorted(made.reached), made.volatile]
            return found

        with recording():
            written = store.write(step, key, values, digests=digests, parts=parts, duration=duration,
                                  live=live, displays=displays, attempts=attempts, staged=token)
        writer = f"pid {os.getpid()}" + (f" on {where}" if where else "")
        return {"token": token, "size": written.size, "seconds": written.seconds, "digests": found,
                "not_restorable": written.reason, "written_by": writer, "pid": os.getpid()}


def adopt(store: CheckpointStore, step: str, key: str, token: str, size: int, seconds: float) -> WriteResult:
    """Move a staged checkpoint into place (`CheckpointStore.adopt_staged`: checked against the receipt).

    `seconds`, the worker's write time, is added to the time the move took.
    Raises OSError when it is not there (storage the kernel does not share)
    or is not what the receipt says.
    """
    moved = store.adopt_staged(step, key, token, size)
    return replace(moved, seconds=seconds + moved.seconds)


def drop(store: CheckpointStore, step: str, key: str, token: str) -> None:
    """Remove a staged checkpoint nobody will adopt (its attempt was given up)."""
    store.drop_staged(step, key, token)
