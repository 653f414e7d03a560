"""Progress of the final wait, from kernel to terminal.

The kernel's `%flow wait` (in a batch run with progress on) publishes small
JSON displays under PROGRESS_MIME (`core/reporting.py` builds them); the
engine turns them into this tqdm bar and keeps them out of the notebook.
"""

from __future__ import annotations

import sys
from typing import Any


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
