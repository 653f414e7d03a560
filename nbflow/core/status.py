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

    def row(self) -> tuple[str, str, str, str, str]:
        """(step, state, attempts, duration, error or reason) for text tables."""
        detail = self.error or self.reason or ""
        return (
            self.name,
            self.state.value,
            str(self.attempts),
            format_duration(self.duration),
            detail.splitlines()[0] if detail else "",
        )


def format_table(statuses: list[StepStatus]) -> str:
    """A plain-text table of statuses, columns padded to fit."""
    header = ("step", "state", "attempts", "duration", "error")
    rows = [header, *(s.row() for s in statuses)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)
