"""The checkpoint cache as the scheduler sees it: restore by key, save with what the key was made of.

The scheduler only knows this protocol; `nbflow.store` implements it with
signed checkpoint files and the SQLite manifest. Everything here runs in a
worker thread as part of an attempt, never under the scheduler's lock.

A checkpoint holds what running the step left in the namespace: the values
it bound, the inputs it changed in place, the names it deleted, what it
displayed (nbformat output dicts, so a restored cell looks computed), and the
digest of each value (so a restore needs no rehash and the readers' keys can
be computed from it), plus the parts of the key it was saved under (so
`%flow why` can say what changed since).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .digest import Digest
from .keys import Part
from .namespace import Outputs
from .spec import StepSpec


@dataclass(frozen=True)
class Snapshot:
    """What a successful attempt saves: values, deletions, digests and the key's parts.

    `digests` may be a function, which the store calls once it has hashed the
    buffers it writes (their piece digests are then reused: see
    `nbflow.core.digest.pieces`).
    """

    outputs: Outputs
    digests: Mapping[str, Digest | None] | Callable[[], Mapping[str, Digest | None]]
    parts: tuple[Part, ...]
    mutated: tuple[str, ...] = ()
    duration: float = 0.0
    attempts: int = 1  # the attempt that succeeded (1 + the retries it took)
    #: what the step displayed (nbformat output dicts), saved so a restore can show it again
    displays: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Restored:
    """A checkpoint loaded back, and what the load cost."""

    outputs: Outputs
    path: str
    load_seconds: float
    digests: Mapping[str, Digest | None] = field(default_factory=dict)
    parts: tuple[Part, ...] = ()
    mutated: tuple[str, ...] = ()
    duration: float | None = None  # how long the run that produced it took
    computed_at: float | None = None  # wall clock of that run
    size: int | None = None  # bytes read
    displays: tuple[dict[str, Any], ...] = ()  # what the run displayed, to show again
    attempts: int | None = None  # how many attempts that run took

    @property
    def time_saved(self) -> float | None:
        return None if self.duration is None else max(0.0, self.duration - self.load_seconds)


@dataclass(frozen=True)
class Refused:
    """A checkpoint exists but must not be loaded (tampered, torn, foreign, old); the step runs again."""

    reason: str


@dataclass(frozen=True)
class Saved:
    """Where a checkpoint went; `not_restorable` names outputs that could not be pickled."""

    path: str | None
    size: int = 0
    seconds: float = 0.0
    not_restorable: str | None = None
    digests: Mapping[str, Digest | None] | None = None  # what `Snapshot.digests` gave, if the store called it
    written_by: str | None = None  # who wrote it when not the kernel ("pid 812 on tcp://10.0.0.7:40211")


@dataclass(frozen=True)
class Receipt:
    """A checkpoint an executor had written where the body ran (a Dask worker, `dask_store=shared`).

    The file is complete and signed, under a staged name beside its final
    one (`token` tells which); the attempt adopts it once it is claimed, or
    drops it. Only this small record came back, not the file's bytes.
    """

    token: str
    size: int
    seconds: float
    digests: Mapping[str, Any]  # as the checkpoint's footer has them: name -> [hex, reached, volatile] or None
    not_restorable: str | None
    written_by: str


@runtime_checkable
class SharedCache(Protocol):
    """A cache whose checkpoints another process may write (storage the workers reach too)."""

    def shared_writer(self) -> Any:
        """A picklable callable that writes a staged checkpoint where it is called (None: not possible)."""
        ...

    def adopt(self, spec: StepSpec, key: str, receipt: Receipt) -> Saved:
        """Move a staged checkpoint into place; raises OSError when it is not there as the receipt says."""
        ...

    def drop(self, spec: StepSpec, key: str, receipt: Receipt) -> None:
        """Remove a staged checkpoint of an attempt that was given up."""
        ...


@dataclass(frozen=True)
class Previous:
    """The parts of the newest checkpoint of a step, whatever its key: what `why` compares with."""

    key: str
    parts: tuple[Part, ...]
    created: float


class Cache(Protocol):
    """What the scheduler needs from a checkpoint store."""

    @property
    def watch_root(self) -> Path:
        """The folder `--watch` paths are relative to (the notebook's)."""
        ...

    def restore(self, spec: StepSpec, key: str, live: Mapping[str, Any] | None = None) -> Restored | Refused | None:
        """Load a valid checkpoint for `key` into `live` (the namespace); None if there is none, Refused if bad."""
        ...

    def save(self, spec: StepSpec, key: str, snapshot: Snapshot, live: Mapping[str, Any] | None = None) -> Saved:
        """Write the checkpoint of a successful attempt (`live`: the namespace); failures are reported."""
        ...

    def discard(self, spec: StepSpec, key: str) -> None:
        """Remove a checkpoint written by an attempt that turned out to be abandoned."""
        ...

    def previous(self, spec: StepSpec) -> Previous | None:
        """The newest checkpoint of the step under any key, if there is one."""
        ...

    def exists(self, spec: StepSpec, key: str) -> bool:
        """A checkpoint is stored under `key` (it may still fail its checks when loaded)."""
        ...


@dataclass(frozen=True)
class AttemptResult:
    """What an attempt job hands back to the scheduler."""

    outputs: Outputs
    key: str | None
    restored: Restored | None = None
    saved: Saved | None = None
    key_reason: str | None = None
    notes: tuple[str, ...] = ()  # warnings to show under the step (refused checkpoint, ...)
    digests: Mapping[str, Digest | None] = field(default_factory=dict)  # of every value it binds
    inputs: Mapping[str, Digest] = field(default_factory=dict)  # its inputs as it left them
    parts: tuple[Part, ...] = ()
    why: str | None = None  # one line: why it ran, or where the restore came from
    #: how long the step's code ran: its duration everywhere, the same figure its checkpoint records
    seconds: float | None = None
