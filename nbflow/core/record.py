"""The scheduler's mutable record of one step, and the status snapshot taken from it.

Everything the scheduler knows about a step between events lives in one
`StepRecord`; `status()` turns it into the immutable `StepStatus` the rest of
nbflow reads, so no caller ever sees the record itself.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .digest import Digest
from .spec import StepSpec
from .states import ACTIVE, TERMINAL, State
from .status import AttemptInfo, StepStatus

_LOG_LIMIT = 100  # attempts kept per step (retries inf can fail forever)


class StepRecord:
    """The scheduler's mutable record of one step (touched under the scheduler's lock only)."""

    __slots__ = (
        "attempt",
        "committing",
        "ended",
        "error",
        "force",
        "inputs",
        "key",
        "log",
        "mono_ended",
        "mono_started",
        "name",
        "not_restorable",
        "outputs",
        "provenance",
        "reason",
        "seconds",
        "spec",
        "start_at",
        "started",
        "state",
        "threads",
        "token",
        "traceback",
        "unmet",
        "why",
    )

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.state = State.PENDING
        self.token: object | None = None
        self.log: deque[AttemptInfo] = deque(maxlen=_LOG_LIMIT)
        #: attempts started whose thread (or worker) has not returned, abandoned ones included: kept across runs
        self.threads = 0
        self.reset()

    def reset(self) -> None:
        self.attempt = 0
        self.started: float | None = None
        self.mono_started: float | None = None
        self.mono_ended: float | None = None
        self.ended: float | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.reason: str | None = None
        self.outputs: tuple[str, ...] = ()
        self.start_at: float | None = None
        self.unmet = 0  # --after steps not yet finished; the full rule runs when it reaches 0
        self.force = False  # execute even if a checkpoint matches (this run only)
        self.key: str | None = None
        self.provenance: dict[str, Any] = {}  # StepStatus fields: the checkpoint written or loaded
        self.not_restorable: str | None = None
        self.committing = False  # the body finished and its checkpoint is being written
        self.inputs: dict[str, Digest] = {}  # what it read, as it left it: for freshness checks
        self.why: str | None = None
        #: a success's duration: how long its code ran (what its checkpoint records), not the hashing and write
        self.seconds: float | None = None
        self.log.clear()

    def status(self, now: float) -> StepStatus:
        """A snapshot for readers; `now` is `time.monotonic()`, for the duration of an active step."""
        provenance = dict(self.provenance)
        attempts = provenance.pop("original_attempts", None) or self.attempt
        duration = None
        if self.state is State.RESTORED and provenance.get("original_seconds") is not None:
            duration = provenance["original_seconds"]  # the run that computed it, as the checkpoint says
        elif self.state is State.SUCCEEDED and self.seconds is not None:
            duration = self.seconds
        elif self.started is not None and self.mono_started is not None:
            if self.ended is not None:
                # The monotonic clock: a wall clock set back or forward meanwhile does not count.
                duration = (self.mono_ended - self.mono_started) if self.mono_ended is not None else None
            elif self.state in ACTIVE:
                duration = now - self.mono_started
        return StepStatus(
            name=self.name, state=self.state, attempts=attempts, started=self.started,
            ended=self.ended if self.state in TERMINAL else None, duration=duration,
            error=self.error if self.state is State.FAILED or self.state in ACTIVE else None,
            traceback=self.traceback if self.state is State.FAILED or self.state in ACTIVE else None,
            reason=self.reason, outputs=self.outputs, attempt_log=tuple(self.log),
            key=self.key, not_restorable=self.not_restorable, why=self.why,
            background=self.threads - (1 if self.state is State.RUNNING else 0), **provenance,
        )
