"""A step's status as plain data, for `status()`, tables and the widget."""

from __future__ import annotations

from dataclasses import dataclass

from .durations import format_duration
from .states import State


@dataclass(frozen=True)
class AttemptInfo:
    """One attempt: wall-clock start and end, and its error if it failed."""

    number: int
    started: float
    ended: float | None = None
    error: str | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class StepStatus:
    """Where a step stands and how it got there."""

    name: str
    state: State
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    outputs: tuple[str, ...] = ()
    attempt_log: tuple[AttemptInfo, ...] = ()
    key: str | None = None
    checkpoint: str | None = None  # restored from, or written to
    time_saved: float | None = None  # restored: original run time minus load time
    not_restorable: str | None = None
    why: str | None = None  # why it ran (what changed since its last checkpoint), or why it was restored

    @property
    def source(self) -> str:
        """computed / restored / '' (nothing produced)."""
        if self.state is State.RESTORED:
            return "restored"
        return "computed" if self.state is State.SUCCEEDED else ""

    def row(self) -> tuple[str, ...]:
        """(step, state, attempts, duration, source, error or reason) for text tables."""
        detail = self.error or self.reason or self.not_restorable or ""
        return (
            self.name,
            self.state.value,
            str(self.attempts),
            format_duration(self.duration),
            self.source,
            detail.splitlines()[0] if detail else "",
        )


def format_table(statuses: list[StepStatus]) -> str:
    """A plain-text table of statuses, columns padded to fit, with the total time saved."""
    header = ("step", "state", "attempts", "duration", "source", "error")
    rows = [header, *(s.row() for s in statuses)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    saved = sum(s.time_saved or 0.0 for s in statuses)
    if saved > 0:
        lines.append(f"time saved by restoring: {format_duration(saved)}")
    return "\n".join(lines)
