"""The checkpoint cache as the scheduler sees it: keys, restore, save.

The scheduler only knows this protocol; `nbflow.store` implements it with
signed checkpoint files and the SQLite manifest. Everything here runs in a
worker thread as part of an attempt, never under the scheduler's lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .namespace import Outputs
from .spec import StepSpec


@dataclass(frozen=True)
class Key:
    """A step's cache key, or None with the reason caching is off for it."""

    value: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Restored:
    """Outputs loaded from a checkpoint, and what the load cost."""

    outputs: Outputs
    path: str
    load_seconds: float
    time_saved: float | None = None
    computed_at: float | None = None  # wall clock of the run that produced the checkpoint


@dataclass(frozen=True)
class Refused:
    """A checkpoint exists but must not be loaded (tampered, torn, foreign); the step runs again."""

    reason: str


@dataclass(frozen=True)
class Saved:
    """Where a checkpoint went; `not_restorable` names outputs that could not be pickled."""

    path: str | None
    size: int = 0
    seconds: float = 0.0
    not_restorable: str | None = None


class Cache(Protocol):
    """What the scheduler needs from a checkpoint store."""

    def key(self, spec: StepSpec, upstream: Mapping[str, str | None], inputs: Mapping[str, Any]) -> Key:
        """The step's key from its definition, its upstream keys and its outside inputs."""
        ...

    def restore(self, spec: StepSpec, key: str) -> Restored | Refused | None:
        """Load a valid checkpoint for `key`; None when there is none, Refused when it fails a check."""
        ...

    def save(self, spec: StepSpec, key: str, outputs: Outputs, duration: float) -> Saved:
        """Write the checkpoint of a successful attempt; failures are reported, not raised."""
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
