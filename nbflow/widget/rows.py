"""What the widget's browser side needs of each step, and how often it gets it.

Kept apart from ipywidgets so the batching and the rows are testable without
a kernel: the widget sends each step's summary status (`StepStatus.to_json`
with ``detail=False``) and the browser derives counts, progress, colours and
the table from them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from ..core import events as ev
from ..core.status import StepStatus, StepStatusJSON

#: At most one update per this many seconds, whatever the event rate.
INTERVAL = 0.1


def step_rows(statuses: Mapping[str, StepStatus]) -> dict[str, StepStatusJSON]:
    """The summary form of each step's status (the one status schema), keyed by step."""
    return {name: status.to_json(detail=False) for name, status in statuses.items()}


def time_saved(statuses: Mapping[str, StepStatus]) -> float:
    return round(sum(s.time_saved or 0.0 for s in statuses.values() if s.source == "restored"), 3)


class Coalescer:
    """Turns a stream of events into at most one `flush()` per INTERVAL.

    The first event after a quiet period flushes at once (so a single state
    change shows promptly); later ones ride on the pending flush. A flow's end
    is no exception: a flush reads the state when it runs, so the last one
    shows the final picture exactly. Every `%%step` cell starts and ends a
    run: ending each with a flush of its own would send one update per cell
    run, not one per interval.
    """

    def __init__(self, call_later: Callable[[float, Callable[[], object]], None],
                 flush: Callable[[], object], interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._call_later = call_later
        self._flush = flush
        self._interval = interval
        self._clock = clock  # the clock `call_later` counts in
        self._lock = threading.Lock()
        self._scheduled = False
        self._last = float("-inf")  # so the very first event flushes at once

    def __call__(self, _event: ev.Event) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
            delay = max(0.0, self._last + self._interval - self._clock())
        self._call_later(delay, self._run)

    def _run(self) -> None:
        with self._lock:
            self._scheduled = False
            self._last = self._clock()
        self._flush()
