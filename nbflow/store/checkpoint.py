"""`CheckpointStore`: a step's outputs saved to, and loaded from, signed checkpoint files.

One file per (step, cache key) at `<root>/<step>/<key>.ckpt` (names
percent-encoded when needed). The file format and its checks are in
`format.py`; moving the bytes with hashing alongside in `transfer.py`; what is
pickled and how in `pickling.py`; local disk vs fsspec in `fs.py`; what the
store answers (`WriteResult`, `LoadResult`, `CheckpointInfo`,
`CheckpointEntry`) in `results.py`, re-exported here.

Guarantees, for the scheduler built on top:

* `write` is atomic: readers see the previous file or the complete new one,
  never a partial one, even if the writer is killed (local disk: temp file,
  fsync, rename, fsync of the folder). A failed write raises
  `CheckpointWriteError` and leaves the previous checkpoint as it was.
* A checkpoint written in another process (`write(..., staged=token)`, a
  Dask worker: `shared.py`) stays under a temp name until `adopt_staged`
  checks its size and header and renames it into place; `drop_staged`
  removes one nobody adopts.
* `read` unpickles nothing until the whole file has passed its checksum and
  signature with this user's secret, and the header names the requested step and
  key and a compatible Python (same major.minor) and cloudpickle (same major).
  Any failure is a `CheckpointRefused` with a one-line reason naming the step;
  the caller runs the step again.
* Unpicklable outputs do not fail the write: they are named in
  `WriteResult.unpicklable`, the rest is saved, and `read` refuses the
  checkpoint as not restorable unless asked for the partial outputs.

Throughput: buffers are written straight from the objects' memory and read
into freshly allocated buffers that the unpickled objects then own; chunk
hashing runs on a thread pool alongside the I/O.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

import cloudpickle

from . import format as fmt
from .errors import CheckpointMissing, CheckpointRefused, CheckpointWriteError
from .fs import Backend, backend_for, is_temp_name
from .pickling import dump_outputs, load_outputs
from .results import CheckpointEntry, CheckpointInfo, LoadResult, WriteResult
from .secret import load_secret
from .transfer import read_file, read_header, write_file

__all__ = ["CheckpointEntry", "CheckpointInfo", "CheckpointStore", "LoadResult", "WriteResult", "step_folder"]

SUFFIX = ".ckpt"
_MAX_NAME = 200


def _encode(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"checkpoint {what} must be a non-empty string, got {name!r}")
    encoded = quote(name, safe="")
    if encoded.startswith("."):  # never hidden, never "." or "..", never a temp name
        encoded = "%2E" + encoded[1:]
    if len(encoded) > _MAX_NAME:
        raise ValueError(f"checkpoint {what} is too long ({len(encoded)} > {_MAX_NAME})")
    return encoded


def step_folder(step: str) -> str:
    """The folder name of a step's files under a store's root."""
    return _encode(step, "step")


class CheckpointStore:
    """Checkpoints under `root`: a local folder or any fsspec URL (`memory://x`, `s3://b/p`).

    `secret` defaults to this user's secret (`secret.load_secret()`, read on
    first use). `chunk_size` is the hashing unit; it is recorded in each file,
    so stores with different chunk sizes read each other's files.

    Methods are safe to call from several threads and processes at once.
    """

    def __init__(
        self,
        root: Any,
        *,
        secret: bytes | None = None,
        chunk_size: int = fmt.DEFAULT_CHUNK,
    ) -> None:
        if not fmt.MIN_CHUNK <= chunk_size <= fmt.MAX_CHUNK:
            raise ValueError(f"chunk_size must be in [{fmt.MIN_CHUNK}, {fmt.MAX_CHUNK}]")
        self._fs: Backend = backend_for(root)
        self._secret_value = secret
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"CheckpointStore({self.root!r})"

    @property
    def root(self) -> str:
        return self._fs.display(self._fs.root)

    def signing_secret(self) -> bytes:
        """The key this store signs with: for a writer elsewhere that must sign the same way (`shared.py`)."""
        return self._secret()

    def _secret(self) -> bytes:
        if self._secret_value is None:
            self._secret_value = load_secret()
        return self._secret_value

    def _path(self, step: str, key: str) -> str:
        return self._fs.join(_encode(step, "step"), _encode(key, "key") + SUFFIX)

    def staged_path(self, step: str, key: str, token: str) -> str:
        """The staged name of a checkpoint written elsewhere: a temp name, so `list` skips it and
        `sweep_temp_files` removes it if nobody adopts it."""
        if not token.isalnum():
            raise ValueError(f"a staged checkpoint's token must be letters and digits, got {token!r}")
        return self._fs.join(_encode(step, "step"), f".{_encode(key, 'key')}{SUFFIX}.{token}.staged.tmp")

    def adopt_staged(self, step: str, key: str, token: str, size: int) -> WriteResult:
        """Move a staged checkpoint into place, after checking it is the file the receipt describes.

        Only its size and header are read (its bytes are verified when it is
        loaded, as for any checkpoint); the rename is as atomic as `write`'s.
        Raises OSError when it is not there (storage this process does not
        share) or is not `size` bytes written for `step` and `key`. The
        result's `seconds` is the time the move took.
        """
        staged = self.staged_path(step, key, token)
        handle = self._fs.open_read(staged)
        try:
            found = handle.size
            try:
                header = read_header(handle)
            except fmt.FormatError as error:
                raise OSError(f"the staged checkpoint {self._fs.display(staged)} is damaged: {error}") from None
        finally:
            handle.close()
        if found != size or header.step != step or header.key != key:
            raise OSError(f"the staged checkpoint {self._fs.display(staged)} is not the one the worker wrote")
        started = time.perf_counter()
        self._fs.rename(staged, self._path(step, key))
        return WriteResult(step, key, self.path_for(step, key), size, time.perf_counter() - started,
                           dict(header.unpicklable))

    def drop_staged(self, step: str, key: str, token: str) -> bool:
        """Remove a staged checkpoint nobody will adopt; False if there was none."""
        return self._fs.remove(self.staged_path(step, key, token))

    def path_for(self, step: str, key: str) -> str:
        """Where the checkpoint of `step` with `key` is (or would be)."""
        return self._fs.display(self._path(step, key))

    def ensure(self) -> None:
        """Create the root folder (0700) if needed: raises `OSError` if the store is unreachable."""
        self._fs.makedirs(self._fs.root)

    def exists(self, step: str, key: str) -> bool:
        """A file is there; says nothing about whether it will verify."""
        return self._fs.exists(self._path(step, key))

    def remove(self, step: str, key: str) -> bool:
        """Delete one checkpoint; False if there was none."""
        return self._fs.remove(self._path(step, key))

    # -- writing --------------------------------------------------------

    def write(self, step: str, key: str, outputs: Mapping[str, Any], *, deleted: Iterable[str] = (),
              mutated: Iterable[str] = (),
              digests: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
              parts: Iterable[tuple[str, str, str, str]] = (), duration: float | None = None,
              live: Mapping[str, Any] | None = None,
              displays: Sequence[Mapping[str, Any]] = (), attempts: int | None = None,
              staged: str | None = None) -> WriteResult:
        """Save `outputs` ({name: value}) as the checkpoint of `step` with cache `key`.

        The keyword arguments are recorded for the restore: names the step
        deleted and changed in place, the key's parts and the run's duration
        in the header, each value's digest and what the step displayed
        (`displays`, JSON-ready nbformat outputs) in the footer, signed with
        the rest. `digests` may be a
        function: it is called once the buffers are written and hashed, so
        content hashes of the outputs reuse the writer's piece digests.

        Replaces any checkpoint with the same step and key atomically. Values
        that cannot be pickled are left out and named in the result, which is
        then not `restorable`. Raises `CheckpointWriteError` if the file
        cannot be written (the previous checkpoint stays readable). With
        `staged` (a token) the file goes to a staged name beside the final one,
        for `adopt_staged` to move into place (a checkpoint written on a worker).
        """
        started = time.perf_counter()
        final = self.staged_path(step, key, staged) if staged is not None else self._path(step, key)
        secret = self._secret()
        pickled = dump_outputs(outputs, live=live)
        try:
            header = fmt.Header(
                step=step,
                key=key,
                python=platform.python_version(),
                cloudpickle=cloudpickle.__version__,
                created=time.time(),
                chunk=self.chunk_size,
                pickle_size=len(pickled.stream),
                buffer_sizes=tuple(len(b) for b in pickled.buffers),
                outputs=pickled.names,
                unpicklable=pickled.unpicklable,
                deleted=tuple(deleted),
                mutated=tuple(mutated),
                parts=tuple(tuple(p) for p in parts),  # type: ignore[misc]
                duration=duration,
                attempts=attempts,
            )
            self._fs.makedirs(self._fs.join(_encode(step, "step")))

            def footer() -> bytes:
                return fmt.encode_footer(digests() if callable(digests) else digests or {}, displays)

            size = write_file(self._fs, final, header, pickled.stream, pickled.buffers, secret, footer)
        except OSError as exc:
            raise CheckpointWriteError(
                step, key, str(exc), errno=exc.errno, path=self._fs.display(final)
            ) from exc
        finally:
            pickled.release()
        return WriteResult(
            step,
            key,
            self._fs.display(final),
            size,
            time.perf_counter() - started,
            dict(pickled.unpicklable),
        )

    # -- reading --------------------------------------------------------

    def read(self, step: str, key: str, *, partial: bool = False,
             live: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The outputs saved for `step` with `key`, after every check passed.

        Raises `CheckpointMissing` if there is none and `CheckpointRefused` if
        it must not be loaded. A checkpoint with unpicklable outputs is refused
        as not restorable unless `partial=True`, which returns the saved ones.
        """
        return self.load(step, key, partial=partial, live=live).outputs

    def load(self, step: str, key: str, *, partial: bool = False,
             live: Mapping[str, Any] | None = None) -> LoadResult:
        """Like `read`, with the file's size and the load time (for provenance).

        `live` is the namespace the outputs go into, against which references
        to the notebook's own classes and functions are resolved.
        """
        started = time.perf_counter()
        path = self._path(step, key)
        shown = self._fs.display(path)
        secret = self._secret()
        try:
            handle = self._fs.open_read(path)
        except FileNotFoundError:
            raise CheckpointMissing(step, key, shown) from None
        except OSError as exc:
            raise CheckpointRefused(step, key, f"cannot read: {exc}", shown) from exc
        try:
            header, stream, buffers = read_file(handle, secret)
        except fmt.FormatError as exc:
            raise CheckpointRefused(step, key, str(exc), shown) from None
        except OSError as exc:
            raise CheckpointRefused(step, key, f"cannot read: {exc}", shown) from exc
        except MemoryError:
            raise CheckpointRefused(
                step, key, f"not enough memory to load {handle.size} bytes", shown
            ) from None
        finally:
            handle.close()
        reason = self._mismatch(header, step, key)
        if reason is None and header.unpicklable and not partial:
            parts = (f"{n}: {why}" for n, why in header.unpicklable.items())
            reason = "not restorable: " + "; ".join(parts)
        if reason is not None:
            raise CheckpointRefused(step, key, reason, shown)
        try:
            outputs = load_outputs(stream, buffers, live)
        except Exception as exc:  # verified, yet unloadable here
            raise CheckpointRefused(
                step, key, f"cannot unpickle: {type(exc).__name__}: {exc}", shown
            ) from exc
        if set(outputs) != set(header.outputs):
            raise CheckpointRefused(step, key, "outputs differ from the header", shown)
        return LoadResult(
            step,
            key,
            shown,
            handle.size,
            time.perf_counter() - started,
            outputs,
            dict(header.unpicklable),
            header,
        )

    @staticmethod
    def _mismatch(header: fmt.Header, step: str, key: str) -> str | None:
        """Why a verified checkpoint is still not for this step, key and interpreter."""
        if header.step != step or header.key != key:
            return f"written for step {header.step!r} key {header.key!r}"
        here = platform.python_version()
        if header.python.split(".")[:2] != here.split(".")[:2]:
            return f"written by Python {header.python}, this is Python {here}"
        ours = cloudpickle.__version__
        if header.cloudpickle.split(".")[0] != ours.split(".")[0]:
            return f"written with cloudpickle {header.cloudpickle}, this is {ours}"
        return None

    # -- looking around -------------------------------------------------

    def info(self, step: str, key: str) -> CheckpointInfo:
        """The header of one checkpoint, unverified (cheap: reads only the header)."""
        path = self._path(step, key)
        shown = self._fs.display(path)
        try:
            handle = self._fs.open_read(path)
        except FileNotFoundError:
            raise CheckpointMissing(step, key, shown) from None
        try:
            header = read_header(handle)
        except fmt.FormatError as exc:
            raise CheckpointRefused(step, key, str(exc), shown) from None
        finally:
            handle.close()
        return CheckpointInfo(
            header.step,
            header.key,
            shown,
            handle.size,
            header.created,
            header.python,
            header.cloudpickle,
            header.outputs,
            dict(header.unpicklable),
            header.parts,
        )

    def list(self, step: str | None = None) -> list[CheckpointEntry]:
        """Every stored checkpoint (or those of one step), from names and sizes only."""
        folders = [_encode(step, "step")] if step is not None else self._fs.subdirs(self._fs.root)
        found = []
        for folder in folders:
            for entry in self._fs.listdir(self._fs.join(folder)):
                if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                    found.append(
                        CheckpointEntry(
                            unquote(folder),
                            unquote(entry.name[: -len(SUFFIX)]),
                            entry.size,
                            entry.mtime,
                            self._fs.display(self._fs.join(folder, entry.name)),
                        )
                    )
        return sorted(found, key=lambda e: (e.step, e.key))

    def sweep_temp_files(self, older_than: float = 3600.0) -> int:
        """Delete temporary files left by writers that died; returns how many.

        Only files older than `older_than` seconds, so live writers are safe.
        """
        now = time.time()
        removed = 0
        for folder in self._fs.subdirs(self._fs.root):
            for entry in self._fs.listdir(self._fs.join(folder)):
                if is_temp_name(entry.name) and now - entry.mtime > older_than:
                    removed += self._fs.remove(self._fs.join(folder, entry.name))
        return removed
