"""The SQLite manifest of a store: every run, step and attempt, provenance, and the step specs.

One database file per store (``<store>/manifest.sqlite``) shared by every flow
(notebook) that uses the store, each under its own ``flow_name``, and by every
process that opens it (kernels, ``nbflow run``, ``nbflow status``).

Recording
---------
A `Manifest` is an event subscriber: ``flow.subscribe(manifest)``. Events only
update rows kept in memory (a dict look-up and a few attribute writes), and
the changed rows are written in one transaction when the flow finishes
(`FlowFinished`), when ``batch_size`` events have piled up, and at the latest
``flush_interval`` seconds after the first unwritten change (a background
thread), so a 1,000-step flow costs a handful of transactions, not 4,000, and
a kernel killed in the middle of a long run loses at most the last second.
`flush()`, `close()` and every read write what is pending first, so a process
always reads its own events. The flush on `FlowFinished` happens before
``flow.wait()`` returns (waiters fire after the events are delivered), so
after a wait the file is up to date for other processes too, unless the file
stayed locked for 2 s (then the background writer tries again; the event
thread is never held up longer).

The checkpoint layer adds what events do not carry: `record_checkpoint` after
writing a step's checkpoint and `record_restore` after loading one. Both are
buffered like events. Pass ``run=`` (the event's or scheduler's run number)
when known: events reach subscribers a little after they happen, so without
it the record goes to the newest run this manifest has seen for the step.
Records may arrive before the events of their run; they are kept when the
step's `StepWaiting` comes in.

One `Manifest` records one `Flow`: run numbers are the flow's. Each instance
has a random ``session`` id, so run 1 of two kernels are two different rows.

Concurrency
-----------
WAL mode (readers never block the writer, nor the writer readers),
``synchronous=NORMAL`` (no fsync per commit; a power cut may lose the last
commits, never corrupt the file), ``busy_timeout`` 10 s. Every write is one
short ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so
the busy handler applies and no deadlock can come from upgrading a read
lock), retried with jittered backoff while SQLite says the database is locked
or busy. A flush that still fails keeps its rows in memory for the next one
and logs a warning; recording never raises into the event bus.

One connection per `Manifest`, opened with ``check_same_thread=False`` and
used under a lock, rather than one connection per thread: events arrive on
nbflow's loop thread, records from worker threads and reads from the kernel
thread, all briefly; a single connection keeps one set of file handles that
`close()` really closes (per-thread connections outlive their threads and
cannot be closed from another one), and the same lock orders the flushes, so
an older snapshot of a row can never be written over a newer one. A process
forked with an open manifest reopens its connection (SQLite connections must
not cross a fork) under a new session.

The manifest must be on a local file system (SQLite's locking does not work
over network shares or object stores): for a store given as a remote fsspec
URL, callers should keep the manifest in the local fallback store.

Schema (version 1)
------------------
``meta(key, value)``: ``schema_version``. A newer version is refused.

``runs(id, flow, session, run, started, finished, counts)``: one row per run
of a flow in one session; ``counts`` is the JSON ``{state: n}`` of
`FlowFinished`. Unique on ``(flow, session, run)``.

``steps``: one row per step per run: ``run_id, flow, step, state, attempts,
started, ended, duration, error`` (first line), ``traceback, reason`` (skip,
cancel, upstream or stale reason), ``stale, outputs`` (JSON list),
``updated`` (time of the last state change), ``source`` (``computed`` or
``restored``), ``cache_key, checkpoint`` (path), ``checkpoint_size,
write_seconds, keyed`` (when the key was recorded), ``load_seconds,
original_seconds, time_saved``. Unique on ``(run_id, step)``.

``attempts(run_id, step, number, started, ended, error, timed_out)``.

``specs(flow, name, header, code, cell, ord, saved)``: the ``%%step`` header
text and body of each step, for ``%flow resume``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import random
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nbflow.core import events as ev
from nbflow.core.durations import format_duration
from nbflow.core.errors import NbflowError
from nbflow.core.header import parse_header
from nbflow.core.spec import StepSpec
from nbflow.core.states import TERMINAL, State
from nbflow.core.status import AttemptInfo, StepStatus

logger = logging.getLogger("nbflow")

SCHEMA_VERSION = 1
DEFAULT_NAME = "manifest.sqlite"
_EVENT_FLUSH_WAIT = 2.0  # seconds the FlowFinished flush may wait for the file's lock

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    flow TEXT NOT NULL,
    session TEXT NOT NULL,
    run INTEGER NOT NULL,
    started REAL,
    finished REAL,
    counts TEXT,
    UNIQUE (flow, session, run)
);
CREATE INDEX IF NOT EXISTS runs_by_flow ON runs (flow, started);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started REAL,
    ended REAL,
    duration REAL,
    error TEXT,
    traceback TEXT,
    reason TEXT,
    stale INTEGER NOT NULL DEFAULT 0,
    outputs TEXT,
    updated REAL NOT NULL,
    source TEXT,
    cache_key TEXT,
    checkpoint TEXT,
    checkpoint_size INTEGER,
    write_seconds REAL,
    keyed REAL,
    load_seconds REAL,
    original_seconds REAL,
    time_saved REAL,
    UNIQUE (run_id, step)
);
CREATE INDEX IF NOT EXISTS steps_by_step ON steps (flow, step, updated);
CREATE INDEX IF NOT EXISTS steps_by_key ON steps (step, cache_key);
CREATE TABLE IF NOT EXISTS attempts (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    step TEXT NOT NULL,
    number INTEGER NOT NULL,
    started REAL,
    ended REAL,
    error TEXT,
    timed_out INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step, number)
);
CREATE TABLE IF NOT EXISTS specs (
    flow TEXT NOT NULL,
    name TEXT NOT NULL,
    header TEXT NOT NULL,
    code TEXT,
    cell TEXT,
    ord INTEGER NOT NULL,
    saved REAL NOT NULL,
    PRIMARY KEY (flow, name)
);
"""

