"""Progress of the final wait, from kernel to terminal, and the run's summary.

The kernel's `%flow wait` (in a batch run with progress on) publishes small
JSON displays under PROGRESS_MIME; the engine turns them into a tqdm bar
and keeps them out of the notebook. The status rows under STATUS_MIME go
into the notebook's metadata, where `nbflow run` reads its summary.
"""

from __future__ import annotations

import sys
from typing import Any

from ..core.status import StepStatus, StepStatusJSON

PROGRESS_MIME = "application/vnd.nbflow.progress+json"
STATUS_MIME = "application/vnd.nbflow.status+json"


def progress_report(statuses: dict[str, StepStatus]) -> dict[str, Any]:
    from ..core.states import ACTIVE, TERMINAL

    return {
        "done": sum(1 for s in statuses.values() if s.state in TERMINAL),
        "total": len(statuses),
        "running": [n for n, s in statuses.items() if s.state in ACTIVE][:5],
    }


def status_rows(statuses: dict[str, StepStatus]) -> list[StepStatusJSON]:
    """The run's statuses for the notebook's metadata, in the one status schema (read back with `from_json`)."""
    return [s.to_json() for s in statuses.values()]


class StepProgress:
    """A tqdm bar over steps (on stderr), created on the first report."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def update(self, report: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=report.get("total", 0), desc="steps", unit="step", file=sys.stderr)
        bar = self._bar
        bar.total = report.get("total", bar.total)
        bar.n = report.get("done", 0)
        running = report.get("running") or []
        bar.set_postfix_str(", ".join(running), refresh=False)
        bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
