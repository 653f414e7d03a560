"""Telling the user about a store problem nbflow works around: one `NbflowWarning`, also logged.

Called on the user's thread (opening the store or its manifest), so the
warning reaches them: in a kernel it is one `nbflow: …` line under the cell
(see `nbflow/jupyter/warning_line.py`). The store never imports a front end:
a warning category from the core is the whole interface.
"""

from __future__ import annotations

import logging
import warnings

from ..core.errors import NbflowWarning

logger = logging.getLogger("nbflow")


def warn_user(message: str, stacklevel: int = 2) -> None:
    """Log `message` and warn it as an `NbflowWarning`; `stacklevel` counts from the caller, as in `warnings.warn`."""
    logger.warning("nbflow: %s", message)
    warnings.warn(message, NbflowWarning, stacklevel=stacklevel + 1)