# Columns of `steps` written from a row kept in memory, in this order.
_PROGRESS = (
    "state", "attempts", "started", "ended", "duration", "error", "traceback", "reason", "stale",
    "outputs", "updated", "source",
)
_PROVENANCE = (
    "cache_key", "checkpoint", "checkpoint_size", "write_seconds", "keyed", "load_seconds",
    "original_seconds", "time_saved",
)
_COLUMNS = _PROGRESS + _PROVENANCE
_INSERT = (
    f"INSERT INTO steps (run_id, flow, step, {', '.join(_COLUMNS)}) "
    f"VALUES (?, ?, ?, {', '.join('?' * len(_COLUMNS))}) ON CONFLICT (run_id, step) DO UPDATE SET "
)
# A row this process holds in full: memory is the truth, every column is written.
_UPSERT = _INSERT + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)
# A record for an old run no longer in memory: only fill in what it brings.
_MERGE = _INSERT + ", ".join(
    [f"{c} = COALESCE(excluded.{c}, {c})" for c in (*_PROVENANCE, "source")]
)
_ORIGINAL = (
    "SELECT duration FROM steps WHERE step = ? AND cache_key = ? AND source = 'computed' "
    "AND duration IS NOT NULL ORDER BY updated DESC, id DESC LIMIT 1"
)
_STEP_FIELDS = "s.id, s.run_id, s.flow, s.step, r.session, r.run, " + ", ".join(f"s.{c}" for c in _COLUMNS)
_STEP_SELECT = f"SELECT {_STEP_FIELDS} FROM steps s JOIN runs r ON r.id = s.run_id"
# The newest row of each step of one flow (correlated sub-query on the index; no window functions).
_LATEST = (
    "WITH names AS (SELECT DISTINCT step FROM steps WHERE flow = :flow), "
    "latest AS (SELECT s.* FROM names n JOIN steps s ON s.id = ("
    "SELECT s2.id FROM steps s2 WHERE s2.flow = :flow AND s2.step = n.step "
    "ORDER BY s2.updated DESC, s2.id DESC LIMIT 1)) "
)


class ManifestError(NbflowError, OSError):
    """The manifest could not be opened, read or written (locked too long, newer schema, closed)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(" ".join(message.split()), path=path)


# -- what readers get -----------------------------------------------------------


AttemptRecord = AttemptInfo  # one attempt of a step in one run: the core's record, read back


@dataclass(frozen=True)
class StepRecord:
    """One step in one run, as the manifest knows it (times are wall-clock seconds)."""

    flow: str
    step: str
    run_id: int  # the `runs.id` of the run, unique in the store
    session: str
    run: int  # the flow's run number in that session (the events' `.run`)
    state: State
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    stale: bool = False
    outputs: tuple[str, ...] = ()
    updated: float | None = None
    source: str | None = None  # "computed" or "restored"
    key: str | None = None
    checkpoint: str | None = None
    size: int | None = None
    write_seconds: float | None = None
    keyed: float | None = None
    load_seconds: float | None = None
    original_seconds: float | None = None
    time_saved: float | None = None
    attempt_log: tuple[AttemptInfo, ...] = ()

    def status(self) -> StepStatus:
        """As the core's `StepStatus` (state `stale` when flagged), for `format_table`."""
        return StepStatus(
            name=self.step,
            state=State.STALE if self.stale else self.state,
            attempts=self.attempts,
            started=self.started,
            ended=self.ended,
            duration=self.duration,
            error=self.error,
            traceback=self.traceback,
            reason=self.reason,
            outputs=self.outputs,
            attempt_log=self.attempt_log,
        )


