"""Per-executor queues of ready attempts, started as each executor's capacity allows.

Capacity is counted here, not by the executors, so that an abandoned attempt
(timed out or cancelled) frees its slot at once although its thread runs on
(see `executor.py`). Called with the scheduler's lock held.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

from .executor import Executor
from .record import StepRecord


class Dispatcher:
    """Ready attempts waiting for a slot, and the slots in use, per executor."""

    def __init__(self, executors: Mapping[str, Executor], start: Callable[[StepRecord], None]) -> None:
        self.executors = dict(executors)
        self._start = start  # starts an attempt; it calls `started` once the slot is taken
        self._running = dict.fromkeys(self.executors, 0)
        self._ready: dict[str, deque[tuple[StepRecord, object]]] = {n: deque() for n in self.executors}

    def enqueue(self, step: StepRecord, token: object) -> None:
        """Queue an attempt of `step`; it starts unless `step.token` has moved on by then."""
        executor = step.spec.executor
        self._ready[executor].append((step, token))
        self.dispatch(executor)

    def dispatch(self, executor: str) -> None:
        """Start queued attempts on `executor` while it has free slots."""
        ready = self._ready[executor]
        capacity = self.executors[executor].capacity
        while ready and self._running[executor] < capacity:
            step, token = ready.popleft()
            if step.token is token:
                self._start(step)

    def dispatch_all(self) -> None:
        for executor in self.executors:
            self.dispatch(executor)

    def started(self, executor: str) -> None:
        self._running[executor] += 1

    def released(self, executor: str) -> None:
        """An attempt on `executor` finished or was abandoned: its slot is free."""
        self._running[executor] -= 1
