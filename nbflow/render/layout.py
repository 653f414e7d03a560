"""Graphviz layout without surprises.

The `graphviz` Python package only writes DOT; laying it out needs an
executable. nbflow depends on the `graphviz-pure` wheel, which ships one for
every platform it has wheels for, so a plain `pip install` draws graphs; a
`dot` on PATH is the fallback. The executable is looked up next to the
running Python first, because a kernel started from a kernelspec often has
no virtualenv `bin/` on its PATH.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from ..core.errors import NbflowError

CANDIDATES = ("graphviz-pure", "dot")
TIMEOUT = 120.0


class GraphvizNotFound(NbflowError, RuntimeError):
    """No Graphviz executable: the graph cannot be laid out."""


@functools.cache
def find_executable() -> str:
    """The Graphviz executable to run, or GraphvizNotFound with the fix."""
    folders = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    for name in CANDIDATES:
        for folder in folders:
            found = shutil.which(name, path=folder)
            if found:
                return found
        found = shutil.which(name)
        if found:
            return found
    raise GraphvizNotFound("no Graphviz executable found: `pip install graphviz-pure` (or install Graphviz's `dot`)")


def render(source: str, fmt: str = "svg") -> bytes:
    """Lay out DOT `source` and return the drawing in `fmt` (svg, png, ...)."""
    if fmt == "dot":
        return source.encode()
    executable = find_executable()
    result = subprocess.run([executable, f"-T{fmt}"], input=source.encode(), capture_output=True,
                            timeout=TIMEOUT, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise NbflowError(f"graphviz ({Path(executable).name} -T{fmt}) failed: "
                          f"{message[-1] if message else f'exit code {result.returncode}'}")
    return result.stdout


def render_svg(source: str) -> str:
    """SVG text without the XML prolog, ready to embed in HTML or a notebook output."""
    text = render(source, "svg").decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text