@dataclass(frozen=True)
class RunRecord:
    """One run of a flow in one session."""

    id: int
    flow: str
    session: str
    run: int
    started: float | None
    finished: float | None
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass(frozen=True)
class Provenance:
    """Where a step's current outputs come from (SPEC §11).

    `when` is when they were produced (computed) or loaded (restored);
    `computed_at` when the checkpointed outputs were originally computed, if
    the manifest knows. `time_saved` is `original_seconds - load_seconds` for
    a restore (negative if loading took longer than running) and 0 for a
    computed step.
    """

    step: str
    source: str  # "computed" or "restored"
    when: float | None
    run_id: int
    key: str | None = None
    checkpoint: str | None = None
    size: int | None = None
    computed_at: float | None = None
    original_seconds: float | None = None
    load_seconds: float | None = None
    time_saved: float = 0.0

    def describe(self) -> str:
        """One line for status tables: `restored 12:03:04 from PATH (saved 1m58s)`."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.when)) if self.when else "at an unknown time"
        if self.source == "restored":
            text = f"restored {when}"
            if self.checkpoint:
                text += f" from {self.checkpoint}"
            if self.original_seconds is not None and self.load_seconds is not None:
                text += f" (saved {format_duration(max(self.time_saved, 0.0))})"
            return text
        text = f"computed {when}"
        if self.original_seconds is not None:
            text += f" in {format_duration(self.original_seconds)}"
        if self.checkpoint:
            text += f", checkpoint {self.checkpoint}"
        return text


@dataclass(frozen=True)
class SpecRecord:
    """A stored `%%step` cell: enough to rebuild the step without running the cell."""

    flow: str
    name: str
    header: str  # the text after `%%step`
    code: str | None
    cell: str | None
    order: int
    saved: float

    def spec(self) -> StepSpec:
        """The step, parsed again with `parse_header` (raises `OptionError` if no longer valid)."""
        return parse_header(self.header, self.code, cell=self.cell)


# -- what the recorder keeps in memory ----------------------------------------------


@dataclass(eq=False)
class _Run:
    number: int
    started: float | None = None
    finished: float | None = None
    counts: dict[str, int] | None = None


@dataclass(eq=False)
class _Attempt:
    run: int
    step: str
    number: int
    started: float | None
    ended: float | None = None
    error: str | None = None
    timed_out: bool = False

    def values(self) -> tuple[Any, ...]:
        return (self.number, self.started, self.ended, self.error, int(self.timed_out))


@dataclass(eq=False)
class _Row:
    run: int
    step: str
    state: str
    updated: float
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    stale: bool = False
    outputs: tuple[str, ...] | None = None
    source: str | None = None
    key: str | None = None
    checkpoint: str | None = None
    size: int | None = None
    write_seconds: float | None = None
    keyed: float | None = None
    load_seconds: float | None = None
    original_seconds: float | None = None
    # Bookkeeping, not stored.
    evented: bool = False  # has seen an event (not only a checkpoint record)
    merge: bool = False  # an old run's row not held in full: merge, do not overwrite
    reset_attempts: bool = False  # re-run within the same run: drop the stored attempts
    open_attempt: _Attempt | None = None

    @property
    def time_saved(self) -> float | None:
        if self.original_seconds is None or self.load_seconds is None:
            return None
        return self.original_seconds - self.load_seconds

    def values(self) -> tuple[Any, ...]:
        return (
            self.state, self.attempts, self.started, self.ended, self.duration, self.error, self.traceback,
            self.reason, int(self.stale), None if self.outputs is None else json.dumps(list(self.outputs)),
            self.updated, self.source, self.key, self.checkpoint, self.size, self.write_seconds, self.keyed,
            self.load_seconds, self.original_seconds, self.time_saved,
        )


@dataclass
class _Batch:
    """What one flush takes out of memory (and puts back if the write fails)."""

    runs: dict[int, _Run]
    rows: dict[tuple[int, str], _Row]
    attempts: dict[tuple[int, str, int], _Attempt]
    resets: set[tuple[int, str]]
    events: int


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = text.strip().splitlines()
    return lines[0] if lines else None


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class Manifest:
    """The store's SQLite record of runs, steps, attempts, provenance and specs.

    `path` is the database file, or a folder (the store) to hold
    `manifest.sqlite`. Subscribe it to a `Flow` (``flow.subscribe(manifest)``)
    and close it when done (pending rows are also written at interpreter exit).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        flow_name: str = "flow",
        *,
        batch_size: int = 512,
        flush_interval: float | None = 1.0,
        busy_timeout: float = 10.0,
        retries: int = 5,
    ) -> None:
        if not isinstance(flow_name, str) or not flow_name:
            raise ValueError(f"flow_name: expected a non-empty string, got {flow_name!r}")
        target = Path(path)
        if target.is_dir():
            target = target / DEFAULT_NAME
        self.path = target
        self.flow_name = flow_name
        self.session = secrets.token_hex(8)
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = flush_interval
        self.busy_timeout = busy_timeout
        self.retries = max(0, int(retries))
        #: Write transactions committed by this instance (schema, flushes, specs).
        self.commits = 0

        # `_io` guards the connection and orders flushes; `_lock` guards the
        # in-memory rows. Order: `_io` before `_lock`, never the reverse.
        self._io = threading.RLock()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._conn: sqlite3.Connection | None = None
        self._closed = False

        self._runs: dict[int, _Run] = {}
        self._run_ids: dict[int, int] = {}  # run number -> runs.id, once committed
        self._current: dict[str, _Row] = {}  # newest row of each step in this session
        self._last_run = 0
        self._reset_memory()
        self._flusher: threading.Thread | None = None
        self._warned = False

        self._open()
        _LIVE.add(self)
        ref = weakref.ref(self)
        self._atexit = lambda: _flush_at_exit(ref)
        atexit.register(self._atexit)
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.FlowStarted: self._on_flow_started,
            ev.FlowFinished: self._on_flow_finished,
            ev.StepWaiting: self._on_waiting,
            ev.StepQueued: self._on_queued,
            ev.StepStarted: self._on_started,
            ev.AttemptFailed: self._on_attempt_failed,
            ev.StepRetrying: self._on_retrying,
            ev.StepSucceeded: self._on_succeeded,
            ev.StepFailed: self._on_failed,
            ev.StepSkipped: self._on_ended,
            ev.StepCancelled: self._on_ended,
            ev.StepRestored: self._on_restored,
            ev.StepUpstreamFailed: self._on_ended,
            ev.StepStale: self._on_stale,
        }

    def __repr__(self) -> str:
        return f"Manifest({str(self.path)!r}, flow_name={self.flow_name!r}, session={self.session!r})"

    # -- opening -----------------------------------------------------------------------

    def _reset_memory(self) -> None:
        self._dirty_runs: dict[int, _Run] = {}
        self._dirty_rows: dict[tuple[int, str], _Row] = {}
        self._dirty_attempts: dict[tuple[int, str, int], _Attempt] = {}
        self._resets: set[tuple[int, str]] = set()
        self._pending = 0
        self._first_dirty: float | None = None
        self._flush_now = False

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file ourselves so it is 0600 (it holds tracebacks); SQLite
        # gives its -wal and -shm files the same mode. An empty file is a valid database.
        try:
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as error:
            raise ManifestError(f"cannot create the manifest {self.path}: {error}", str(self.path)) from error
        self._conn = self._connect()
        try:
            self._transaction(self._create_schema)
        except BaseException:
            self._conn.close()
            self._closed = True
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise ManifestError(f"cannot open the manifest {self.path}: {error}", str(self.path)) from error
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            mode = self._retrying(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                logger.warning("nbflow: the manifest %s is not in WAL mode (%s)", self.path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        row = None
        with contextlib.suppress(sqlite3.OperationalError):  # no meta table yet
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise ManifestError(
                f"the manifest {self.path} has schema version {row[0]}, newer than this nbflow's "
                f"{SCHEMA_VERSION}: upgrade nbflow to use this store",
                str(self.path),
            )
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def _connection(self) -> sqlite3.Connection:
        """The connection (call under `_io`), opened again after a fork."""
        if self._closed:
            raise ManifestError(f"the manifest {self.path} is closed", str(self.path))
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, memory and session; the parent's connection is left alone.

        SQLite connections must not cross a fork (and closing the inherited one
        could disturb the parent's locks), so it is kept unused; the rows not yet
        written are the parent's to write.
        """
        _ABANDONED.append(self._conn)
        self._conn = None
        self.session = secrets.token_hex(8)
        self._io = threading.RLock()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._reset_memory()
        self._runs.clear()
        self._run_ids.clear()
        self._current.clear()
        self._last_run = 0
        self._flusher = None

    # -- transactions ------------------------------------------------------------------------

    def _retrying(self, work: Callable[[], T], retries: int | None = None) -> T:
        retries = self.retries if retries is None else retries
        delay = 0.02
        for attempt in range(retries + 1):
            try:
                return work()
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or attempt == retries:
                    raise ManifestError(f"manifest {self.path}: {error}", str(self.path)) from error
            time.sleep(delay * (1.0 + random.random()))
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def _transaction(
        self, work: Callable[[sqlite3.Connection], T], write: bool = True, timeout: float | None = None
    ) -> T:
        """Run `work` in one transaction (IMMEDIATE for writes), retried while the database is busy.

        With `timeout`, wait at most about that long for the lock (one try) instead of the
        full `busy_timeout` and retries.
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

    # -- recording events ------------------------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        """Record one event (cheap: memory only; rows are written in batches)."""
        handler = self._handlers.get(type(event))
        if handler is None or self._closed:
            return
        with self._lock:
            handler(event)
            self._pending += 1
            flush_now = isinstance(event, ev.FlowFinished)
            self._touched(urgent=self._pending >= self.batch_size)
        if flush_now:
            # Written before `flow.wait()` returns, but never holding up nbflow's loop thread
            # for long: if the file stays locked, the background writer retries.
            self._flush_quietly(timeout=min(_EVENT_FLUSH_WAIT, self.busy_timeout))

    def _run(self, number: int, when: float) -> _Run:
        run = self._runs.get(number)
        if run is None:
            run = self._runs[number] = _Run(number, started=when)
        elif run.started is None or when < run.started:
            run.started = when
        self._last_run = max(self._last_run, number)
        self._dirty_runs[number] = run
        return run

    def _row(self, run: int, step: str, when: float, state: str) -> _Row:
        """The row of `step` in `run`, made (and marked dirty) if needed. Call under `_lock`."""
        key = (run, step)
        current = self._current.get(step)
        if current is not None and current.run == run:
            row = current
        elif key in self._dirty_rows:
            row = self._dirty_rows[key]
        elif current is None or run > current.run:
            row = self._current[step] = _Row(run, step, state, updated=when)
        else:  # an older run whose row is no longer in memory
            row = _Row(run, step, state, updated=when, merge=True)
        self._run(run, when)
        self._dirty_rows[key] = row
        return row

    def _touched(self, urgent: bool = False) -> None:
        """Something is waiting to be written: make sure the flusher will write it. Under `_lock`."""
        if self._first_dirty is None:
            self._first_dirty = time.monotonic()
        if urgent:
            self._flush_now = True
        if self.flush_interval is None and not urgent:
            return
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(target=self._flush_loop, name="nbflow-manifest", daemon=True)
            self._flusher.start()
        self._wake.notify()

    def _state(self, event: ev.StepEvent, row: _Row) -> None:
        assert event.state is not None
        row.state = event.state.value
        row.updated = event.time
        row.evented = True

    def _on_flow_started(self, event: ev.FlowStarted) -> None:
        self._run(event.run, event.time)

    def _on_flow_finished(self, event: ev.FlowFinished) -> None:
        run = self._run(event.run, event.time)
        run.finished = event.time
        run.counts = dict(event.counts)

    def _on_waiting(self, event: ev.StepWaiting) -> None:
        row = self._row(event.run, event.step, event.time, State.WAITING.value)
        if row.evented and row.state in _TERMINAL:
            # Run again within the same run (a retry while others still run): a fresh execution.
            row.load_seconds = row.original_seconds = None
            for number in range(1, row.attempts + 1):
                self._dirty_attempts.pop((row.run, row.step, number), None)
            self._resets.add((row.run, row.step))
        # Keep provenance that arrived before this event (records can overtake events).
        row.attempts = 0
        row.started = row.ended = row.duration = None
        row.error = row.traceback = row.reason = None
        row.stale = False
        row.outputs = None
        row.source = None
        row.open_attempt = None
        self._state(event, row)

    def _on_queued(self, event: ev.StepQueued) -> None:
        self._state(event, self._row(event.run, event.step, event.time, State.QUEUED.value))

    def _on_started(self, event: ev.StepStarted) -> None:
        row = self._row(event.run, event.step, event.time, State.RUNNING.value)
        self._state(event, row)
        row.attempts = event.attempt
        if row.started is None or event.attempt == 1:
            row.started = event.time
        attempt = _Attempt(event.run, event.step, event.attempt, event.time)
        row.open_attempt = attempt
        self._dirty_attempts[(event.run, event.step, event.attempt)] = attempt

    def _close_attempt(self, row: _Row, when: float, error: str | None = None, timed_out: bool = False) -> None:
        attempt = row.open_attempt
        if attempt is None:
            return
        attempt.ended = when
        attempt.error = error
        attempt.timed_out = timed_out
        row.open_attempt = None
        self._dirty_attempts[(attempt.run, attempt.step, attempt.number)] = attempt

    def _on_attempt_failed(self, event: ev.AttemptFailed) -> None:
        row = self._row(event.run, event.step, event.time, State.RUNNING.value)
        row.evented = True
        if row.open_attempt is None or row.open_attempt.number != event.attempt:
            row.open_attempt = _Attempt(event.run, event.step, event.attempt, None)
        self._close_attempt(row, event.time, _first_line(event.error) or "failed", event.timed_out)
        row.attempts = max(row.attempts, event.attempt)
        row.error = _first_line(event.error)
        row.traceback = event.traceback or None

    def _on_retrying(self, event: ev.StepRetrying) -> None:
        self._state(event, self._row(event.run, event.step, event.time, State.RETRYING.value))

    def _ended(self, event: ev.StepEvent, row: _Row) -> None:
        self._state(event, row)
        row.ended = event.time
        if row.started is not None:
            row.duration = max(0.0, event.time - row.started)

    def _on_succeeded(self, event: ev.StepSucceeded) -> None:
        row = self._row(event.run, event.step, event.time, State.SUCCEEDED.value)
        self._close_attempt(row, event.time)
        self._ended(event, row)
        row.attempts = event.attempts
        row.duration = event.duration
        if row.started is None:
            row.started = event.time - event.duration
        row.error = row.traceback = None
        row.outputs = tuple(event.outputs)
        row.source = "computed"

    def _on_failed(self, event: ev.StepFailed) -> None:
        row = self._row(event.run, event.step, event.time, State.FAILED.value)
        self._close_attempt(row, event.time, _first_line(event.error) or "failed")
        self._ended(event, row)
        row.attempts = event.attempts
        row.error = _first_line(event.error)
        row.traceback = event.traceback or None

    def _on_ended(self, event: ev.StepSkipped | ev.StepCancelled | ev.StepUpstreamFailed) -> None:
        assert event.state is not None
        row = self._row(event.run, event.step, event.time, event.state.value)
        if isinstance(event, ev.StepUpstreamFailed):
            reason = f"upstream step {event.upstream!r} failed" if event.upstream else "upstream failed"
        else:
            reason = event.reason or event.state.value
        self._close_attempt(row, event.time, reason)
        self._ended(event, row)
        row.reason = reason
        if isinstance(event, ev.StepCancelled):
            row.error = row.traceback = None

    def _on_restored(self, event: ev.StepRestored) -> None:
        row = self._row(event.run, event.step, event.time, State.RESTORED.value)
        self._ended(event, row)
        row.outputs = tuple(event.outputs)
        row.source = "restored"
        row.error = row.traceback = None

    def _on_stale(self, event: ev.StepStale) -> None:
        # A live condition of the step's newest row, not a new execution: flag it, keep its state.
        row = self._current.get(event.step)
        if row is None:
            return
        row.stale = True
        row.reason = event.reason or "stale"
        self._dirty_rows[(row.run, row.step)] = row
        self._run(row.run, event.time)

    # -- records from the checkpoint layer ---------------------------------------------------------------

    def _record_row(self, step: str, run: int | None, state: State) -> _Row:
        now = time.time()
        if run is None:
            current = self._current.get(step)
            run = current.run if current is not None else self._last_run
        row = self._row(run, step, now, state.value)
        if not row.evented and not row.merge:
            row.state = state.value  # a record without events yet: what it implies
        return row

    def record_checkpoint(
        self, step: str, key: str, path: str, size: int, write_seconds: float, *, run: int | None = None
    ) -> None:
        """A checkpoint of `step` with cache key `key` was written at `path` (`size` bytes, in `write_seconds`).

        `run` is the run number the step ran in (default: this manifest's newest run of the step).
        """
        self._check_open()
        with self._lock:
            row = self._record_row(step, run, State.SUCCEEDED)
            row.key, row.checkpoint, row.size, row.write_seconds = key, str(path), int(size), float(write_seconds)
            row.keyed = time.time()
            if row.source is None and not row.evented:
                row.source = "computed"
            self._pending += 1
            self._touched(urgent=self._pending >= self.batch_size)

    def record_restore(
        self,
        step: str,
        key: str,
        path: str,
        load_seconds: float,
        original_seconds: float | None = None,
        *,
        size: int | None = None,
        run: int | None = None,
    ) -> None:
        """`step`'s outputs were loaded from the checkpoint `key` at `path` in `load_seconds`.

        `original_seconds` is how long the step took when it was computed; when
        None it is looked up in the manifest (the duration of the run that
        computed `key`). Time saved is `original_seconds - load_seconds`.
        """
        self._check_open()
        with self._lock:
            row = self._record_row(step, run, State.RESTORED)
            row.key, row.checkpoint = key, str(path)
            if size is not None:
                row.size = int(size)
            row.load_seconds = float(load_seconds)
            row.original_seconds = None if original_seconds is None else float(original_seconds)
            row.keyed = time.time()
            if not row.evented:
                row.source = "restored"
                row.ended = row.ended or row.keyed
            self._pending += 1
            self._touched(urgent=self._pending >= self.batch_size)

    # -- writing ----------------------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Write every pending row now, in one transaction. Raises `ManifestError` if it cannot.

        `timeout`: give up after about this many seconds of waiting for locks
        (the rows stay pending) instead of `busy_timeout` with retries.
        """
        if not self._io.acquire(timeout=-1 if timeout is None else timeout):
            raise ManifestError(f"manifest {self.path}: busy writing", str(self.path))
        try:
            self._flush_locked(timeout)
        finally:
            self._io.release()

    def _flush_locked(self, timeout: float | None) -> None:
        if self._closed:
            return
        with self._lock:
            if not (self._dirty_runs or self._dirty_rows or self._dirty_attempts):
                self._first_dirty = None
                self._flush_now = False
                self._pending = 0
                return
            batch = _Batch(
                dict(self._dirty_runs), dict(self._dirty_rows), dict(self._dirty_attempts),
                set(self._resets), self._pending,
            )
            for row in batch.rows.values():  # every run a row refers to gets its runs row
                if row.run not in batch.runs:
                    batch.runs[row.run] = self._runs.setdefault(row.run, _Run(row.run, row.updated))
            for attempt in batch.attempts.values():
                if attempt.run not in batch.runs:
                    batch.runs[attempt.run] = self._runs.setdefault(attempt.run, _Run(attempt.run))
            run_values = {n: (r.started, r.finished, None if r.counts is None else json.dumps(r.counts))
                          for n, r in batch.runs.items()}
            row_values = [(row, row.values()) for row in batch.rows.values()]
            attempt_values = [(a.run, a.step, a.values()) for a in batch.attempts.values()]
            self._dirty_runs.clear()
            self._dirty_rows.clear()
            self._dirty_attempts.clear()
            self._resets.clear()
            self._pending = 0
            self._first_dirty = None
            self._flush_now = False

        def write(conn: sqlite3.Connection) -> tuple[dict[int, int], list[tuple[_Row, str, float]]]:
            return self._write(conn, run_values, row_values, attempt_values, batch.resets)

        try:
            run_ids, resolved = self._transaction(write, timeout=timeout)
        except BaseException:
            with self._lock:  # put it all back; newer changes made meanwhile win
                for number, run in batch.runs.items():
                    self._dirty_runs.setdefault(number, run)
                for key, row in batch.rows.items():
                    self._dirty_rows.setdefault(key, row)
                for key3, attempt in batch.attempts.items():
                    self._dirty_attempts.setdefault(key3, attempt)
                self._resets |= batch.resets
                self._pending += batch.events
                self._first_dirty = time.monotonic()
                self._wake.notify()  # the background writer tries again after `flush_interval`
            raise
        with self._lock:
            self._run_ids.update(run_ids)
            for row, cache_key, original in resolved:  # memory is the truth for later writes of the row
                if row.original_seconds is None and row.key == cache_key:
                    row.original_seconds = original
        self._warned = False

    def _write(
        self,
        conn: sqlite3.Connection,
        runs: Mapping[int, tuple[Any, ...]],
        rows: list[tuple[_Row, tuple[Any, ...]]],
        attempts: list[tuple[int, str, tuple[Any, ...]]],
        resets: set[tuple[int, str]],
    ) -> tuple[dict[int, int], list[tuple[_Row, str, float]]]:
        ids: dict[int, int] = {}
        for number, (started, finished, counts) in runs.items():
            conn.execute(
                "INSERT INTO runs (flow, session, run, started, finished, counts) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (flow, session, run) DO UPDATE SET "
                "started = COALESCE(MIN(excluded.started, started), excluded.started, started), "
                "finished = COALESCE(excluded.finished, finished), counts = COALESCE(excluded.counts, counts)",
                (self.flow_name, self.session, number, started, finished, counts),
            )
            known = self._run_ids.get(number)
            if known is None:
                known = conn.execute(
                    "SELECT id FROM runs WHERE flow = ? AND session = ? AND run = ?",
                    (self.flow_name, self.session, number),
                ).fetchone()[0]
            ids[number] = int(known)
        for run, step in resets:
            conn.execute("DELETE FROM attempts WHERE run_id = ? AND step = ?", (ids[run], step))
        resolved: list[tuple[_Row, str, float]] = []
        full: list[tuple[Any, ...]] = []
        merged: list[tuple[Any, ...]] = []
        for row, values in rows:
            (merged if row.merge else full).append((ids[row.run], self.flow_name, row.step, *values))
        if full:
            conn.executemany(_UPSERT, full)
        if merged:
            conn.executemany(_MERGE, merged)
        # Restores whose original run time was not given: the duration of the run that computed the key.
        for row, values in rows:
            record = dict(zip(_COLUMNS, values, strict=True))
            if record["load_seconds"] is None or record["original_seconds"] is not None or not record["cache_key"]:
                continue
            found = conn.execute(_ORIGINAL, (row.step, record["cache_key"])).fetchone()
            if found is None:
                continue
            original = float(found[0])
            conn.execute(
                "UPDATE steps SET original_seconds = ?, time_saved = ? - load_seconds WHERE run_id = ? AND step = ?",
                (original, original, ids[row.run], row.step),
            )
            resolved.append((row, record["cache_key"], original))
        if attempts:
            conn.executemany(
                "INSERT OR REPLACE INTO attempts (run_id, step, number, started, ended, error, timed_out) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(ids[run], step, *values) for run, step, values in attempts],
            )
        return ids, resolved

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

    # -- specs ---------------------------------------------------------------------------------------------------

    def save_spec(self, name: str, header: str, code: str | None, cell: str | None, order: int) -> None:
        """Store (or replace) the `%%step` cell of step `name`: header text (after `%%step`), body, cell id."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO specs (flow, name, header, code, cell, ord, saved) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (flow, name) DO UPDATE SET header = excluded.header, code = excluded.code, "
                "cell = excluded.cell, ord = excluded.ord, saved = excluded.saved",
                (self.flow_name, name, header, code, cell, int(order), time.time()),
            )

        self._transaction(write)

    def remove_spec(self, name: str) -> bool:
        """Forget a stored step spec; False if there was none."""

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM specs WHERE flow = ? AND name = ?", (self.flow_name, name))
            return cursor.rowcount > 0

        return self._transaction(write)

    def load_specs(self, flow_name: str | None = None) -> list[SpecRecord]:
        """The stored specs of a flow (default: this one), in cell order."""
        flow = flow_name or self.flow_name
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT flow, name, header, code, cell, ord, saved FROM specs WHERE flow = ? ORDER BY ord, name",
                (flow,),
            ).fetchall()
        )
        return [SpecRecord(*row) for row in rows]

    # -- reading -------------------------------------------------------------------------------------------------------

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Flush (so this process reads its own events), then read in one snapshot."""
        self._check_open()
        self._flush_quietly(timeout=self.busy_timeout)
        return self._transaction(work, write=False)

    def latest(self, flow_name: str | None = None) -> list[StepRecord]:
        """The newest known row of each step of a flow (default: this one), with its attempts.

        Steps come in stored spec order when there are specs, then by start time.
        """
        flow = flow_name or self.flow_name

        def read(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
            rows = conn.execute(
                _LATEST + f"SELECT {_STEP_FIELDS} FROM latest s JOIN runs r ON r.id = s.run_id"
                " LEFT JOIN specs p ON p.flow = s.flow AND p.name = s.step"
                " ORDER BY p.ord IS NULL, p.ord, COALESCE(s.started, s.updated), s.step",
                {"flow": flow},
            ).fetchall()
            attempts = conn.execute(
                _LATEST + "SELECT a.run_id, a.step, a.number, a.started, a.ended, a.error, a.timed_out "
                "FROM latest l JOIN attempts a ON a.run_id = l.run_id AND a.step = l.step ORDER BY a.number",
                {"flow": flow},
            ).fetchall()
            return rows, attempts

        rows, attempts = self._read(read)
        log: dict[tuple[int, str], list[AttemptInfo]] = {}
        for run_id, step, number, started, ended, error, timed_out in attempts:
            attempt = AttemptInfo(number, started or 0.0, ended, error, bool(timed_out))
            log.setdefault((run_id, step), []).append(attempt)
        return [_step_record(row, tuple(log.get((row[1], row[3]), ()))) for row in rows]

    def runs(self, limit: int | None = 20, flow_name: str | None = None) -> list[RunRecord]:
        """The newest runs of a flow (default: this one), newest first."""
        flow = flow_name or self.flow_name
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT id, flow, session, run, started, finished, counts FROM runs WHERE flow = ? "
                "ORDER BY started DESC, id DESC LIMIT ?",
                (flow, -1 if limit is None else int(limit)),
            ).fetchall()
        )
        return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else {}) for r in rows]

    def run_steps(self, run_id: int) -> list[StepRecord]:
        """Every step row of one run (`RunRecord.id`)."""
        rows = self._read(
            lambda conn: conn.execute(_STEP_SELECT + " WHERE s.run_id = ? ORDER BY s.id", (run_id,)).fetchall()
        )
        return [_step_record(row) for row in rows]

    def provenance(self, step: str, flow_name: str | None = None) -> Provenance | None:
        """Where the step's current outputs come from: its newest succeeded or restored row; None if none."""
        flow = flow_name or self.flow_name

        def read(conn: sqlite3.Connection) -> tuple[Any, Any]:
            row = conn.execute(
                _STEP_SELECT + " WHERE s.flow = ? AND s.step = ? AND s.state IN (?, ?) "
                "ORDER BY s.updated DESC, s.id DESC LIMIT 1",
                (flow, step, State.SUCCEEDED.value, State.RESTORED.value),
            ).fetchone()
            origin = None
            if row is not None:
                key = row[6 + _COLUMNS.index("cache_key")]
                if key is not None:
                    origin = conn.execute(
                        "SELECT ended, duration, checkpoint_size, checkpoint FROM steps "
                        "WHERE step = ? AND cache_key = ? AND source = 'computed' "
                        "ORDER BY updated DESC, id DESC LIMIT 1",
                        (step, key),
                    ).fetchone()
            return row, origin

        row, origin = self._read(read)
        if row is None:
            return None
        record = _step_record(row)
        if record.state is State.SUCCEEDED:
            return Provenance(
                step=step, source="computed", when=record.ended, run_id=record.run_id, key=record.key,
                checkpoint=record.checkpoint, size=record.size, computed_at=record.ended,
                original_seconds=record.duration, time_saved=0.0,
            )
        computed_at, duration, size, _ = origin if origin is not None else (None, None, None, None)
        original = record.original_seconds if record.original_seconds is not None else duration
        saved = record.time_saved
        if saved is None and original is not None and record.load_seconds is not None:
            saved = original - record.load_seconds
        return Provenance(
            step=step, source="restored", when=record.ended, run_id=record.run_id, key=record.key,
            checkpoint=record.checkpoint, size=record.size if record.size is not None else size,
            computed_at=computed_at, original_seconds=original, load_seconds=record.load_seconds,
            time_saved=saved or 0.0,
        )

    def total_time_saved(
        self, run: int | None = None, *, run_id: int | None = None, flow_name: str | None = None
    ) -> float:
        """Seconds saved by restores.

        `run`: a run number of this session (an event's `.run`); `run_id`: a
        `RunRecord.id`; neither: the flow's current state, summed over the
        newest row of each step (what the notebook as it stands has saved).
        """
        if run is not None or run_id is not None:
            if run_id is None:

                def find(conn: sqlite3.Connection) -> Any:
                    return conn.execute(
                        "SELECT id FROM runs WHERE flow = ? AND session = ? AND run = ?",
                        (self.flow_name, self.session, run),
                    ).fetchone()

                found = self._read(find)
                if found is None:
                    return 0.0
                run_id = int(found[0])
            total = self._read(
                lambda conn: conn.execute(
                    "SELECT TOTAL(time_saved) FROM steps WHERE run_id = ? AND state = ?",
                    (run_id, State.RESTORED.value),
                ).fetchone()[0]
            )
            return float(total)
        return float(sum(r.time_saved or 0.0 for r in self.latest(flow_name) if r.state is State.RESTORED))

    def referenced_keys(self, flow_name: str | None = None) -> set[tuple[str, str]]:
        """(step, key) of the newest recorded key of each step, for cleaning.

        Default: every flow in the store, since checkpoint files are named by
        step and key only and flows share the store; `flow_name` narrows it.
        """

        def read(conn: sqlite3.Connection) -> list[Any]:
            where = "cache_key IS NOT NULL" + (" AND flow = :flow" if flow_name else "")
            return conn.execute(
                f"WITH names AS (SELECT DISTINCT flow, step FROM steps WHERE {where}) "
                "SELECT s.step, s.cache_key FROM names n JOIN steps s ON s.id = ("
                "SELECT s2.id FROM steps s2 WHERE s2.flow = n.flow AND s2.step = n.step "
                "AND s2.cache_key IS NOT NULL ORDER BY COALESCE(s2.keyed, s2.updated) DESC, s2.id DESC LIMIT 1)",
                {"flow": flow_name},
            ).fetchall()

        return {(step, key) for step, key in self._read(read)}


