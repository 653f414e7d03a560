"""`python -m nbflow.demo`: the main job on its embedded default, the quickstart notebook.

The same as `nbflow run out/source/quickstart.ipynb out/quickstart.ipynb`:
papermill executes the notebook with nbflow's engine, waits for every step,
writes the executed copy (each step's output in its cell, the final graph as
SVG) and prints the summary. A second run restores the steps whose key
still matches and reports the time saved. Extra arguments go to `nbflow run`.

The notebook ships inside the wheel (`nbflow/notebooks/`, copied from the
repository's `notebooks/` at build time), so the demo works from an
installed package; an editable install has no such copy and reads the
source tree's. Either way it is first copied to `out/source/`, so its store
(checkpoints and manifest, `.nbflow/` beside it) lives under `out/` in the
working directory: nothing is written into the package, which may be
read-only, or into the source tree.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Traversable

NOTEBOOK = "quickstart.ipynb"
#: The one source copy, beside the package in a checkout (what editable installs use).
SOURCE = Path(__file__).resolve().parent.parent / "notebooks" / NOTEBOOK
OUTPUT = Path("out")


def quickstart() -> Traversable:
    """The quickstart notebook: the package's copy, else the source tree's."""
    shipped = resources.files("nbflow") / "notebooks" / NOTEBOOK
    if shipped.is_file():
        return shipped
    if SOURCE.is_file():
        return SOURCE
    raise FileNotFoundError(f"nbflow.demo: {NOTEBOOK} is neither in the package nor at {SOURCE}")


def main(argv: list[str] | None = None) -> None:
    from .cli import main as cli

    argv = list(sys.argv[1:] if argv is None else argv)
    source = OUTPUT / "source" / NOTEBOOK
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(quickstart().read_bytes())
    cli.main(args=["run", str(source), str(OUTPUT / NOTEBOOK), *argv], prog_name="nbflow")


if __name__ == "__main__":
    main()
