"""Folders of notebooks with real nbflow stores, recorded by real Flows: what the REST API tests read."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nbflow.core.flow import Flow
from nbflow.store.store import open_store


def notebook(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def record(path: Path, cells: list[tuple[str, str, str]], *, runs: int = 1) -> None:
    """Run `cells` ((cell id, %%step header, body)) as the kernel would, `runs` times, into the notebook's store."""
    notebook(path)
    for _ in range(runs):
        store = open_store(path.parent, flow_name=path.stem)
        flow = Flow({}, cache=store)
        flow.subscribe(store.manifest)
        try:
            for order, (cell, header, body) in enumerate(cells):
                flow.add_cell(header, body, cell=cell)
                store.manifest.save_spec(header.split()[0], header, body, cell, order)
            flow.run()
            flow.wait(timeout=60, raise_on_failure=False)
        finally:
            flow.close()
            store.close()


def make_root(base: Path) -> Path:
    """root/ with a.ipynb and b.ipynb sharing a store, sub/c.ipynb, a notebook without a store, a hidden
    folder's store, and a link to a notebook outside the root (whose store is beside it, outside)."""
    root = base / "root"
    record(root / "a.ipynb", [("cell-one", "one", "x = 1"),
                              ("cell-two", "two --after one", "raise ValueError('bad input\\nmore')")])
    record(root / "b.ipynb", [("cell-b", "only", "y = 2")], runs=2)
    record(root / "sub" / "c.ipynb", [("cell-c", "deep", "z = 3")])
    notebook(root / "plain.ipynb")
    record(root / ".hidden" / "h.ipynb", [("cell-h", "secret", "s = 1")])
    record(base / "outside" / "e.ipynb", [("cell-e", "outer", "o = 1")])
    os.symlink(base / "outside" / "e.ipynb", root / "link.ipynb")
    return root


def manifest_in_the_way(folder: Path, kind: str) -> tuple[Path, str, str]:
    """Put "a folder" or "a corrupt file" where `folder`'s manifest goes: (its path, the reason, the aside label).

    A folder holds a file of the user's, to check it is renamed, never deleted.
    """
    folder.mkdir(exist_ok=True)
    manifest = folder / "manifest.sqlite"
    if kind == "a folder":  # once silently nested into (.nbflow/manifest.sqlite/manifest.sqlite)
        manifest.mkdir()
        (manifest / "notes.txt").write_text("the user's")
        return manifest, "is a folder, not a database file", "not-a-file"
    manifest.write_bytes(b"this is not an SQLite database" * 100)
    return manifest, "is damaged (file is not a database)", "corrupt"


def check_kept_aside(aside: Path, kind: str) -> None:
    """What `manifest_in_the_way` put there is still there, under its new name."""
    if kind == "a folder":
        assert (aside / "notes.txt").read_text() == "the user's"  # kept, renamed, never deleted
    else:
        assert aside.read_bytes().startswith(b"this is not an SQLite database")
