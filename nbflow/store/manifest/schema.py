"""The manifest's SQL: the schema, its version and migration, and how a connection is opened.

Schema (version 4)
------------------
``meta(key, value)``: ``schema_version``. A newer version is refused; older
files gain the columns added since (`ADDED`) when opened, and read as before.

``runs(id, flow, session, run, started, finished, counts, host, pid,
proc_start)``: one row per run of a flow in one session; ``counts`` is the
JSON ``{state: n}`` of `FlowFinished`; host, pid and process start time are
the writer's, so a reader can tell a run whose process died (`liveness`).
Unique on ``(flow, session, run)``.

``steps``: one row per step per run, the columns of `StepStatus` (`STEP_COLUMNS`)
plus ``stale`` (a live flag on the step's newest row), ``updated`` (the last
change), ``keyed`` (when the key was recorded) and ``key_parts`` (JSON: what
the key was made of); ``computed_at`` is when a restored checkpoint was computed. Unique on ``(run_id, step)``.

``attempts(run_id, step, number, started, ended, error, timed_out, where_ran)``: ``where_ran`` is
where the attempt ran (`AttemptInfo.where`), NULL when unknown (rows written before version 4).

``specs(flow, name, header, code, cell, ord, saved)``: the ``%%step`` header
text and body of each step, for ``%flow resume``.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from nbflow.core.errors import NbflowError

logger = logging.getLogger("nbflow")

SCHEMA_VERSION = 4
#: The oldest version a read-only reader (which cannot migrate) still reads: 4 only added a column.
OLDEST_READABLE = 3

DDL = """
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
    host TEXT,
    pid INTEGER,
    proc_start TEXT,
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
    computed_at REAL,
    key_parts TEXT,
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
    where_ran TEXT,
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

#: Columns of `steps` written from a recorded row, in this order (after run_id, flow, step).
STEP_COLUMNS = (
    "state", "attempts", "started", "ended", "duration", "error", "traceback", "reason", "stale",
    "outputs", "updated", "source", "cache_key", "checkpoint", "checkpoint_size", "write_seconds", "keyed",
    "load_seconds", "original_seconds", "time_saved", "computed_at", "key_parts",
)
UPSERT_STEP = (
    f"INSERT INTO steps (run_id, flow, step, {', '.join(STEP_COLUMNS)}) "
    f"VALUES (?, ?, ?, {', '.join('?' * len(STEP_COLUMNS))}) ON CONFLICT (run_id, step) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STEP_COLUMNS)
)
#: Columns added after version 1, for migrating older files in place.
ADDED = (("steps", "computed_at", "REAL"), ("steps", "key_parts", "TEXT"),  # version 2
         ("runs", "host", "TEXT"), ("runs", "pid", "INTEGER"), ("runs", "proc_start", "TEXT"),  # version 3
         ("attempts", "where_ran", "TEXT"))  # version 4
UPSERT_RUN = (
    "INSERT INTO runs (flow, session, run, started, finished, counts, host, pid, proc_start) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (flow, session, run) DO UPDATE SET "
    "started = COALESCE(MIN(excluded.started, started), excluded.started, started), "
    "finished = COALESCE(excluded.finished, finished), counts = COALESCE(excluded.counts, counts)"
)
RUN_ID = "SELECT id FROM runs WHERE flow = ? AND session = ? AND run = ?"
#: What a read selects of a step row: its ids and run (with the run's end and writer), then `STEP_COLUMNS`.
STEP_FIELDS = ("s.run_id, s.flow, s.step, r.session, r.run, r.finished, r.host, r.pid, r.proc_start, "
               + ", ".join(f"s.{c}" for c in STEP_COLUMNS))
STEP_SELECT = f"SELECT {STEP_FIELDS} FROM steps s JOIN runs r ON r.id = s.run_id"


class ManifestError(NbflowError, OSError):
    """The manifest could not be opened, read or written (locked too long, newer schema, closed)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(" ".join(message.split()), path=path)


def is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def connect(path: Path, busy_timeout: float, *, wal: bool = True) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=NORMAL``, shared across threads (callers lock it)."""
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise ManifestError(f"cannot open the manifest {path}: {error}", str(path)) from error
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if wal:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("nbflow: the manifest %s is not in WAL mode (%s)", path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def create_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables (in a write transaction), migrate a version-1 file, refuse a newer one."""
    row = None
    with contextlib.suppress(sqlite3.OperationalError):  # no meta table yet
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise ManifestError(
            f"the manifest {path} has schema version {row[0]}, newer than this nbflow's "
            f"{SCHEMA_VERSION}: upgrade nbflow to use this store",
            str(path),
        )
    for statement in DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    for table, column, kind in ADDED:
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
