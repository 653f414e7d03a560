"""A notebook executed unattended by nbclient keeps each step's output in the step's own cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook


def cell_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(str(out["data"].get("text/plain", "")))
    return "\n".join(parts)


def test_nbclient_run_puts_step_output_in_its_cell(tmp_path: Path) -> None:
    """Printed text and tracebacks of steps land in their own cells, also when the step finished late."""
    nb = new_notebook(cells=[
        new_code_cell("%load_ext nbflow"),
        new_code_cell("%%step early\nprint('early says hi')"),
        new_code_cell("%%step late --after early\nimport time\ntime.sleep(0.5)\nprint('late says hi')"),
        new_code_cell("%%step broken --on-fail continue\nraise KeyError('missing-key')"),
        new_code_cell("x = 1"),
        new_code_cell("%flow wait"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    early, late, broken, plain, wait = (cell_text(c) for c in nb.cells[1:])
    assert "early says hi" in early and "late says hi" not in early
    assert "late says hi" in late and "early says hi" not in late
    assert "KeyError" in broken and "missing-key" in broken
    for other in (plain, wait):
        assert "says hi" not in other and "missing-key" not in other
