"""`python -m nbflow.demo`: execute the quickstart notebook end to end.

Runs `notebooks/quickstart.ipynb` (or a notebook given on the command line)
in a real kernel with nbclient, writes the executed copy, and prints what
`%flow status` printed in it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbflow.demo", description=__doc__)
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT, help="notebook to run")
    parser.add_argument("-o", "--output", type=Path, default=Path("out") / "quickstart.ipynb",
                        help="where to write the executed copy (default: out/quickstart.ipynb)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    if not args.notebook.exists():
        print(f"nbflow.demo: no notebook at {args.notebook}", file=sys.stderr)
        return 2
    notebook = nbformat.read(args.notebook, as_version=4)
    # Checkpoints go beside the executed copy, not into the source tree; a
    # second demo run restores every step and reports the time saved.
    os.environ.setdefault("NBFLOW_STORE", str((args.output.parent / ".nbflow").resolve()))
    client = NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(args.notebook.parent)}})
    started = time.perf_counter()
    try:
        client.execute()
        failed = None
    except CellExecutionError as error:
        failed = str(error).strip().splitlines()[-1]
    elapsed = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, args.output)

    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.strip() == "%flow status":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    print(output["text"], end="")
    print(f"\nexecuted {args.notebook.name} in {elapsed:.1f}s; wrote {args.output}")
    if failed:
        print(f"nbflow.demo: the notebook failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