_TERMINAL = frozenset(state.value for state in TERMINAL)


def _step_record(row: tuple[Any, ...], attempt_log: tuple[AttemptInfo, ...] = ()) -> StepRecord:
    """A `_STEP_SELECT` row as a `StepRecord`."""
    run_row_id, run_id, flow, step, session, run = row[:6]
    del run_row_id
    c = dict(zip(_COLUMNS, row[6:], strict=True))
    return StepRecord(
        flow=flow, step=step, run_id=run_id, session=session, run=run, state=State(c["state"]),
        attempts=c["attempts"], started=c["started"], ended=c["ended"], duration=c["duration"],
        error=c["error"], traceback=c["traceback"], reason=c["reason"], stale=bool(c["stale"]),
        outputs=tuple(json.loads(c["outputs"])) if c["outputs"] else (), updated=c["updated"],
        source=c["source"], key=c["cache_key"], checkpoint=c["checkpoint"], size=c["checkpoint_size"],
        write_seconds=c["write_seconds"], keyed=c["keyed"], load_seconds=c["load_seconds"],
        original_seconds=c["original_seconds"], time_saved=c["time_saved"], attempt_log=attempt_log,
    )


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


__all__ = [
    "DEFAULT_NAME",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "Manifest",
    "ManifestError",
    "Provenance",
    "RunRecord",
    "SpecRecord",
    "StepRecord",
]
