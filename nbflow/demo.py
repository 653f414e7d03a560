"""`python -m nbflow.demo`: the main job on its embedded default, the quickstart notebook.

The same as `nbflow run notebooks/quickstart.ipynb out/quickstart.ipynb
--store out/.nbflow`: papermill executes it with nbflow's engine, waits for
every step, writes the executed copy (each step's output in its cell, the
final graph as SVG) and prints the summary. Checkpoints go beside the
executed copy, not into the source tree; a second run restores every step
and reports the time saved. Extra arguments go to `nbflow run`.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


def main(argv: list[str] | None = None) -> None:
    from .cli import main as cli

    argv = list(sys.argv[1:] if argv is None else argv)
    output = Path("out")
    args = ["run", str(DEFAULT), str(output / "quickstart.ipynb"), "--store", str((output / ".nbflow").resolve())]
    cli.main(args=args + argv, prog_name="nbflow")


if __name__ == "__main__":
    main()
