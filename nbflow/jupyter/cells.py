"""Naming a notebook cell the way a user finds it: its position and first line.

The kernel knows a cell only by the id JupyterLab sends; a message that
names another cell (a step defined twice) reads that id's position from the
saved notebook, and shows the cell's first line so it can be found even when
the saved file is older than the open notebook.
"""

from __future__ import annotations

import json
from pathlib import Path


def describe_cell(cell_id: str | None, code: str | None, notebook: Path | None) -> str:
    """E.g. "cell 3 (`raw = load()`)"; "another cell (`raw = load()`)" when its position is unknown."""
    position = _position(cell_id, notebook)
    place = f"cell {position}" if position is not None else "another cell"
    line = first_line(code)
    return f"{place} (`{line}`)" if line else place


def first_line(code: str | None, limit: int = 60) -> str:
    """The first line with code on it, shortened to `limit` characters."""
    for line in (code or "").splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def _position(cell_id: str | None, notebook: Path | None) -> int | None:
    """1-based position of the cell with `cell_id` in the saved notebook; None if it cannot be found."""
    if not cell_id or notebook is None:
        return None
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    for index, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and cell.get("id") == cell_id:
            return index
    return None
