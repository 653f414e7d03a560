"""What readers of the manifest get back: a step's `StepStatus` in a run, runs, stored step specs.

A step row is the core's `StepStatus` plus where it sits (flow, session,
run): the one status schema, read back, so `nbflow status` prints a stored
run with the same table as `%flow status` prints a live one.
"""

from __future__ import annotations

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
