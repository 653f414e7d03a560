"""`%flow clean` / `nbflow clean`: delete checkpoints nothing points to any more."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..core.status import StepStatus
from .store import Store


def clean(store: Store, current: Iterable[StepStatus], older_than: float | None = None) -> tuple[int, int]:
    """Remove checkpoints no step's latest key refers to, and with `older_than` old ones too.

    Never removes a checkpoint a current step points to. Returns (removed, kept).
    """
    current_keys = {(s.name, s.key) for s in current if s.key}
    referenced = store.manifest.referenced_keys()
    now = time.time()
    removed = kept = 0
    for entry in store.checkpoints.list():
        pair = (entry.step, entry.key)
        old = older_than is not None and now - entry.mtime > older_than
        if pair not in current_keys and (pair not in referenced or old):
            removed += store.checkpoints.remove(entry.step, entry.key)
        else:
            kept += 1
    return removed, kept
