"""Writing a `Batch` of recorded rows: one transaction per flush, whatever its size.

A row is written whole (memory is the truth for rows this process records),
with its attempts replaced, so a step run again within a run leaves no
attempts of the earlier execution behind.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from nbflow.core.status import StepStatus

from .liveness import Writer
from .recorder import Batch, Change
from .schema import RUN_ID, UPSERT_RUN, UPSERT_STEP
from .specs import save_spec


def step_values(change: Change) -> tuple[Any, ...]:
    """The `STEP_COLUMNS` values of a recorded row."""
    s: StepStatus = change.status
    return (
        s.state.value, s.attempts, s.started, s.ended, s.duration, s.error, s.traceback, s.reason,
        int(change.stale), json.dumps(list(s.outputs)), change.updated, s.source or None, s.key, s.checkpoint,
        s.size, s.write_seconds, change.keyed, s.load_seconds, s.original_seconds, s.time_saved, s.computed_at,
        json.dumps([list(p) for p in change.key_parts]) if change.key_parts else None,
    )


def write_batch(conn: sqlite3.Connection, flow: str, session: str, batch: Batch,
                known: Mapping[int, int], writer: Writer) -> dict[int, int]:
    """Write `batch` inside the caller's transaction; returns run number -> `runs.id`."""
    ids: dict[int, int] = {}
    for number, run in batch.runs.items():
        counts = None if run.counts is None else json.dumps(run.counts)
        conn.execute(UPSERT_RUN, (flow, session, number, run.started, run.finished, counts,
                                  writer.host, writer.pid, writer.started))
        found = known.get(number)
        if found is None:
            found = int(conn.execute(RUN_ID, (flow, session, number)).fetchone()[0])
        ids[number] = found
    rows = list(batch.rows.items())
    conn.executemany(UPSERT_STEP, [(ids[run], flow, step, *step_values(c)) for (run, step), c in rows])
    conn.executemany("DELETE FROM attempts WHERE run_id = ? AND step = ?", [(ids[r], step) for r, step in batch.rows])
    conn.executemany(
        "INSERT OR REPLACE INTO attempts (run_id, step, number, started, ended, error, timed_out, where_ran) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(ids[run], step, a.number, a.started, a.ended, a.error, int(a.timed_out), a.where or None)
         for (run, step), c in rows for a in c.status.attempt_log],
    )
    for spec in batch.specs.values():
        save_spec(conn, flow, spec.name, spec.header, spec.code, spec.cell, spec.order, spec.saved)
    return ids
