"""What the REST API answers, read from the notebooks' manifests (no tornado here, so it is testable alone).

A notebook's manifest is ``.nbflow/manifest.sqlite`` beside it (also when its
checkpoints go to a configured store: the manifest stays on local disk), and
its flow there is named after the notebook's file name (the kernel's default;
a kernel started with NBFLOW_FLOW_NAME records under that name instead, which
the server cannot know). Every answer reuses the one status schema
(`StepStatus.to_json`).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.states import State
from ..store.manifest.readonly import ReadOnlyManifest
from ..store.manifest.records import RunRecord
from ..store.manifest.schema import ManifestError
from ..store.store import DEFAULT_FOLDER, MANIFEST

#: Version of the JSON answers (a field added keeps it; a field changed or removed bumps it).
API_VERSION = 1
#: Folders visited by one listing at most, so a server over a huge tree answers in bounded time.
MAX_FOLDERS = 20_000
_SKIP = {"node_modules", "__pycache__", "site-packages"}


class NotFound(LookupError):
    """No such notebook below the root, or a path that leaves it: the API says 404 either way."""


def notebook_at(root: Path, relative: str) -> Path:
    """The notebook at `relative` (a URL path, '/'-separated) below `root`, or NotFound.

    Refused alike, so an answer tells nothing about what lies outside the
    root: `..`, absolute paths, hidden folders (Jupyter hides them too), a
    symlink leading out, anything that is not an existing ``.ipynb`` file.
    """
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or "\\" in relative or any(
            part in ("", "..", ".") or part.startswith(".") for part in relative.split("/")):
        raise NotFound(f"no notebook {relative!r} below the server root")
    top = root.resolve()
    path = (top / pure).resolve()
    if not path.is_relative_to(top) or path.suffix != ".ipynb" or not path.is_file():
        raise NotFound(f"no notebook {relative!r} below the server root")
    return path


def list_flows(root: Path) -> dict[str, Any]:
    """Every notebook below `root` whose folder's store has a flow of its name: its last run, counts, time saved."""
    top = root.resolve()
    found: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    visited = 0
    for folder, dirs, files in os.walk(top):
        visited += 1
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP)
        if visited > MAX_FOLDERS:
            dirs.clear()
            continue
        notebooks = sorted(f for f in files if f.endswith(".ipynb"))
        manifest = Path(folder) / DEFAULT_FOLDER / MANIFEST
        if not notebooks or not manifest.is_file():
            continue
        try:
            with ReadOnlyManifest(manifest) as reader:
                flows = set(reader.flows())
                for name in notebooks:
                    stem = name[: -len(".ipynb")]
                    if stem in flows:
                        relative = (Path(folder) / name).relative_to(top).as_posix()
                        found.append(_summary(reader, stem, relative))
        except ManifestError as error:
            problems.append({"folder": Path(folder).relative_to(top).as_posix() or ".", "error": str(error)})
    return {"version": API_VERSION, "flows": found, "problems": problems, "truncated": visited > MAX_FOLDERS}


def flow_detail(root: Path, relative: str) -> dict[str, Any]:
    """One notebook's steps as its manifest last recorded them (state, attempts, durations, errors, provenance)."""
    notebook = notebook_at(root, relative)
    manifest = notebook.parent / DEFAULT_FOLDER / MANIFEST
    if not manifest.is_file():
        raise NotFound(f"{relative}: no nbflow store beside it")
    flow = notebook.stem
    with ReadOnlyManifest(manifest, flow) as reader:
        if flow not in reader.flows():
            raise NotFound(f"{relative}: its store has no run of it")
        data = _summary(reader, flow, relative)
        cells = {spec.name: spec.cell for spec in reader.load_specs()}
        steps = []
        for record in reader.latest():
            row: dict[str, Any] = {**record.status.to_json(), "cell": cells.get(record.status.name),
                                   "run_id": record.run_id, "updated": record.updated}
            steps.append(row)
    data["steps"] = steps
    return data


def _summary(reader: ReadOnlyManifest, flow: str, relative: str) -> dict[str, Any]:
    latest = reader.latest(flow)
    runs = reader.runs(1, flow_name=flow, per_session=True)
    counts = Counter(r.status.state.value for r in latest)
    saved = sum(r.status.time_saved or 0.0 for r in latest if r.status.state is State.RESTORED)
    return {"path": relative, "flow": flow, "total": len(latest), "counts": dict(counts),
            "time_saved": round(saved, 3), "last_run": _run(runs[0]) if runs else None}


def _run(run: RunRecord) -> dict[str, Any]:
    return {"id": run.id, "started": run.started, "finished": run.finished, "duration": run.duration,
            "interrupted": run.interrupted, "counts": dict(run.counts)}
