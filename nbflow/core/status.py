"""A step's status: the one shape every reader of step state uses.

The scheduler builds it for `Flow.status()`; the manifest stores and reads it
back; the widget, the batch run's notebook metadata and the CLI receive its
JSON form (`to_json`, read back with `from_json`); `format_table` prints it.
One schema means a field added here reaches every front end the same way,
and a front end never has to guess what a positional row or an ad-hoc dict
meant. `docs/guide/concepts.md` describes the states.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from .durations import format_duration
from .errors import NbflowError
from .states import State

#: Version of the JSON form; readers refuse a newer one instead of guessing.
SCHEMA = 1
#: Longest `error` / `reason` line in the summary form.
SUMMARY_CHARS = 300


class AttemptJSON(TypedDict):
    number: int
    started: float
    ended: float | None
    error: str | None
    timed_out: bool
    where: str


class _RequiredJSON(TypedDict):
    name: str
    state: str
    attempts: int


class StepStatusJSON(_RequiredJSON, total=False):
    """`StepStatus.to_json()`. The summary form (``detail=False``) has `SUMMARY_KEYS`, nulls left out."""

    duration: float | None
    source: str
    error: str | None
    reason: str | None
    time_saved: float | None
    schema: int
    started: float | None
    ended: float | None
    traceback: str | None
    outputs: list[str]
    attempt_log: list[AttemptJSON]
    key: str | None
    checkpoint: str | None
    size: int | None
    write_seconds: float | None
    load_seconds: float | None
    original_seconds: float | None
    computed_at: float | None
    not_restorable: str | None
    why: str | None
    background: int


#: What a table row, a graph node or a badge needs: the summary form's keys.
SUMMARY_KEYS = ("name", "state", "attempts", "duration", "source", "error", "reason", "time_saved")


@dataclass(frozen=True)
class AttemptInfo:
    """One attempt: wall-clock start and end, its error if it failed, and where it ran.

    `where` is what the executor reported (`thread nbflow-worker-2`,
    `process pid 1234`, a Dask worker's address); empty when not known (an
    attempt recorded by an older nbflow).
    """

    number: int
    started: float
    ended: float | None = None
    error: str | None = None
    timed_out: bool = False
    where: str = ""

    def to_json(self) -> AttemptJSON:
        return {"number": self.number, "started": self.started, "ended": self.ended, "error": self.error,
                "timed_out": self.timed_out, "where": self.where}


@dataclass(frozen=True)
class StepStatus:
    """Where a step stands and how it got there, with the provenance of its outputs.

    `size`, `write_seconds`: the checkpoint written (computed) or loaded
    (restored); `load_seconds`, `original_seconds` (how long computing took)
    and `computed_at` describe a restore, and `time_saved` is original minus
    load (never negative). A restored step's `duration` and `attempts` are
    those of the run that computed it, when its checkpoint records them.
    """

    name: str
    state: State
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    outputs: tuple[str, ...] = ()
    attempt_log: tuple[AttemptInfo, ...] = ()
    key: str | None = None
    checkpoint: str | None = None  # restored from, or written to
    size: int | None = None
    write_seconds: float | None = None
    load_seconds: float | None = None
    original_seconds: float | None = None
    computed_at: float | None = None
    time_saved: float | None = None
    not_restorable: str | None = None
    why: str | None = None  # why it ran (what changed since its last checkpoint), or why it was restored
    #: abandoned attempts (timed out, cancelled) whose thread still runs: a thread cannot be killed, so
    #: this is why the kernel may stay busy after the step has failed or been cancelled
    background: int = 0

    @property
    def source(self) -> str:
        """computed / restored / '' (nothing produced)."""
        if self.state is State.RESTORED:
            return "restored"
        return "computed" if self.state is State.SUCCEEDED else ""

    @property
    def detail(self) -> str:
        """The first line of the error, or of the skip/cancel/stale reason, or of why it cannot restore."""
        text = self.error or self.reason or self.not_restorable or ""
        line = text.splitlines()[0] if text else ""
        if self.background:
            still = ("its abandoned attempt is" if self.background == 1
                     else f"{self.background} abandoned attempts are")
            line = f"{line} ({still} still running in the background)" if line else \
                f"{still} still running in the background"
        return line

    def restore_summary(self) -> str:
        """This restore's provenance (`restore_summary`, below), from the loaded checkpoint's figures."""
        return restore_summary(self.computed_at, self.original_seconds, self.time_saved, self.load_seconds)

    def describe_source(self) -> str:
        """One line on where the outputs come from: `restored: computed 2026-12-01 14:03 in 4.0s, saved 3.9s`."""
        if self.state is State.RESTORED:
            return "restored: " + self.restore_summary()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.ended)) if self.ended else "at an unknown time"
        text = f"computed {when}"
        if self.duration is not None:
            text += f" in {format_duration(self.duration)}"
        if self.checkpoint:
            text += f", checkpoint {self.checkpoint}"
        return text

    def to_json(self, *, detail: bool = True) -> StepStatusJSON:
        """The JSON form: every field (and `schema`, its version).

        `detail=False` gives the summary form: `SUMMARY_KEYS` only, without
        the ones that are null or empty, `error` and `reason` cut to their
        first line (at most `SUMMARY_CHARS`) and `duration` to the
        millisecond: small enough to send for every step on every update of
        a 1,000-step graph.
        """
        if not detail:
            data: StepStatusJSON = {"name": self.name, "state": self.state.value, "attempts": self.attempts}
            if self.duration is not None:
                data["duration"] = round(self.duration, 3)
            if self.source:
                data["source"] = self.source
            if self.error:
                data["error"] = _line(self.error)
            if self.reason:
                data["reason"] = _line(self.reason)
            if self.time_saved is not None:
                data["time_saved"] = self.time_saved
            return data
        return {
            "schema": SCHEMA, "name": self.name, "state": self.state.value, "attempts": self.attempts,
            "started": self.started, "ended": self.ended, "duration": self.duration, "source": self.source,
            "error": self.error, "reason": self.reason, "time_saved": self.time_saved,
            "traceback": self.traceback, "outputs": list(self.outputs),
            "attempt_log": [a.to_json() for a in self.attempt_log], "key": self.key,
            "checkpoint": self.checkpoint, "size": self.size, "write_seconds": self.write_seconds,
            "load_seconds": self.load_seconds, "original_seconds": self.original_seconds,
            "computed_at": self.computed_at, "not_restorable": self.not_restorable, "why": self.why,
            "background": self.background,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepStatus:
        """Read `to_json()` output back (either form); a malformed or newer one is a `StatusFormatError`."""
        try:
            if int(data.get("schema", SCHEMA)) > SCHEMA:
                raise StatusFormatError(f"step status schema {data['schema']} is newer than this nbflow's {SCHEMA}")
            log = tuple(AttemptInfo(number=int(a["number"]), started=float(a["started"]), ended=a.get("ended"),
                                    error=a.get("error"), timed_out=bool(a.get("timed_out")),
                                    where=str(a.get("where") or "")) for a in data.get("attempt_log") or ())
            return cls(
                name=str(data["name"]), state=State(data["state"]), attempts=int(data.get("attempts") or 0),
                started=data.get("started"), ended=data.get("ended"), duration=data.get("duration"),
                error=data.get("error"), traceback=data.get("traceback"), reason=data.get("reason"),
                outputs=tuple(data.get("outputs") or ()), attempt_log=log, key=data.get("key"),
                checkpoint=data.get("checkpoint"), size=data.get("size"), write_seconds=data.get("write_seconds"),
                load_seconds=data.get("load_seconds"), original_seconds=data.get("original_seconds"),
                computed_at=data.get("computed_at"), time_saved=data.get("time_saved"),
                not_restorable=data.get("not_restorable"), why=data.get("why"),
                background=int(data.get("background") or 0),
            )
        except StatusFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise StatusFormatError(f"not a step status ({type(error).__name__}: {error})") from error


def restore_summary(computed_at: float | None, original_seconds: float | None, time_saved: float | None,
                    load_seconds: float | None) -> str:
    """`computed 2026-12-01 14:03 in 4.0s, saved 3.9s`: a restore's provenance, in one wording everywhere.

    Every figure is the loaded checkpoint's own (its header's time and the
    run time it recorded); time saved is never negative.
    """
    parts = []
    if computed_at:
        parts.append("computed " + time.strftime("%Y-%m-%d %H:%M", time.localtime(computed_at)))
        if original_seconds is not None:
            parts[-1] += f" in {format_duration(original_seconds)}"
    elif original_seconds is not None:
        parts.append(f"computed in {format_duration(original_seconds)}")
    if time_saved is not None:
        parts.append(f"saved {format_duration(max(time_saved, 0.0))}")
    elif load_seconds is not None:
        parts.append(f"loaded in {format_duration(load_seconds)}")
    return ", ".join(parts) or "from its checkpoint"


def _line(text: str | None) -> str | None:
    if not text:
        return text
    return text.splitlines()[0][:SUMMARY_CHARS] if text.strip() else ""


class StatusFormatError(NbflowError, ValueError):
    """A step status in JSON that this nbflow cannot read."""


TABLE_COLUMNS = ("step", "state", "attempts", "duration", "source", "saved", "error")


def format_table(statuses: Iterable[StepStatus]) -> str:
    """The status table every front end prints: one row per step, then the totals.

    `%flow status`, `nbflow status` and `nbflow run`'s summary all use it, so
    the same run reads the same everywhere.
    """
    statuses = list(statuses)
    rows = [TABLE_COLUMNS, *(_row(s) for s in statuses)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    saved = sum(s.time_saved or 0.0 for s in statuses if s.state is State.RESTORED)
    restored = sum(1 for s in statuses if s.state is State.RESTORED)
    lines.append(f"{len(statuses)} steps, {restored} restored; time saved by restoring: {format_duration(saved)}")
    return "\n".join(lines)


def _cut(detail: str, limit: int = 120) -> str:
    """At most `limit` characters, keeping a "still running in the background" note at the end."""
    if len(detail) <= limit:
        return detail
    note = detail.rfind(" (")
    if detail.endswith("in the background)") and note > 0:
        tail = detail[note:]
        return detail[: max(0, limit - len(tail) - 1)] + "…" + tail
    return detail[:limit]


def _row(status: StepStatus) -> tuple[str, ...]:
    saved = status.time_saved if status.state is State.RESTORED else None
    return (
        status.name, status.state.value, str(status.attempts), format_duration(status.duration), status.source,
        format_duration(saved) if saved else "", _cut(status.detail),
    )
