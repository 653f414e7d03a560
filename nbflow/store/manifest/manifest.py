"""`Manifest`: the recorder, a background writer and the queries over one SQLite file.

How it batches, locks and survives forks is described in the package's
docstring (`nbflow/store/manifest/__init__.py`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from nbflow.core import events as ev

from ..notice import warn_user
from . import specs
from .liveness import this_writer
from .reading import Reads
from .recorder import Recorder, SpecSave
from .schema import ManifestError, connect, create_schema, is_busy
from .writer import write_batch

logger = logging.getLogger("nbflow")

DEFAULT_NAME = "manifest.sqlite"
MEMORY = ":memory:"
_EVENT_FLUSH_WAIT = 2.0  # seconds the FlowFinished flush may wait for the file's lock

T = TypeVar("T")


class Manifest(Reads):
    """The store's SQLite record of runs, steps, attempts, provenance and specs.

    `path` is the database file, or a folder (the store) to hold
    `manifest.sqlite`; a folder named `manifest.sqlite` is moved aside. Subscribe it to a `Flow` and close it when done
    (pending rows are also written at interpreter exit).
    """

    def __init__(self, path: str | os.PathLike[str], flow_name: str = "flow", *, batch_size: int = 512,
                 flush_interval: float | None = 1.0, busy_timeout: float = 10.0, retries: int = 5) -> None:
        if not isinstance(flow_name, str) or not flow_name:
            raise ValueError(f"flow_name: expected a non-empty string, got {flow_name!r}")
        target = Path(path)
        #: ":memory:": a manifest for this process only (the store is off; see `store/disabled.py`)
        self.in_memory = str(path) == MEMORY
        if not self.in_memory and target.is_dir() and target.name != DEFAULT_NAME:
            target = target / DEFAULT_NAME  # a store folder; a folder named manifest.sqlite is in the way
        self.path = target
        self.flow_name = flow_name
        self.session = secrets.token_hex(8)
        self._writer = this_writer()
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = flush_interval
        self.busy_timeout = busy_timeout
        self.retries = max(0, int(retries))
        #: Write transactions committed by this instance (schema, flushes, specs).
        self.commits = 0
        self._io = threading.RLock()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._recorder = Recorder()
        self._run_ids: dict[int, int] = {}  # run number -> runs.id, once written
        self._first_dirty: float | None = None
        self._flush_now = False
        self._flusher: threading.Thread | None = None
        self._warned = False
        self._open()
        _LIVE.add(self)
        ref = weakref.ref(self)
        self._atexit = lambda: _flush_at_exit(ref)
        atexit.register(self._atexit)

    def __repr__(self) -> str:
        return f"Manifest({str(self.path)!r}, flow_name={self.flow_name!r}, session={self.session!r})"

    # -- opening and transactions --------------------------------------------------------

    def _open(self) -> None:
        if not self.in_memory and self.path.is_dir() and not self.path.is_symlink():
            self._move_aside("is a folder, not a database file", "not-a-file")  # a link is refused below
        try:
            self._open_file()
        except ManifestError as error:
            if not isinstance(error.__cause__, sqlite3.DatabaseError) or isinstance(
                    error.__cause__, sqlite3.OperationalError):
                raise
            self._move_aside(f"is damaged ({error.__cause__})", "corrupt")
            self._closed = False
            self._open_file()

    def _move_aside(self, problem: str, label: str) -> None:
        """Keep what is in the way for inspection (renamed, never deleted), warn the user, start a new one."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.{label}-{stamp}")
        for n in range(2, 1000):  # a second move within the same second must not replace the first
            if not any(os.path.lexists(f"{aside}{suffix}") for suffix in ("", "-wal", "-shm")):
                break
            aside = self.path.with_name(f"{self.path.name}.{label}-{stamp}-{n}")
        try:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        except OSError as error:
            raise ManifestError(f"the manifest {self.path} {problem} and cannot be moved aside: {error}",
                                str(self.path)) from error
        warn_user(f"the manifest {self.path} {problem}; moved it to {aside.name} and started a new one",
                  stacklevel=4)

    def _open_file(self) -> None:
        if self.in_memory:
            self._conn = self._connect()
            self._transaction(lambda conn: create_schema(conn, self.path))
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created here so it is 0600 (it holds tracebacks); SQLite gives -wal and -shm the same mode.
        try:
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as error:
            raise ManifestError(f"cannot create the manifest {self.path}: {error}", str(self.path)) from error
        for suffix in ("", "-wal", "-shm"):  # SQLite follows links: a planted one would be written through
            if os.path.islink(f"{self.path}{suffix}"):
                raise ManifestError(f"the manifest {self.path}{suffix} is a symbolic link; nbflow writes only "
                                    "inside its store (remove it to go on)", str(self.path))
        self._conn = self._connect()
        try:
            self._transaction(lambda conn: create_schema(conn, self.path))
        except BaseException:
            self._conn.close()
            self._closed = True
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._retrying(lambda: connect(self.path, self.busy_timeout, wal=not self.in_memory))
        except sqlite3.DatabaseError as error:  # not a database: raised by the first pragma
            raise ManifestError(f"manifest {self.path}: {error}", str(self.path)) from error

    def _connection(self) -> sqlite3.Connection:
        """The connection (call under `_io`), opened again after a fork."""
        self._check_open()
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _retrying(self, work: Callable[[], T], retries: int | None = None) -> T:
        retries = self.retries if retries is None else retries
        delay = 0.02
        for attempt in range(retries + 1):
            try:
                return work()
            except sqlite3.OperationalError as error:
                if not is_busy(error) or attempt == retries:
                    raise ManifestError(f"manifest {self.path}: {error}", str(self.path)) from error
            time.sleep(delay * (1.0 + random.random()))  # jittered backoff between tries, not a barrier
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def _transaction(self, work: Callable[[sqlite3.Connection], T], write: bool = True,
                     timeout: float | None = None) -> T:
        """Run `work` in one transaction (IMMEDIATE for writes), retried while the database is busy.

        With `timeout`, wait at most about that long for the lock (one try).
        """
        with self._io:
            conn = self._connection()

            def once() -> T:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
                return result

            if timeout is not None:
                conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            try:
                result = self._retrying(once, retries=0 if timeout is not None else None)
            except sqlite3.Error as error:
                raise ManifestError(f"manifest {self.path}: {error}", str(self.path)) from error
            finally:
                if timeout is not None:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if write:
                self.commits += 1
            return result

    # -- recording -------------------------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        """Record one event (cheap: memory only; rows are written in batches)."""
        if self._closed:
            return
        with self._lock:
            if not self._recorder.record(event):
                return
            if self._first_dirty is None:
                self._first_dirty = time.monotonic()
            if self._recorder.pending >= self.batch_size:
                self._flush_now = True
            self._wake_writer()
        if isinstance(event, ev.FlowFinished):
            # Written before `flow.wait()` returns, never holding nbflow's loop thread for long.
            self._flush_quietly(timeout=min(_EVENT_FLUSH_WAIT, self.busy_timeout))

    def _wake_writer(self) -> None:
        """Make sure the background writer will write what is pending. Under `_lock`."""
        if self.flush_interval is None and not self._flush_now:
            return
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(target=self._flush_loop, name="nbflow-manifest", daemon=True)
            self._flusher.start()
        self._wake.notify()

    def flush(self, timeout: float | None = None) -> None:
        """Write every pending row now, in one transaction. Raises `ManifestError` if it cannot.

        `timeout`: give up after about this many seconds of waiting for locks
        (the rows stay pending) instead of `busy_timeout` with retries.
        """
        if not self._io.acquire(timeout=-1 if timeout is None else timeout):
            raise ManifestError(f"manifest {self.path}: busy writing", str(self.path))
        try:
            if self._closed:
                return
            with self._lock:
                batch = self._recorder.take()
                self._first_dirty = None
                self._flush_now = False
            if batch is None:
                return
            known = dict(self._run_ids)
            try:
                ids = self._transaction(
                    lambda conn: write_batch(conn, self.flow_name, self.session, batch, known, self._writer),
                    timeout=timeout)
            except BaseException:
                with self._lock:
                    self._recorder.put_back(batch)
                    self._first_dirty = time.monotonic()
                    self._wake.notify()  # the background writer tries again after `flush_interval`
                raise
            self._run_ids.update(ids)
            self._warned = False
        finally:
            self._io.release()

    def _flush_quietly(self, timeout: float | None = None) -> None:
        """Flush from the event path, a read or the background thread: log, never raise."""
        try:
            self.flush(timeout)
        except Exception as error:
            if not self._warned:
                self._warned = True
                logger.warning("nbflow: could not write the manifest (will retry): %s", error)

    def _flush_loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed:
                    if self._first_dirty is not None:
                        if self._flush_now:
                            break
                        if self.flush_interval is not None:
                            left = self._first_dirty + self.flush_interval - time.monotonic()
                            if left <= 0:
                                break
                            self._wake.wait(left)
                            continue
                    self._wake.wait()
                if self._closed:
                    return
            self._flush_quietly()

    def close(self) -> None:
        """Write what is pending, stop the background writer and close the file. Idempotent."""
        if self._closed:
            return
        try:
            self.flush()
        except ManifestError as error:
            logger.warning("nbflow: closing the manifest with unwritten rows: %s", error)
        with self._io:
            with self._wake:
                self._closed = True
                self._wake.notify_all()
                flusher = self._flusher
            if self._conn is not None:
                self._conn.close()
            self._conn = None
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join(timeout=5.0)
        atexit.unregister(self._atexit)

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ManifestError(f"the manifest {self.path} is closed", str(self.path))

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, memory and session; the parent's connection is left alone.

        Closing the inherited connection could disturb the parent's locks, so it
        is kept unused; the rows not yet written are the parent's to write.
        """
        _ABANDONED.append(self._conn)
        self._conn = None
        self.session = secrets.token_hex(8)
        self._writer = this_writer()
        self._io = threading.RLock()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._recorder = Recorder()
        self._run_ids.clear()
        self._first_dirty = None
        self._flush_now = False
        self._flusher = None

    # -- specs -------------------------------------------------------------------------------

    def save_spec(self, name: str, header: str, code: str | None, cell: str | None, order: int) -> None:
        """Store (or replace) the `%%step` cell of step `name`: header text (after `%%step`), body, cell id.

        Written by the next flush, with the events (reads flush first), so a define costs no transaction.
        """
        self._check_open()
        with self._lock:
            self._recorder.save_spec(SpecSave(name, header, code, cell, int(order), time.time()))
            if self._first_dirty is None:
                self._first_dirty = time.monotonic()
            self._wake_writer()

    def remove_spec(self, name: str) -> bool:
        """Forget a stored step spec; False if there was none."""
        with self._lock:
            pending = self._recorder.drop_spec(name)
        self._flush_quietly(timeout=self.busy_timeout)
        removed = self._transaction(lambda c: specs.remove_spec(c, self.flow_name, name))
        with self._lock:
            pending = self._recorder.drop_spec(name) or pending  # a failed flush may have put a save of it back
        return removed or pending

    # -- reading -------------------------------------------------------------------------------

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Flush (so this process reads its own events), then read in one snapshot."""
        self._check_open()
        self._flush_quietly(timeout=self.busy_timeout)
        return self._transaction(work, write=False)


_LIVE: weakref.WeakSet[Manifest] = weakref.WeakSet()
_ABANDONED: list[sqlite3.Connection | None] = []  # inherited over a fork: never used, never closed


def _after_fork_in_child() -> None:
    for manifest in list(_LIVE):
        manifest._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_at_exit(ref: weakref.ref[Manifest]) -> None:
    manifest = ref()
    if manifest is not None and not manifest._closed:
        manifest._flush_quietly()
