"""What readers of the manifest get back: a step's `StepStatus` in a run, runs, stored step specs.

A step row is the core's `StepStatus` plus where it sits (flow, session,
run): the one status schema, read back, so `nbflow status` prints a stored
run with the same table as `%flow status` prints a live one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from nbflow.core.header import parse_header
from nbflow.core.spec import StepSpec
from nbflow.core.status import StepStatus


@dataclass(frozen=True)
class StepRecord:
    """One step in one run, as the manifest knows it (times are wall-clock seconds).

    `status.state` is `stale` while the flag is set (the stored state stays in
    the file); `key_parts` are (kind, name, digest, detail) of the key's parts.
    """

    flow: str
    run_id: int  # the `runs.id` of the run, unique in the store
    session: str
    run: int  # the flow's run number in that session (the events' `.run`)
    status: StepStatus
    stale: bool = False
    updated: float | None = None
    keyed: float | None = None
    key_parts: tuple[tuple[str, ...], ...] = ()


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
    #: it never finished and the process recording it is gone (killed, crashed)
    interrupted: bool = False

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass(frozen=True)
class Interruption:
    """A kernel session's run that never ended because its process is gone: what the widget and kernel say."""

    run: RunRecord  # the session's runs merged (`runs(per_session=True)`): its id is the one `nbflow status` lists
    last_seen: float  # the last change the manifest has from it (the process died within a second or so after)
    unfinished: tuple[str, ...]  # its steps read back as `interrupted`, in the order they were recorded

    def text(self) -> str:
        """One line: ``previous run #4 was interrupted at 14:02 (its process ended): fit, report did not finish``."""
        same_day = time.localtime(self.last_seen)[:3] == time.localtime()[:3]
        when = time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", time.localtime(self.last_seen))
        steps = f": {', '.join(self.unfinished)} did not finish" if self.unfinished else ""
        return f"previous run #{self.run.id} was interrupted at {when} (its process ended){steps}"


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
