"""A notebook's store: signed checkpoints plus the SQLite manifest, as the scheduler's Cache.

`open_store` picks the location (an explicit URL, `NBFLOW_STORE`, or
`.nbflow/` beside the notebook) and, if a configured store cannot be reached,
warns once and falls back to the local default: nothing fails for that alone.
The manifest always lives on local disk (SQLite locking does not work on
object stores).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.cache import Key, Refused, Restored, Saved
from ..core.errors import NbflowWarning
from ..core.namespace import Outputs
from ..core.spec import StepSpec
from .checkpoint import CheckpointStore
from .errors import CheckpointMissing, CheckpointRefused, CheckpointWriteError
from .keys import step_key
from .manifest import Manifest

logger = logging.getLogger("nbflow")
DEFAULT_FOLDER = ".nbflow"
MANIFEST = "manifest.sqlite"


class Store:
    """Checkpoints under `root` (a folder or fsspec URL) and a manifest under `local_root`."""

    def __init__(self, root: str | os.PathLike[str], *, flow_name: str = "flow",
                 local_root: str | os.PathLike[str] | None = None,
                 watch_root: str | os.PathLike[str] | None = None) -> None:
        self.root = str(root)
        self.flow_name = flow_name
        self.checkpoints = CheckpointStore(root)
        self.checkpoints.ensure()
        manifest_root = Path(local_root) if local_root is not None else Path(root)
        self.manifest = Manifest(manifest_root / MANIFEST, flow_name)
        self.watch_root = Path(watch_root) if watch_root is not None else Path.cwd()

    # -- the Cache protocol ------------------------------------------------------

    def key(self, spec: StepSpec, upstream: Mapping[str, str | None], inputs: Mapping[str, Any]) -> Key:
        result = step_key(spec, upstream, inputs, self.watch_root)
        return Key(result.key, result.reason)

    def restore(self, spec: StepSpec, key: str) -> Restored | Refused | None:
        try:
            loaded = self.checkpoints.load(spec.name, key)
        except CheckpointMissing:
            return None
        except CheckpointRefused as error:
            return Refused(str(error))
        self.manifest.record_restore(spec.name, key, loaded.path, loaded.seconds, size=loaded.size)
        provenance = self.manifest.provenance(spec.name)
        saved = provenance.time_saved if provenance is not None else None
        computed = provenance.computed_at if provenance is not None else None
        return Restored(Outputs(dict(loaded.outputs)), loaded.path, loaded.seconds, saved, computed)

    def save(self, spec: StepSpec, key: str, outputs: Outputs, duration: float) -> Saved:
        try:
            written = self.checkpoints.write(spec.name, key, outputs.values)
        except CheckpointWriteError as error:
            return Saved(None, not_restorable=str(error))
        self.manifest.record_checkpoint(spec.name, key, written.path, written.size, written.seconds)
        return Saved(written.path, written.size, written.seconds, written.reason)

    def close(self) -> None:
        self.manifest.close()


def _warn(message: str) -> None:
    """Called on the user's thread (opening the store), so a warning reaches them."""
    logger.warning("nbflow: %s", message)
    warnings.warn(message, NbflowWarning, stacklevel=3)


def open_store(folder: str | os.PathLike[str], *, flow_name: str, configured: str | None = None) -> Store:
    """The store for a notebook in `folder`: `configured`, else NBFLOW_STORE, else `folder/.nbflow`."""
    default = Path(folder) / DEFAULT_FOLDER
    wanted = configured or os.environ.get("NBFLOW_STORE") or str(default)
    if wanted != str(default):
        try:
            return Store(wanted, flow_name=flow_name, local_root=default, watch_root=folder)
        except Exception as error:  # any reason at all: fall back, once, loudly
            _warn(f"store {wanted!r} cannot be reached ({type(error).__name__}: {error}); "
                  f"using {default} instead")
    return Store(default, flow_name=flow_name, watch_root=folder)
