"""An earlier run of this notebook that was interrupted: said once by the kernel, and kept by the widget.

When a kernel dies mid-run (kill -9, a crash, out of memory), its run has
no end in the manifest. The next kernel's flow reads that once, when it
starts, from the manifest's own query (`Manifest.interruption`), so the
user learns which steps did not finish: the first `%%step` cell of the
session prints the line, and the graph widget's header shows it (see
docs/guide/reliability.md).
"""

from __future__ import annotations

import logging

from ..store.manifest import Manifest

logger = logging.getLogger("nbflow")


class PreviousRun:
    """The line about the interrupted previous run of the flow, or "" when the previous run ended."""

    def __init__(self, manifest: Manifest) -> None:
        try:
            found = manifest.interruption()
        except Exception as error:  # a manifest that cannot be read says nothing here; it warns elsewhere
            logger.info("nbflow: could not read the previous run: %s", error)
            found = None
        #: what the widget shows
        self.line: str = found.text() if found is not None else ""
        self._told = not self.line

    def tell_once(self) -> str | None:
        """The line for the session's first `%%step` cell (None after that, or when there is nothing to say)."""
        if self._told:
            return None
        self._told = True
        return f"nbflow: {self.line}"
