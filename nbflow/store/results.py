"""What a `CheckpointStore` answers: plain, frozen records of a write, a load, a header and a listing.

Kept apart from `checkpoint.py` (which re-exports them) so code that only
reads these results need not know how checkpoints are written or checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import format as fmt


@dataclass(frozen=True)
class WriteResult:
    """What `write` did: where, how big, how long, and which outputs were left out."""

    step: str
    key: str
    path: str
    size: int
    seconds: float
    unpicklable: Mapping[str, str] = field(default_factory=dict)

    @property
    def restorable(self) -> bool:
        return not self.unpicklable

    @property
    def reason(self) -> str | None:
        """`"conn: cannot pickle 'socket' object; ..."`, or None when restorable."""
        if not self.unpicklable:
            return None
        return "; ".join(f"{name}: {why}" for name, why in self.unpicklable.items())


@dataclass(frozen=True)
class LoadResult:
    """What `load` returns: the outputs plus what provenance wants to record."""

    step: str
    key: str
    path: str
    size: int
    seconds: float
    outputs: dict[str, Any]
    unpicklable: Mapping[str, str] = field(default_factory=dict)
    header: fmt.Header | None = None  # deletions, digests, key parts, duration


@dataclass(frozen=True)
class CheckpointEntry:
    """One stored file as `list` sees it (from names and stat, nothing opened)."""

    step: str
    key: str
    size: int
    mtime: float
    path: str


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint's header, read without verifying the file: for display only."""

    step: str
    key: str
    path: str
    size: int
    created: float
    python: str
    cloudpickle: str
    outputs: tuple[str, ...]
    unpicklable: Mapping[str, str]
    parts: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def restorable(self) -> bool:
        return not self.unpicklable
