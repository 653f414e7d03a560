"""Checkpoints that are switched off: what a notebook gets when no store can be used.

A store that cannot be created, opened or written (a read-only folder, a
path that is a file, a full disk) must not stop the notebook: steps run
without checkpoints, one warning says why, and each step's status says it
will not restore. This stands in for `CheckpointStore` with the same
methods: nothing is ever found, every write is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import CheckpointMissing, CheckpointWriteError
from .results import CheckpointEntry, CheckpointInfo, LoadResult, WriteResult


class DisabledCheckpoints:
    """No checkpoint is found, none is written; `reason` says why (shown in each step's status)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"DisabledCheckpoints({self.reason!r})"

    @property
    def root(self) -> str:
        return "(no store)"

    def path_for(self, step: str, key: str) -> str:
        return "(no store)"

    def ensure(self) -> None:
        return None

    def exists(self, step: str, key: str) -> bool:
        return False

    def remove(self, step: str, key: str) -> bool:
        return False

    def write(self, step: str, key: str, outputs: Mapping[str, Any], **_: Any) -> WriteResult:
        raise CheckpointWriteError(step, key, f"checkpoints are off: {self.reason}")

    def load(self, step: str, key: str, **_: Any) -> LoadResult:
        raise CheckpointMissing(step, key)

    def read(self, step: str, key: str, **_: Any) -> Any:
        raise CheckpointMissing(step, key)

    def info(self, step: str, key: str) -> CheckpointInfo:
        raise CheckpointMissing(step, key)

    def list(self, step: str | None = None) -> list[CheckpointEntry]:
        return []

    def sweep_temp_files(self, older_than: float = 3600.0) -> int:
        return 0

