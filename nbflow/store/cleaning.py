"""`%flow clean` / `nbflow clean`: delete checkpoints nothing points to any more.

Both say what they did in one line (`Cleaned.text`), and `dry_run` says what
they would do, so a user can check before deleting anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.status import StepStatus
from .store import Store


@dataclass(frozen=True)
class Cleaned:
    """What one clean removed (or would remove) and kept."""

    removed: int
    removed_bytes: int
    current: int  # kept: a current step's checkpoint
    referenced: int  # kept: an earlier run's latest checkpoint, not older than `older_than`
    dry_run: bool = False

    @property
    def kept(self) -> int:
        return self.current + self.referenced

    def text(self) -> str:
        """E.g. "nbflow: removed 33 checkpoints, 47 MB; kept 7 current"."""
        verb = "would remove" if self.dry_run else "removed"
        kept = f"kept {self.current} current"
        if self.referenced:
            kept += f" and {self.referenced} from earlier runs"
        return f"nbflow: {verb} {_count(self.removed)}, {format_size(self.removed_bytes)}; {kept}"


def clean(store: Store, current: Iterable[StepStatus], older_than: float | None = None,
          dry_run: bool = False) -> Cleaned:
    """Remove checkpoints no step's latest key refers to, and with `older_than` old ones too.

    Never removes a checkpoint a current step points to; `dry_run` removes nothing.
    """
    current_keys = {(s.name, s.key) for s in current if s.key}
    referenced = store.manifest.referenced_keys()
    now = time.time()
    removed = removed_bytes = kept_current = kept_referenced = 0
    for entry in store.checkpoints.list():
        pair = (entry.step, entry.key)
        old = older_than is not None and now - entry.mtime > older_than
        if pair in current_keys:
            kept_current += 1
        elif pair in referenced and not old:
            kept_referenced += 1
        elif dry_run or store.checkpoints.remove(entry.step, entry.key):
            removed += 1
            removed_bytes += entry.size
    return Cleaned(removed, removed_bytes, kept_current, kept_referenced, dry_run)


def _count(n: int) -> str:
    return f"{n} checkpoint" + ("" if n == 1 else "s")


def format_size(size: int) -> str:
    """Bytes for people: 512 B, 3.2 KB, 47 MB, 1.5 GB (powers of 1000)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            if unit == "B":
                return f"{size} B"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
