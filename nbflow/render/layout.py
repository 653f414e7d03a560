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
import tempfile
from collections.abc import Sequence
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
    return _run([f"-T{fmt}"], source, f"-T{fmt}").stdout


def render_many(source: str, formats: Sequence[str], graph_attrs: dict[str, str] | None = None) -> dict[str, bytes]:
    """One layout of `source`, drawn in every format of `formats` (one Graphviz run, not one per format).

    `graph_attrs` are graph attributes given on the command line (`-Gsize=...`), defaults the DOT
    source itself does not set.
    """
    with tempfile.TemporaryDirectory(prefix="nbflow-render-") as folder:
        files = {fmt: Path(folder) / f"graph.{fmt}" for fmt in formats}
        args = [f"-G{key}={value}" for key, value in (graph_attrs or {}).items()]
        for fmt, file in files.items():
            args += [f"-T{fmt}", f"-o{file}"]
        _run(args, source, " ".join(f"-T{fmt}" for fmt in formats))
        return {fmt: file.read_bytes() for fmt, file in files.items()}


def _run(args: list[str], source: str, what: str) -> subprocess.CompletedProcess[bytes]:
    executable = find_executable()
    result = subprocess.run([executable, *args], input=source.encode(), capture_output=True,
                            timeout=TIMEOUT, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise NbflowError(f"graphviz ({Path(executable).name} {what}) failed: "
                          f"{message[-1] if message else f'exit code {result.returncode}'}")
    return result


def render_svg(source: str) -> str:
    """SVG text without the XML prolog, ready to embed in HTML or a notebook output."""
    return svg_text(render(source, "svg"))


def svg_text(data: bytes) -> str:
    text = data.decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text
