"""What the widget's browser side needs of each step, as small JSON-ready rows.

Kept apart from ipywidgets so the batching and the row format are testable
without a kernel: the widget sends only these rows (a few numbers per step)
and the browser derives counts, progress, colours and the table from them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..core import events as ev
from ..core.status import StepStatus

ERROR_CHARS = 300
#: At most one update per this many seconds, whatever the event rate.
INTERVAL = 0.1


def step_row(status: StepStatus) -> list[Any]:
    """[state, duration s or None, attempts, computed|restored|'', first error line]."""
    detail = status.error or status.reason or ""
    line = detail.splitlines()[0][:ERROR_CHARS] if detail else ""
    duration = round(status.duration, 3) if status.duration is not None else None
    return [status.state.value, duration, status.attempts, status.source, line]


def step_rows(statuses: Mapping[str, StepStatus]) -> dict[str, list[Any]]:
    return {name: step_row(status) for name, status in statuses.items()}


def time_saved(statuses: Mapping[str, StepStatus]) -> float:
    return round(sum(s.time_saved or 0.0 for s in statuses.values()), 3)


class Coalescer:
    """Turns a stream of events into at most one `flush()` per INTERVAL.

    The first event after a quiet period flushes after `delay` (so a single
    state change shows promptly); later ones ride on the pending flush. A
    flow's end flushes immediately, so the final picture is exact.
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

    def __call__(self, event: ev.Event) -> None:
        final = isinstance(event, ev.FlowFinished)
        with self._lock:
            if self._scheduled and not final:
                return
            self._scheduled = True
            delay = 0.0 if final else max(0.0, self._last + self._interval - self._clock())
        self._call_later(delay, self._run)

    def _run(self) -> None:
        with self._lock:
            if not self._scheduled:
                return  # an immediate final flush already ran
            self._scheduled = False
            self._last = self._clock()
        self._flush()
