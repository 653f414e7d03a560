"""Which steps one `run` call takes: the named ones, what they need, and what lies below them.

Kept apart from the state machine because it changes nothing: it reads the
graph and the step records and says what to schedule, and which active steps
below a re-run step must go back to waiting for fresh inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from .graph import Graph
from .record import StepRecord
from .states import TERMINAL, UP_TO_DATE, State


def select(graph: Graph, steps: Mapping[str, StepRecord], active: Set[str], names: Iterable[str] | None,
           force: bool, rerun_failed: bool) -> tuple[set[str], list[StepRecord]]:
    """(the steps to schedule, the active steps below them to restart); `names` are known steps.

    A forced named step is taken even while it is active (its attempt is
    abandoned); the active steps below it restart, and are forced too.
    """
    if names is None:
        chosen = {n for n, s in steps.items() if n not in active and (force or s.state not in UP_TO_DATE)}
    else:
        chosen = set()
        for name in names:
            if force or (name not in active and steps[name].state not in UP_TO_DATE):
                chosen.add(name)  # forced: even an active step starts again, without restoring
            _add_needs(graph, steps, active, name, chosen, rerun_failed)
    restart: list[StepRecord] = []
    for below in graph.descendants_of(chosen) - chosen:
        step = steps[below]
        if below in active:
            restart.append(step)
        elif step.state is not State.PENDING:
            chosen.add(below)
    return chosen, restart


def _add_needs(graph: Graph, steps: Mapping[str, StepRecord], active: Set[str], name: str, chosen: set[str],
               rerun_failed: bool) -> None:
    """Add the not-up-to-date, not-active ancestors that `name` needs."""
    frontier = [name]
    while frontier:
        spec = graph[frontier.pop()]
        needed = list(spec.after)
        any_of = [d for d in spec.after_any if d not in spec.after]
        if any_of and not any(steps[d].state in UP_TO_DATE or d in active for d in any_of):
            needed.extend(any_of)
        for dep in needed:
            state = steps[dep].state
            settled = state in UP_TO_DATE or (not rerun_failed and state in TERMINAL)
            if dep not in chosen and dep not in active and not settled:
                chosen.add(dep)
                frontier.append(dep)
