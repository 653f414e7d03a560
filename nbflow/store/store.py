"""A notebook's store: signed checkpoints plus the SQLite manifest, as the scheduler's Cache.

`open_store` picks the location (an explicit URL, `NBFLOW_STORE`, or
`.nbflow/` beside the notebook) and, if a configured store cannot be reached,
warns once and falls back to the local default; if that cannot be used
either (read-only, a file in the way), it warns once and the steps run
without checkpoints. Nothing fails for a store alone.
The manifest always lives on local disk (SQLite locking does not work on
object stores).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.cache import Previous, Receipt, Refused, Restored, Saved, Snapshot
from ..core.digest import Digest
from ..core.keys import Part
from ..core.namespace import Outputs
from ..core.protocol import STORE
from ..core.spec import StepSpec
from .checkpoint import CheckpointStore, step_folder
from .disabled import DisabledCheckpoints
from .errors import CheckpointMissing, CheckpointRefused, CheckpointWriteError
from .manifest import MEMORY, Manifest
from .notice import warn_user
from .outputlog import OutputLog, log_name
from .shared import SharedWriter, adopt, drop

DEFAULT_FOLDER = ".nbflow"
MANIFEST = "manifest.sqlite"


class Store:
    """Checkpoints under `root` (a folder or fsspec URL) and a manifest under `local_root`."""

    def __init__(self, root: str | os.PathLike[str], *, flow_name: str = "flow",
                 local_root: str | os.PathLike[str] | None = None,
                 watch_root: str | os.PathLike[str] | None = None) -> None:
        self.root = str(root)
        self.flow_name = flow_name
        #: why checkpoints are off (see `Store.disabled`); None for a working store
        self.disabled_reason: str | None = None
        if "://" not in self.root and Path(root).exists() and not Path(root).is_dir():
            raise NotADirectoryError(f"{root} is a file, not a folder")
        self.checkpoints: CheckpointStore | DisabledCheckpoints = CheckpointStore(root)
        self.checkpoints.ensure()
        manifest_root = Path(local_root) if local_root is not None else Path(root)
        self.manifest = Manifest(manifest_root / MANIFEST, flow_name)
        self.local_root = manifest_root
        self.watch_root = Path(watch_root) if watch_root is not None else Path.cwd()

    @classmethod
    def disabled(cls, reason: str, *, flow_name: str = "flow",
                 watch_root: str | os.PathLike[str] | None = None) -> Store:
        """A store that keeps nothing: steps run without checkpoints, runs are recorded in memory only.

        The whole printed text of each step goes to a temporary folder for the session.
        """
        store = cls.__new__(cls)
        store.root = "(no store)"
        store.flow_name = flow_name
        store.disabled_reason = reason
        store.checkpoints = DisabledCheckpoints(reason)
        store.manifest = Manifest(MEMORY, flow_name)
        store.local_root = Path(tempfile.mkdtemp(prefix="nbflow-output-"))
        store.watch_root = Path(watch_root) if watch_root is not None else Path.cwd()
        return store

    def output_log(self, step: str) -> OutputLog:
        """The file that keeps the whole text `step` prints: `<local root>/<step>/output.<notebook>.txt`."""
        return OutputLog(self.local_root / step_folder(step) / log_name(self.flow_name))

    # -- the Cache protocol ------------------------------------------------------

    def restore(self, spec: StepSpec, key: str, live: Mapping[str, Any] | None = None) -> Restored | Refused | None:
        try:
            loaded = self.checkpoints.load(spec.name, key, live=live)
        except CheckpointMissing:
            return None
        except CheckpointRefused as error:
            return Refused(error.reason)
        header = loaded.header
        assert header is not None
        outputs = Outputs(dict(loaded.outputs), header.deleted)
        return Restored(outputs, loaded.path, loaded.seconds, _digests(header.digests),
                        tuple(Part(*p) for p in header.parts), header.mutated, header.duration, header.created,
                        loaded.size, header.displays, header.attempts)

    def save(self, spec: StepSpec, key: str, snapshot: Snapshot, live: Mapping[str, Any] | None = None) -> Saved:
        computed: dict[str, Digest | None] = {}

        def digests() -> dict[str, Any]:  # called by the writer once the buffers are hashed
            found = snapshot.digests() if callable(snapshot.digests) else snapshot.digests
            computed.update(found)
            return {name: None if d is None else [d.hex, sorted(d.reached), d.volatile] for name, d in found.items()}

        try:
            written = self.checkpoints.write(
                spec.name, key, snapshot.outputs.values, deleted=snapshot.outputs.deleted,
                mutated=snapshot.mutated, digests=digests, duration=snapshot.duration, live=live,
                displays=snapshot.displays, attempts=snapshot.attempts,
                parts=[(p.kind, p.name, p.digest, p.detail) for p in snapshot.parts])
        except CheckpointWriteError as error:
            return Saved(None, not_restorable=str(error), digests=computed or None)
        return Saved(written.path, written.size, written.seconds, written.reason, computed)

    # -- checkpoints a Dask worker writes (dask_store=shared, see shared.py) ---------------

    def shared_writer(self) -> SharedWriter | None:
        """What a worker needs to write this store's checkpoints: where, and the signing secret."""
        checkpoints = self.checkpoints
        if not isinstance(checkpoints, CheckpointStore):
            return None  # checkpoints are off
        return SharedWriter(checkpoints.root, checkpoints.signing_secret(), checkpoints.chunk_size)

    def adopt(self, spec: StepSpec, key: str, receipt: Receipt) -> Saved:
        assert isinstance(self.checkpoints, CheckpointStore)
        written = adopt(self.checkpoints, spec.name, key, receipt.token, receipt.size, receipt.seconds)
        return Saved(written.path, written.size, written.seconds, receipt.not_restorable,
                     _digests(receipt.digests), written_by=receipt.written_by)

    def drop(self, spec: StepSpec, key: str, receipt: Receipt) -> None:
        if isinstance(self.checkpoints, CheckpointStore):
            drop(self.checkpoints, spec.name, key, receipt.token)

    def discard(self, spec: StepSpec, key: str) -> None:
        self.checkpoints.remove(spec.name, key)

    def exists(self, spec: StepSpec, key: str) -> bool:
        try:
            return self.checkpoints.exists(spec.name, key)
        except (OSError, ValueError):
            return False

    def previous(self, spec: StepSpec) -> Previous | None:
        """The newest checkpoint of the step (by file time) whose header can be read."""
        try:
            entries = sorted(self.checkpoints.list(spec.name), key=lambda e: e.mtime, reverse=True)
        except (OSError, ValueError):
            return None
        for entry in entries[:5]:
            try:
                info = self.checkpoints.info(spec.name, entry.key)
            except (CheckpointMissing, CheckpointRefused, OSError):
                continue
            return Previous(info.key, tuple(Part(*p) for p in info.parts), info.created)
        return None

    def close(self) -> None:
        self.manifest.close()


