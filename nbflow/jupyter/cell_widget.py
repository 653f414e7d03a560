"""The Output widget a step cell shows its step's output in, and closing it again.

Each ipywidget gets a Layout widget of its own by default: a second comm and
a second model per step cell, for a layout nobody changes. Step cells share
one, which halves what a `%%step` cell costs in widgets.
"""

from __future__ import annotations

from typing import Any

_SHARED_LAYOUT: Any = None


def step_output_widget() -> Any:
    """A new Output widget for a step cell, sharing one Layout with every other."""
    global _SHARED_LAYOUT
    from ipywidgets import Layout, Output

    if _SHARED_LAYOUT is None or getattr(_SHARED_LAYOUT, "comm", None) is None:
        _SHARED_LAYOUT = Layout()
    return Output(layout=_SHARED_LAYOUT)


def close_widget(widget: Any) -> None:
    """Close an ipywidget and its own Layout (a widget too), so neither stays in the kernel; never the shared one."""
    layout = getattr(widget, "layout", None)
    widget.close()
    if layout is not None and layout is not _SHARED_LAYOUT and hasattr(layout, "close"):
        layout.close()
