"""One stream of frozen events: what happened to a flow and its steps.

The scheduler publishes; the widget, the manifest, the labextension comm and
logging subscribe. Publishing only appends to an outbox (cheap, under the
scheduler's lock, so the order is the order of state changes); `drain`
delivers the outbox in order outside any lock, on one thread at a time. A
subscriber that raises is logged and skipped, never allowed to break a run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .keys import Part
from .states import State

logger = logging.getLogger("nbflow")
logger.addHandler(logging.NullHandler())  # a library stays quiet unless the app configures logging

Subscriber = Callable[["Event"], object]


@dataclass(frozen=True)
class Event:
    """Base of every event; `time` is wall-clock seconds since the epoch."""

    run: int
    time: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class FlowStarted(Event):
    """A run began: some step was scheduled while nothing was active."""


@dataclass(frozen=True)
class FlowFinished(Event):
    """The run ended: no scheduled step is left waiting, queued or running."""

    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StepEvent(Event):
    """Something happened to one step; `state` is the step's state afterwards."""

    step: str
    state: ClassVar[State | None] = None


@dataclass(frozen=True)
class StepDefined(StepEvent):
    """A step was added, or replaced by a new definition."""

    replaced: bool = False


@dataclass(frozen=True)
class StepRemoved(StepEvent):
    """A step was removed from the flow."""


@dataclass(frozen=True)
class StepWaiting(StepEvent):
    """Scheduled; waits for its dependencies."""

    state = State.WAITING


@dataclass(frozen=True)
class StepQueued(StepEvent):
    """Dependencies satisfied; waits for a worker, a --delay or an --at time."""

    state = State.QUEUED
    start_at: float | None = None


@dataclass(frozen=True)
class StepStarted(StepEvent):
    """An attempt began."""

    state = State.RUNNING
    attempt: int = 1


@dataclass(frozen=True)
class AttemptFailed(StepEvent):
    """An attempt raised or timed out; a StepRetrying or StepFailed follows."""

    attempt: int = 1
    error: str = ""
    traceback: str = ""
    timed_out: bool = False
    where: str = ""  # where the attempt ran (see `AttemptInfo.where`)


@dataclass(frozen=True)
class StepRetrying(StepEvent):
    """Waiting `delay` seconds of backoff before attempt number `attempt`."""

    state = State.RETRYING
    attempt: int = 2
    delay: float = 0.0


@dataclass(frozen=True)
class StepSucceeded(StepEvent):
    """The last attempt succeeded and its outputs are committed."""

    state = State.SUCCEEDED
    attempts: int = 1
    duration: float = 0.0
    outputs: tuple[str, ...] = ()
    key: str | None = None
    parts: tuple[Part, ...] = ()  # what the key was made of
    checkpoint: str | None = None
    size: int | None = None  # bytes of the checkpoint written
    write_seconds: float | None = None
    not_restorable: str | None = None  # why the checkpoint cannot restore (unpicklable outputs, no key)
    why: str | None = None  # why it ran instead of being restored (what changed since the last checkpoint)
    where: str = ""  # where the last attempt ran (see `AttemptInfo.where`)


@dataclass(frozen=True)
class StepFailed(StepEvent):
    """No attempt is left; `error` is the last attempt's."""

    state = State.FAILED
    attempts: int = 1
    error: str = ""
    traceback: str = ""
    duration: float | None = None  # seconds since it started, on the monotonic clock


@dataclass(frozen=True)
class StepSkipped(StepEvent):
    """Its --if was false (or every --after-any step was skipped)."""

    state = State.SKIPPED
    reason: str = ""
    duration: float | None = None  # seconds since it started, on the monotonic clock


@dataclass(frozen=True)
class StepCancelled(StepEvent):
    """Cancelled by the user, by closing the flow, or by a cancelled upstream step."""

    state = State.CANCELLED
    reason: str = ""
    duration: float | None = None  # seconds since it started, on the monotonic clock


@dataclass(frozen=True)
class StepRestored(StepEvent):
    """Outputs loaded from a checkpoint instead of running."""

    state = State.RESTORED
    outputs: tuple[str, ...] = ()
    key: str | None = None
    parts: tuple[Part, ...] = ()
    checkpoint: str = ""
    size: int | None = None  # bytes of the checkpoint loaded
    load_seconds: float = 0.0
    original_seconds: float | None = None  # how long computing it took
    time_saved: float | None = None  # original_seconds - load_seconds
    computed_at: float | None = None
    why: str | None = None
    displays: tuple[dict[str, Any], ...] = ()  # what the run displayed, to show again (nbformat outputs)
    attempts: int | None = None  # how many attempts the run that computed it took


@dataclass(frozen=True)
class StepWarning(StepEvent):
    """Something the user should know that does not change the step's state."""

    message: str = ""


@dataclass(frozen=True)
class StepUpstreamFailed(StepEvent):
    """Blocked: a dependency failed (with --on-fail stop) or was blocked itself."""

    state = State.UPSTREAM_FAILED
    upstream: str = ""
    reason: str = ""  # "upstream step 'a' failed", or "... was blocked" when `upstream` did not run either
    duration: float | None = None  # seconds since it started, on the monotonic clock


@dataclass(frozen=True)
class StepStale(StepEvent):
    """A finished step whose definition or inputs changed."""

    state = State.STALE
    reason: str = ""


class EventBus:
    """Ordered delivery of events to subscribers."""

    def __init__(self, notify: Callable[[], None] | None = None) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        self._outbox: deque[Event] = deque()
        self._deliver_lock = threading.Lock()
        self._notify = notify
        self._notified = False

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers = (*self._subscribers, subscriber)
        return lambda: self.unsubscribe(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

    def publish(self, event: Event) -> None:
        """Queue an event. Callers hold the scheduler lock, so order is total."""
        self._outbox.append(event)
        if not self._notified and self._notify is not None:
            self._notified = True
            self._notify()

    def pending(self) -> bool:
        return bool(self._outbox)

    def drain(self) -> None:
        """Deliver every queued event, in order, to every subscriber."""
        with self._deliver_lock:
            self._notified = False
            outbox = self._outbox
            while outbox:
                event = outbox.popleft()
                for subscriber in self._subscribers:
                    try:
                        subscriber(event)
                    except Exception:
                        logger.exception(
                            "nbflow: event subscriber %r failed on %s", subscriber, type(event).__name__
                        )


def log_event(event: Event) -> None:
    """The `nbflow` logger as a subscriber: failures as warnings, the rest as info."""
    if isinstance(event, StepWarning):
        logger.warning("step %s: %s", event.step, event.message)
    elif isinstance(event, (AttemptFailed, StepFailed)):
        if logger.isEnabledFor(logging.WARNING):
            level = logging.ERROR if isinstance(event, StepFailed) else logging.WARNING
            logger.log(level, "step %s: %s: %s", event.step, type(event).__name__, event.error)
    elif isinstance(event, StepEvent):
        if logger.isEnabledFor(logging.INFO):
            state = event.state or type(event).__name__
            logger.info("step %s: %s", event.step, state)
    elif logger.isEnabledFor(logging.INFO):
        logger.info("flow run %d: %s", event.run, type(event).__name__)