def _digests(stored: Mapping[str, Any]) -> dict[str, Digest | None]:
    """The header's digests back as `Digest`s (None for values that could not be hashed)."""
    found: dict[str, Digest | None] = {}
    for name, entry in stored.items():
        if entry is None:
            found[name] = None
        else:
            hex_, reached, volatile = entry
            found[name] = Digest(bytes.fromhex(hex_), frozenset(reached), bool(volatile))
    return found


def open_store(folder: str | os.PathLike[str], *, flow_name: str, configured: str | None = None) -> Store:
    """The store for a notebook in `folder`: `configured`, else NBFLOW_STORE, else `folder/.nbflow`."""
    default = Path(folder) / DEFAULT_FOLDER
    wanted = configured or STORE.read() or str(default)
    if wanted != str(default):
        try:
            return Store(wanted, flow_name=flow_name, local_root=default, watch_root=folder)
        except Exception as error:  # any reason at all: fall back, once, loudly
            warn_user(f"store {wanted!r} cannot be reached ({type(error).__name__}: {error}); "
                  f"using {default} instead")
    try:
        return Store(default, flow_name=flow_name, watch_root=folder)
    except Exception as error:  # read-only, a file in the way, a manifest that cannot be opened: degrade
        reason = f"the store {default} cannot be used ({type(error).__name__}: {error})"
        warn_user(f"{reason}; steps run without checkpoints")
        return Store.disabled(reason, flow_name=flow_name, watch_root=folder)
