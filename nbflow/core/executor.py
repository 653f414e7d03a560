"""The executor interface: where a step's body runs.

The scheduler hands an executor a zero-argument job and a `done` callback;
the executor runs the job somewhere and calls `done(result, error)` from
whatever thread it likes. Concurrency limits are the scheduler's, read from
`capacity`, so an abandoned (timed-out or cancelled) attempt frees its slot
even though its thread cannot be killed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Done = Callable[[Any, "BaseException | None"], None]


class Executor(Protocol):
    """Runs jobs; `capacity` is how many attempts may run on it at once."""

    name: str
    capacity: int

    def submit(self, job: Callable[[], Any], done: Done) -> None:
        """Run `job` and then call `done(result, None)` or `done(None, error)`."""

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop idle workers; never blocks on abandoned attempts beyond `timeout`."""
