"""A step's rich displays for the detail pane: its tables and plots, not only its text.

The detail pane (the widget's, and the JupyterLab side panel's, which uses
the same `describe`) shows what a step displayed, computed or restored: an
image as an image, HTML (a DataFrame's table) in a sandboxed frame. Each
display is sent once in its richest form, and only the first few within a
size budget, so one pane message stays small whatever the step displayed;
the cell keeps them all (docs/guide/jupyterlab.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.protocol import HTML_MIME, PNG_MIME, SVG_MIME

JPEG_MIME = "image/jpeg"
#: Richest first: the one form of each display the pane shows.
PANE_MIMES = (PNG_MIME, JPEG_MIME, SVG_MIME, HTML_MIME)
MAX_PANE_DISPLAYS = 6
MAX_PANE_CHARS = 2_000_000


def pane_displays(outputs: Iterable[Mapping[str, Any]], *, limit: int = MAX_PANE_DISPLAYS,
                  budget: int = MAX_PANE_CHARS) -> tuple[list[dict[str, str]], int]:
    """`([{"mime", "data"}, ...], hidden)`: the first rich displays within `limit` and `budget`, and how many not."""
    shown: list[dict[str, str]] = []
    hidden = 0
    for output in outputs:
        data = output.get("data") or {}
        mime = next((m for m in PANE_MIMES if isinstance(data.get(m), (str, list))), None)
        if mime is None:
            continue  # text only: it is in the pane's text already
        value = data[mime]
        text = "".join(value) if isinstance(value, list) else value
        if len(shown) >= limit or len(text) > budget:
            hidden += 1
            continue
        budget -= len(text)
        shown.append({"mime": mime, "data": text})
    return shown, hidden
