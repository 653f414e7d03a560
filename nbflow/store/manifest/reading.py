"""The manifest's questions: each one flushes this process's pending rows, then reads one snapshot.

A mixin of `Manifest` (`manifest.py`), which provides `_read`, `flow_name` and
`session`; the SQL is in `queries.py` and `specs.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from . import queries, specs
from .records import Interruption, RunRecord, SpecRecord, StepRecord

T = TypeVar("T")


class Reads:
    """What can be asked of a manifest."""

    flow_name: str
    session: str

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    def load_specs(self, flow_name: str | None = None) -> list[SpecRecord]:
        """The stored specs of a flow (default: this one), in cell order."""
        return self._read(lambda c: specs.load_specs(c, flow_name or self.flow_name))

    def latest(self, flow_name: str | None = None) -> list[StepRecord]:
        """The newest known row of each step of a flow (default: this one), with its attempts."""
        return self._read(lambda c: queries.latest(c, flow_name or self.flow_name))

    def runs(self, limit: int | None = 20, flow_name: str | None = None, per_session: bool = False
             ) -> list[RunRecord]:
        """The newest runs of a flow (default: this one), newest first; `per_session`: one per kernel session."""
        return self._read(lambda c: queries.runs(c, flow_name or self.flow_name, limit, per_session))

    def interruption(self, flow_name: str | None = None) -> Interruption | None:
        """The flow's latest session if its process died mid-run (what a new kernel tells the user); else None."""
        return self._read(lambda c: queries.interruption(c, flow_name or self.flow_name))

    def run_steps(self, run_id: int) -> list[StepRecord]:
        """Every step row of one run (`RunRecord.id`)."""
        return self._read(lambda c: queries.run_steps(c, run_id))

    def provenance(self, step: str, flow_name: str | None = None) -> StepRecord | None:
        """Where the step's current outputs come from: its newest succeeded or restored row; None if none."""
        return self._read(lambda c: queries.provenance(c, flow_name or self.flow_name, step))

    def total_time_saved(self, run: int | None = None, *, run_id: int | None = None,
                         flow_name: str | None = None) -> float:
        """Seconds saved by restores.

        `run`: a run number of this session (an event's `.run`); `run_id`: a
        `RunRecord.id`; neither: summed over the newest row of each step (what
        the notebook as it stands has saved).
        """
        if run is None and run_id is None:
            return float(sum(r.status.time_saved or 0.0 for r in self.latest(flow_name)
                             if r.status.source == "restored"))

        return self._read(lambda c: queries.run_time_saved(c, run_id, (self.flow_name, self.session, run)))

    def referenced_keys(self, flow_name: str | None = None) -> set[tuple[str, str]]:
        """(step, key) of the newest recorded key of each step, for cleaning.

        Default: every flow in the store, since checkpoint files are named by
        step and key only and flows share the store; `flow_name` narrows it.
        """
        return self._read(lambda c: queries.referenced_keys(c, flow_name))
