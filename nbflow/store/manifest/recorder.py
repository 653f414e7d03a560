"""The manifest's memory: the event stream folded into one `StepStatus` per step per run.

Pure and single-threaded (the `Manifest` holds a lock around it): no SQLite,
no clock, no threads, so every rule of how an event changes a row is
unit-tested on its own. Everything the manifest stores comes in here, as
events, in the order the scheduler published them; there is no second way
in, so rows never need reconciling. `take()` hands the rows changed since the
last take to the writer, and `put_back()` returns them if the write failed
(newer changes made meanwhile win).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from nbflow.core import events as ev
from nbflow.core.states import TERMINAL, State
from nbflow.core.status import AttemptInfo, StepStatus


@dataclass(eq=False)
class RunRow:
    number: int
    started: float | None = None
    finished: float | None = None
    counts: dict[str, int] | None = None
    #: between its FlowStarted and its FlowFinished: events now belong to a run in progress
    open: bool = False
    #: no FlowStarted was ever seen: a row only for restores made outside any run
    runless: bool = True


@dataclass(eq=False)
class StepRow:
    """A step in one run, being recorded: its status and what only the manifest keeps."""

    run: int
    status: StepStatus
    updated: float
    stale: bool = False
    keyed: float | None = None  # when its key was recorded (cleaning keeps the newest)
    key_parts: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Change:
    """A row as it stood when taken: what the writer writes."""

    run: int
    status: StepStatus
    updated: float
    stale: bool
    keyed: float | None
    key_parts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class SpecSave:
    """A step's `%%step` cell to store (see `specs.py`): written with the next batch, not one transaction each."""

    name: str
    header: str
    code: str | None
    cell: str | None
    order: int
    saved: float


@dataclass
class Batch:
    """What one write takes out of memory (and puts back if the write fails)."""

    runs: dict[int, RunRow]
    rows: dict[tuple[int, str], Change]
    events: int
    _taken: dict[tuple[int, str], StepRow] = field(default_factory=dict, repr=False)
    specs: dict[str, SpecSave] = field(default_factory=dict)


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = text.strip().splitlines()
    return lines[0] if lines else None


