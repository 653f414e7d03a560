"""How an attempt's own thread learns that the scheduler gave up on it.

A thread cannot be killed: a cancelled or timed-out attempt keeps running
until it returns. What it can be told is checked where it touches nbflow,
which for a chatty step is every write of its output. The scheduler marks
the thread running an attempt with a liveness check (the attempt still holds
its step's token); an adapter that receives the thread's writes calls
`stop_if_abandoned()`, which raises `AttemptAbandoned` once the attempt is
cancelled, timed out or superseded, so the step's loop stops at its next
print.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_local = threading.local()


class AttemptAbandoned(BaseException):
    """Raised in an abandoned attempt's thread at its next output.

    A BaseException, like KeyboardInterrupt, so that user code's
    `except Exception` does not swallow it and loop on.
    """


@contextmanager
def attempt_running(step: str, attempt: int, live: Callable[[], bool]) -> Iterator[None]:
    """Mark this thread as running `attempt` of `step` while `live()` says it is still wanted."""
    previous = getattr(_local, "current", None)
    _local.current = (step, attempt, live)
    try:
        yield
    finally:
        _local.current = previous


def abandoned() -> bool:
    """True if this thread runs an attempt the scheduler abandoned (an executor waiting on a remote
    body polls it, to stop that body)."""
    current = getattr(_local, "current", None)
    return current is not None and not current[2]()


def stop_if_abandoned() -> None:
    """Raise `AttemptAbandoned` if this thread runs an attempt the scheduler abandoned; else nothing."""
    current = getattr(_local, "current", None)
    if current is not None and not current[2]():
        step, attempt, _ = current
        raise AttemptAbandoned(f"step {step!r}: attempt {attempt} was cancelled or timed out; "
                               "stopped at its next output")
