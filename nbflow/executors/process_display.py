"""`display()` inside a worker process: rich data goes back to the step's cell, as a thread step's would.

No IPython shell runs in a worker, and IPython's own `display()` only prints
without one. So each worker points `display()` (the function a body imports
from `IPython.display`, and the builtin `display` IPython adds in a kernel)
at a formatter of its own, and sends the formatted bundle (`text/html`, `image/png`, ...) back on
its pipe; the kernel publishes it from the attempt's thread, which nbflow
routes to the step's cell.
"""

from __future__ import annotations

import base64
import builtins
import os
from collections.abc import Callable
from typing import Any

Send = Callable[[dict[str, Any], dict[str, Any]], None]


def install(send: Send) -> None:
    """Make `display()` in this process call `send(data, metadata)`; nothing when IPython is not installed."""
    if os.environ.get("MPLBACKEND", "").startswith("module://matplotlib_inline"):
        os.environ["MPLBACKEND"] = "agg"  # the kernel's inline backend needs its shell; figures are displayed
    try:
        import IPython.display as public
        from IPython.core import display_functions
        from IPython.core.formatters import DisplayFormatter
    except ImportError:
        return
    formatter = DisplayFormatter()
    formatter.formatters["image/png"].for_type_by_name("matplotlib.figure", "Figure", _png)

    def display(*objs: Any, include: Any = None, exclude: Any = None, metadata: dict[str, Any] | None = None,
                transient: Any = None, display_id: Any = None, raw: bool = False, clear: bool = False,
                **kwargs: Any) -> None:
        for obj in objs:
            if raw:
                data, meta = dict(obj), dict(metadata or {})
            else:
                data, meta = formatter.format(obj, include=include, exclude=exclude)
                meta = {**meta, **(metadata or {})}
            if data:
                send(_encoded(data), meta)

    # Pickled by reference as IPython's own: a body binding it (`from IPython.display import display as
    # show`) sends back the kernel's display, not this closure over the worker's pipe.
    display.__module__, display.__qualname__ = display_functions.__name__, "display"
    display_functions.display = display
    public.display = display
    builtins.display = display  # type: ignore[attr-defined]  # as IPython makes it a builtin in a kernel


def _png(figure: Any) -> str | None:
    """As the kernel's inline backend formats a figure: base64 PNG."""
    from IPython.core.pylabtools import print_figure

    data: str | None = print_figure(figure, "png", base64=True)
    return data


def _encoded(data: dict[str, Any]) -> dict[str, Any]:
    """Binary data (an `Image`'s PNG) as base64 text, as Jupyter sends it and nbflow's cell outputs hold it."""
    return {mime: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
            for mime, value in data.items()}