class Recorder:
    """Folds events into rows. Not thread-safe: call under one lock."""

    def __init__(self) -> None:
        self._runs: dict[int, RunRow] = {}
        self._current: dict[str, StepRow] = {}  # newest row of each step
        self._dirty_runs: dict[int, RunRow] = {}
        self._dirty_rows: dict[tuple[int, str], StepRow] = {}
        self._dirty_specs: dict[str, SpecSave] = {}
        #: events recorded since the last `take()`
        self.pending = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.FlowStarted: self._flow_started,
            ev.FlowFinished: self._flow_finished,
            ev.StepWaiting: self._waiting,
            ev.StepQueued: self._plain,
            ev.StepRetrying: self._plain,
            ev.StepStarted: self._started,
            ev.AttemptFailed: self._attempt_failed,
            ev.StepSucceeded: self._succeeded,
            ev.StepFailed: self._failed,
            ev.StepSkipped: self._ended_with_reason,
            ev.StepCancelled: self._ended_with_reason,
            ev.StepUpstreamFailed: self._ended_with_reason,
            ev.StepRestored: self._restored,
            ev.StepStale: self._stale,
        }

    def record(self, event: ev.Event) -> bool:
        """Fold one event in; False for events the manifest does not keep."""
        handler = self._handlers.get(type(event))
        if handler is None:
            return False
        handler(event)
        self.pending += 1
        return True

    def current(self, step: str) -> StepStatus | None:
        """The newest recorded status of a step (None if none)."""
        row = self._current.get(step)
        return None if row is None else row.status

    def dirty(self) -> bool:
        return bool(self._dirty_runs or self._dirty_rows or self._dirty_specs)

    def save_spec(self, spec: SpecSave) -> None:
        """Store this cell with the next write (a newer save of the same step replaces it)."""
        self._dirty_specs.pop(spec.name, None)
        self._dirty_specs[spec.name] = spec

    def drop_spec(self, name: str) -> bool:
        """Forget a save not yet written (the step is being removed); whether there was one."""
        return self._dirty_specs.pop(name, None) is not None

    # -- handing rows to the writer ------------------------------------------------------

    def take(self) -> Batch | None:
        """The changed rows (with every run they belong to), or None if nothing changed."""
        if not self.dirty():
            self.pending = 0
            return None
        runs = dict(self._dirty_runs)
        for number, _ in self._dirty_rows:
            if number not in runs:
                runs[number] = self._runs.setdefault(number, RunRow(number))
        rows = {k: Change(r.run, r.status, r.updated, r.stale, r.keyed, r.key_parts)
                for k, r in self._dirty_rows.items()}
        batch = Batch({n: replace(r) for n, r in runs.items()}, rows, self.pending, dict(self._dirty_rows),
                      dict(self._dirty_specs))
        self._dirty_runs.clear()
        self._dirty_rows.clear()
        self._dirty_specs.clear()
        self.pending = 0
        return batch

    def put_back(self, batch: Batch) -> None:
        """A write failed: its rows are dirty again (unless changed meanwhile, which is newer)."""
        for number in batch.runs:
            self._dirty_runs.setdefault(number, self._runs.setdefault(number, RunRow(number)))
        for key, row in batch._taken.items():
            self._dirty_rows.setdefault(key, row)
        for name, spec in batch.specs.items():
            self._dirty_specs.setdefault(name, spec)
        self.pending += batch.events

    # -- rows ----------------------------------------------------------------------------

    def _run(self, number: int, when: float | None) -> RunRow:
        run = self._runs.get(number)
        if run is None:
            run = self._runs[number] = RunRow(number, started=when)
        elif when is not None and (run.started is None or when < run.started):
            run.started = when
        self._dirty_runs[number] = run
        return run

    def _row(self, event: ev.StepEvent, fresh: bool = False) -> StepRow | None:
        """The row of the event's step in the event's run (made if needed); None for an older run."""
        current = self._current.get(event.step)
        if current is not None and current.run > event.run:
            return None  # runs do not overlap: an event of an older run is stale news
        if current is None or current.run < event.run or fresh:
            current = self._current[event.step] = StepRow(
                event.run, StepStatus(event.step, State.WAITING), updated=event.time)
        self._run(event.run, event.time)
        self._dirty_rows[(current.run, event.step)] = current
        return current

    def _set(self, event: ev.StepEvent, **changes: Any) -> StepRow | None:
        row = self._row(event)
        if row is not None:
            if event.state is not None:
                changes["state"] = event.state
            row.status = replace(row.status, **changes)
            row.updated = event.time
        return row

    def _close_attempt(self, status: StepStatus, when: float, error: str | None = None,
                       timed_out: bool = False, number: int | None = None, where: str = "") -> tuple[AttemptInfo, ...]:
        """The attempt log with the open attempt (or attempt `number`) ended; `where` it ran, when known."""
        log = list(status.attempt_log)
        if number is not None and not any(a.number == number for a in log):
            log.append(AttemptInfo(number=number, started=when))
        for i in range(len(log) - 1, -1, -1):
            attempt = log[i]
            if (number is None and attempt.ended is None) or attempt.number == number:
                log[i] = replace(attempt, ended=when, error=error, timed_out=timed_out,
                                 where=where or attempt.where)
                break
        return tuple(log)

    def _ended(self, event: ev.StepEvent, **changes: Any) -> None:
        row = self._row(event)
        if row is None:
            return
        started = changes.get("started", row.status.started)
        changes["ended"] = event.time
        measured = getattr(event, "duration", None)
        if "duration" not in changes and measured is not None:
            changes["duration"] = measured  # the scheduler's monotonic figure
        elif "duration" not in changes and started is not None:
            changes["duration"] = max(0.0, event.time - started)
        self._set(event, **changes)

    # -- events ----------------------------------------------------------------------------

    def _flow_started(self, event: ev.FlowStarted) -> None:
        run = self._run(event.run, event.time)
        run.open, run.runless = True, False

    def _flow_finished(self, event: ev.FlowFinished) -> None:
        run = self._run(event.run, event.time)
        run.finished = event.time
        run.counts = dict(event.counts)
        run.open = False

    def _outside_a_run(self, event: ev.StepEvent) -> None:
        """A step finished while no run is open (`%flow resume` restores outside any run).

        It is recorded under the event's run number, and that run is ended
        with it: otherwise the row would be a run with no end, read back as
        running, and as interrupted once this process is gone.
        """
        run = self._runs[event.run]
        if run.open:
            return
        if run.finished is None or run.finished < event.time:
            run.finished = event.time
        if run.runless:
            counts = dict(run.counts or {})
            counts[State.RESTORED.value] = counts.get(State.RESTORED.value, 0) + 1
            run.counts = counts

    def _plain(self, event: ev.StepEvent) -> None:
        self._set(event)

    def _waiting(self, event: ev.StepWaiting) -> None:
        current = self._current.get(event.step)
        # Scheduled again within the same run after finishing (a retry while others run): a fresh row.
        again = current is not None and current.run == event.run and current.status.state in TERMINAL
        row = self._row(event, fresh=again)
        if row is not None:
            row.status = StepStatus(event.step, State.WAITING)
            row.stale, row.keyed, row.key_parts = False, None, ()
            row.updated = event.time

    def _started(self, event: ev.StepStarted) -> None:
        row = self._row(event)
        if row is None:
            return
        status = row.status
        started = event.time if status.started is None or event.attempt == 1 else status.started
        log = (*status.attempt_log, AttemptInfo(number=event.attempt, started=event.time))
        self._set(event, attempts=event.attempt, started=started, attempt_log=log)

    def _attempt_failed(self, event: ev.AttemptFailed) -> None:
        row = self._row(event)
        if row is None:
            return
        status = row.status
        error = _first_line(event.error)
        log = self._close_attempt(status, event.time, error or "failed", event.timed_out, number=event.attempt,
                                  where=event.where)
        self._set(event, attempt_log=log, attempts=max(status.attempts, event.attempt), error=error,
                  traceback=event.traceback or None)

    def _succeeded(self, event: ev.StepSucceeded) -> None:
        row = self._row(event)
        if row is None:
            return
        status = row.status
        started = status.started if status.started is not None else event.time - event.duration
        self._ended(
            event, attempt_log=self._close_attempt(status, event.time, where=event.where), attempts=event.attempts,
            started=started, duration=event.duration, error=None, traceback=None, outputs=tuple(event.outputs),
            key=event.key, checkpoint=event.checkpoint, size=event.size, write_seconds=event.write_seconds,
            not_restorable=event.not_restorable, why=event.why)
        self._keyed(row, event.key, event.parts, event.time)

    def _failed(self, event: ev.StepFailed) -> None:
        row = self._row(event)
        if row is None:
            return
        error = _first_line(event.error)
        self._ended(event, attempt_log=self._close_attempt(row.status, event.time, error or "failed"),
                    attempts=event.attempts, error=error, traceback=event.traceback or None)

    def _ended_with_reason(self, event: ev.StepSkipped | ev.StepCancelled | ev.StepUpstreamFailed) -> None:
        row = self._row(event)
        if row is None:
            return
        if isinstance(event, ev.StepUpstreamFailed):
            reason = event.reason or (f"upstream step {event.upstream!r} failed" if event.upstream
                                      else "upstream failed")
        else:
            reason = event.reason or (event.state.value if event.state else "ended")
        changes: dict[str, Any] = {"attempt_log": self._close_attempt(row.status, event.time, reason),
                                   "reason": reason}
        if isinstance(event, ev.StepCancelled):
            changes.update(error=None, traceback=None)
        self._ended(event, **changes)

    def _restored(self, event: ev.StepRestored) -> None:
        row = self._row(event)
        if row is None:
            return
        saved = event.time_saved
        if saved is None and event.original_seconds is not None:
            saved = max(0.0, event.original_seconds - event.load_seconds)
        known: dict[str, Any] = {}  # the run that computed it, as the checkpoint says
        if event.original_seconds is not None:
            known["duration"] = event.original_seconds
        if event.attempts is not None:
            known["attempts"] = event.attempts
        self._ended(
            event, **known, outputs=tuple(event.outputs), error=None, traceback=None, key=event.key,
            checkpoint=event.checkpoint or None, size=event.size, load_seconds=event.load_seconds,
            original_seconds=event.original_seconds, computed_at=event.computed_at, time_saved=saved,
            why=event.why)
        self._keyed(row, event.key, event.parts, event.time)
        self._outside_a_run(event)

    def _keyed(self, row: StepRow, key: str | None, parts: tuple[Any, ...], when: float) -> None:
        if key is not None:
            row.keyed = when
            row.key_parts = tuple((p.kind, p.name, p.digest, p.detail) for p in parts)

    def _stale(self, event: ev.StepStale) -> None:
        # A live condition of the step's newest row, not a new execution: flag it, keep its state.
        row = self._current.get(event.step)
        if row is None:
            return
        row.stale = True
        row.status = replace(row.status, reason=event.reason or "stale")
        self._dirty_rows[(row.run, event.step)] = row
        self._run(row.run, None)
