"""NbflowWarnings in the kernel as one line, `nbflow: <message>` on stderr.

Python shows a warning as `path/store.py:176: NbflowWarning: …` followed by
the source line: two lines, one of them about nbflow's code rather than the
user's notebook. A warning nbflow gives already says what happened and what
it does about it (docs/guide/reliability.md), so in a kernel it is shown as
the one line. Only the `NbflowWarning` category is touched; every other
warning goes to the `warnings.showwarning` this replaced, unchanged.
Installed by `%load_ext nbflow`, removed by `%unload_ext nbflow`.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable
from typing import Any, TextIO

from ..core.errors import NbflowWarning

PREFIX = "nbflow: "
_installed = False
#: the `warnings.showwarning` ours hands other warnings to; None while ours is not hooked in
_replaced: Callable[..., Any] | None = None
_AT_IMPORT = warnings.showwarning


def one_line(message: Warning | str) -> str:
    """The line shown for an NbflowWarning: its message on one line, prefixed once with `nbflow: `."""
    text = " ".join(str(message).splitlines())
    return text if text.startswith(PREFIX) else PREFIX + text


def _showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
    if _installed and issubclass(category, NbflowWarning):
        stream = sys.stderr if file is None else file
        with contextlib.suppress(OSError, AttributeError, ValueError):  # no usable stderr: as `warnings` does
            stream.write(one_line(message) + "\n")
        return
    (_replaced or _AT_IMPORT)(message, category, filename, lineno, file, line)


def install() -> None:
    """Show NbflowWarnings as one line from now on (a second call changes nothing)."""
    global _installed, _replaced
    if _replaced is None and warnings.showwarning is not _showwarning:
        _replaced = warnings.showwarning
        warnings.showwarning = _showwarning
    _installed = True


def uninstall() -> None:
    """Back to how Python shows them. Under a wrapper installed after ours, ours stays and passes everything on."""
    global _installed, _replaced
    _installed = False
    if warnings.showwarning is _showwarning and _replaced is not None:
        warnings.showwarning = _replaced
        _replaced = None
