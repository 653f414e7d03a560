"""Notebooks built in a temp folder, and the real `nbflow` / `papermill` commands run on them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

BIN = Path(sys.executable).parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(*args: str, cwd: Path) -> Result:
    done = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=180)
    return Result(done.returncode, done.stdout, done.stderr)


def write_notebook(path: Path, cells: list[str], parameters: str | None = None) -> Path:
    """A notebook of code cells; `parameters` becomes a cell tagged `parameters` first."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    nbformat.write(nb, str(path))
    return path


def count(folder: Path, step: str) -> int:
    """How many times a step ran: each run appends a line to `<step>.runs`."""
    file = folder / f"{step}.runs"
    return len(file.read_text().splitlines()) if file.exists() else 0


def marker(step: str) -> str:
    return f"open({step + '.runs'!r}, 'a').write('x\\n')"


def cell_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(str(out.data.get("text/plain", "")))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


@pytest.fixture
def diamond(tmp_path: Path) -> Path:
    """a -> (b, c) -> d; b reads parameter n, c reads parameter m; each step counts its runs."""
    return write_notebook(tmp_path / "diamond.ipynb", [
        "%load_ext nbflow",
        f"%%step a\n{marker('a')}\nbase = 10\nprint(f'a made {{base}}')",
        f"%%step b --after a\n{marker('b')}\nleft = base * n\nprint(f'b made {{left}}')",
        f"%%step c --after a\n{marker('c')}\nright = base + m\nprint(f'c made {{right}}')",
        f"%%step d --after b,c\n{marker('d')}\ntotal = left + right\nprint(f'd made {{total}}')",
        "print('plain cell ran')",
    ], parameters="n = 2\nm = 1")
