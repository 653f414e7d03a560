"""Reading the manifest: functions of a connection (the caller holds the transaction).

Rows come back as `StepRecord`s holding the core's `StepStatus`, so every
reader (the CLI, cleaning, resume) sees the one status schema.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from nbflow.core.states import ACTIVE, State
from nbflow.core.status import AttemptInfo, StepStatus

from .liveness import is_gone
from .records import Interruption, RunRecord, StepRecord
from .schema import RUN_ID, STEP_COLUMNS, STEP_FIELDS, STEP_SELECT

# The newest row of each step of one flow (correlated sub-query on the index; no window functions).
_LATEST = (
    "WITH names AS (SELECT DISTINCT step FROM steps WHERE flow = :flow), "
    "latest AS (SELECT s.* FROM names n JOIN steps s ON s.id = ("
    "SELECT s2.id FROM steps s2 WHERE s2.flow = :flow AND s2.step = n.step "
    "ORDER BY s2.updated DESC, s2.id DESC LIMIT 1)) "
)


def _record(row: tuple[Any, ...], attempt_log: tuple[AttemptInfo, ...] = ()) -> StepRecord:
    """A `STEP_FIELDS` row as a `StepRecord`; an unfinished step of a run whose process is gone is `interrupted`."""
    run_id, flow, step, session, run, finished, host, pid, proc_start = row[:9]
    c = dict(zip(STEP_COLUMNS, row[9:], strict=True))
    stale = bool(c["stale"])
    state, reason = State.STALE if stale else State(c["state"]), c["reason"]
    if state in ACTIVE and finished is None and is_gone(host, pid, proc_start):
        state, reason = State.INTERRUPTED, f"its run ended with the process that ran it (was {state.value})"
    status = StepStatus(
        name=step, state=state, attempts=c["attempts"],
        started=c["started"], ended=c["ended"], duration=c["duration"], error=c["error"],
        traceback=c["traceback"], reason=reason,
        outputs=tuple(json.loads(c["outputs"])) if c["outputs"] else (), attempt_log=attempt_log,
        key=c["cache_key"], checkpoint=c["checkpoint"], size=c["checkpoint_size"],
        write_seconds=c["write_seconds"], load_seconds=c["load_seconds"],
        original_seconds=c["original_seconds"], time_saved=c["time_saved"], computed_at=c["computed_at"],
    )
    parts = tuple(tuple(p) for p in json.loads(c["key_parts"])) if c["key_parts"] else ()
    return StepRecord(flow=flow, run_id=run_id, session=session, run=run, status=status, stale=stale,
                      updated=c["updated"], keyed=c["keyed"], key_parts=parts)


def latest(conn: sqlite3.Connection, flow: str) -> list[StepRecord]:
    """The newest known row of each step of a flow, with its attempts.

    Steps come in stored spec order when there are specs, then by start time.
    """
    rows = conn.execute(
        _LATEST + f"SELECT {STEP_FIELDS} FROM latest s JOIN runs r ON r.id = s.run_id"
        " LEFT JOIN specs p ON p.flow = s.flow AND p.name = s.step"
        " ORDER BY p.ord IS NULL, p.ord, COALESCE(s.started, s.updated), s.step",
        {"flow": flow},
    ).fetchall()
    attempts = conn.execute(
        _LATEST + "SELECT a.run_id, a.step, a.number, a.started, a.ended, a.error, a.timed_out, "
        f"{where_column(conn)} "
        "FROM latest l JOIN attempts a ON a.run_id = l.run_id AND a.step = l.step ORDER BY a.number",
        {"flow": flow},
    ).fetchall()
    log: dict[tuple[int, str], list[AttemptInfo]] = {}
    for run_id, step, number, started, ended, error, timed_out, where in attempts:
        log.setdefault((run_id, step), []).append(AttemptInfo(
            number=number, started=started or 0.0, ended=ended, error=error, timed_out=bool(timed_out),
            where=where or ""))
    return [_record(row, tuple(log.get((row[0], row[2]), ()))) for row in rows]


def where_column(conn: sqlite3.Connection) -> str:
    """`a.where_ran`, or NULL in a version-3 file a read-only reader could not migrate (see `schema.ADDED`)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(attempts)").fetchall()}
    return "a.where_ran" if "where_ran" in columns else "NULL"


