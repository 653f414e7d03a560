"""Step states and the groups of them the scheduler reasons with."""

from __future__ import annotations

from enum import Enum


class State(str, Enum):
    """Where a step stands. `pending` is a step defined but not scheduled."""

    PENDING = "pending"
    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    RESTORED = "restored"
    UPSTREAM_FAILED = "upstream-failed"
    STALE = "stale"
    INTERRUPTED = "interrupted"  # read back from a run whose process died before it ended

    def __str__(self) -> str:
        return self.value


#: A run has finished with the step (it will not change without a new run).
TERMINAL = frozenset(
    {
        State.SUCCEEDED,
        State.FAILED,
        State.SKIPPED,
        State.CANCELLED,
        State.RESTORED,
        State.UPSTREAM_FAILED,
    }
)
#: The step is part of the current run and not finished.
ACTIVE = frozenset({State.WAITING, State.QUEUED, State.RUNNING, State.RETRYING})
#: Its result stands: `%flow run` leaves it alone unless forced.
UP_TO_DATE = frozenset({State.SUCCEEDED, State.RESTORED, State.SKIPPED})
#: Produced outputs that dependents can read.
HAS_OUTPUT = frozenset({State.SUCCEEDED, State.RESTORED})
