"""What a kernel in a batch run reports to the runner: progress while it waits, the status rows at the end.

The kernel publishes these under `protocol.PROGRESS_MIME` and
`protocol.STATUS_MIME`; the batch engine reads them back. Both sides import
them from here, so neither imports the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .errors import FlowTimeout
from .status import StepStatus, StepStatusJSON

#: how often `%flow wait` reports progress in a batch run
REPORT_INTERVAL = 0.25


def progress_report(statuses: dict[str, StepStatus]) -> dict[str, Any]:
    from .states import ACTIVE, TERMINAL

    return {
        "done": sum(1 for s in statuses.values() if s.state in TERMINAL),
        "total": len(statuses),
        "running": [n for n, s in statuses.items() if s.state in ACTIVE][:5],
    }


def status_rows(statuses: dict[str, StepStatus]) -> list[StepStatusJSON]:
    """The run's statuses for the notebook's metadata, in the one status schema (read back with `from_json`)."""
    return [s.to_json() for s in statuses.values()]


def wait_reporting(wait: Callable[[float], object], report: Callable[[], None], timeout: float | None,
                   interval: float = REPORT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
    """Wait in slices of `interval`, calling `report` before and after each slice.

    `wait(seconds)` is `Flow.wait` for the steps: it returns when they are
    done, raises FlowTimeout when the slice ends first, and raises FlowFailed
    (after a last report) when steps failed. Past `timeout` (None: no limit)
    this raises FlowTimeout naming the whole timeout, not the last slice.
    """
    deadline = None if timeout is None else clock() + timeout
    while True:
        report()
        slice_ = interval if deadline is None else max(0.0, min(interval, deadline - clock()))
        try:
            wait(slice_)
        except FlowTimeout as error:
            if deadline is not None and clock() >= deadline:
                raise FlowTimeout(timeout or 0.0, getattr(error, "unfinished", ())) from None
            continue
        finally:
            report()
        return