def runs(conn: sqlite3.Connection, flow: str, limit: int | None, per_session: bool = False) -> list[RunRecord]:
    """The newest runs of a flow, newest first.

    The scheduler starts a run each time steps start with none active, so one
    notebook execution (a kernel session) is often several runs; `per_session`
    merges them into one record: first start, last finish (none while one of
    them is unfinished), the last counts.
    """
    if per_session:
        sql = ("SELECT MIN(r.id), r.flow, r.session, MIN(r.run), MIN(r.started), "
               "CASE WHEN SUM(r.finished IS NULL) > 0 THEN NULL ELSE MAX(r.finished) END, "
               "(SELECT r2.counts FROM runs r2 WHERE r2.flow = r.flow AND r2.session = r.session "
               "AND r2.counts IS NOT NULL ORDER BY r2.id DESC LIMIT 1), MAX(r.host), MAX(r.pid), MAX(r.proc_start) "
               "FROM runs r WHERE r.flow = ? GROUP BY r.session ORDER BY MIN(r.started) DESC, MIN(r.id) DESC LIMIT ?")
    else:
        sql = ("SELECT id, flow, session, run, started, finished, counts, host, pid, proc_start FROM runs "
               "WHERE flow = ? ORDER BY started DESC, id DESC LIMIT ?")
    rows = conn.execute(sql, (flow, -1 if limit is None else int(limit))).fetchall()
    return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else {},
                      interrupted=r[5] is None and is_gone(r[7], r[8], r[9])) for r in rows]


def interruption(conn: sqlite3.Connection, flow: str) -> Interruption | None:
    """The flow's latest kernel session, if it was interrupted (its process died mid-run); else None."""
    found = runs(conn, flow, 1, per_session=True)
    if not found or not found[0].interrupted:
        return None
    run = found[0]
    rows = [_record(row) for row in conn.execute(
        STEP_SELECT + " WHERE r.flow = ? AND r.session = ? ORDER BY s.id", (flow, run.session))]
    last = max([r.updated for r in rows if r.updated is not None] + [run.started or 0.0])
    unfinished = dict.fromkeys(r.status.name for r in rows if r.status.state is State.INTERRUPTED)
    return Interruption(run, last, tuple(unfinished))


def run_steps(conn: sqlite3.Connection, run_id: int) -> list[StepRecord]:
    """Every step row of one run (`RunRecord.id`)."""
    return [_record(row) for row in conn.execute(STEP_SELECT + " WHERE s.run_id = ? ORDER BY s.id", (run_id,))]


def provenance(conn: sqlite3.Connection, flow: str, step: str) -> StepRecord | None:
    """The step's newest succeeded or restored row: where its current outputs come from."""
    row = conn.execute(
        STEP_SELECT + " WHERE s.flow = ? AND s.step = ? AND s.state IN (?, ?) ORDER BY s.updated DESC, s.id DESC "
        "LIMIT 1",
        (flow, step, State.SUCCEEDED.value, State.RESTORED.value),
    ).fetchone()
    return None if row is None else _record(row)


def run_time_saved(conn: sqlite3.Connection, run_id: int | None, run: tuple[str, str, int | None]) -> float:
    """Seconds saved by the restores of one run: by `runs.id`, else by (flow, session, run number)."""
    if run_id is None:
        found = conn.execute(RUN_ID, run).fetchone()
        if found is None:
            return 0.0
        run_id = int(found[0])
    total = conn.execute(
        "SELECT TOTAL(time_saved) FROM steps WHERE run_id = ? AND state = ?", (run_id, State.RESTORED.value)
    ).fetchone()[0]
    return float(total)


def referenced_keys(conn: sqlite3.Connection, flow: str | None) -> set[tuple[str, str]]:
    """(step, key) of the newest recorded key of each step of `flow` (or of every flow)."""
    where = "cache_key IS NOT NULL" + (" AND flow = :flow" if flow else "")
    rows = conn.execute(
        f"WITH names AS (SELECT DISTINCT flow, step FROM steps WHERE {where}) "
        "SELECT s.step, s.cache_key FROM names n JOIN steps s ON s.id = ("
        "SELECT s2.id FROM steps s2 WHERE s2.flow = n.flow AND s2.step = n.step "
        "AND s2.cache_key IS NOT NULL ORDER BY COALESCE(s2.keyed, s2.updated) DESC, s2.id DESC LIMIT 1)",
        {"flow": flow},
    ).fetchall()
    return {(step, key) for step, key in rows}
