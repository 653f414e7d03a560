"""The dependency rule (docs/guide/concepts.md, "Dependencies") as one pure function.

The scheduler asks it whether a waiting step may run, may not, or is
settled (blocked, cancelled, skipped) by its dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .spec import StepSpec
from .states import State


class Outcome(Enum):
    """What a dependency's state means to a step waiting on it."""

    OUTPUT = "output"  # succeeded or restored: satisfies --after and --after-any
    SKIP = "skip"  # skipped, or failed with --on-fail continue: satisfies --after only
    FAIL = "fail"  # failed (--on-fail stop) or upstream-failed: blocks
    CANCEL = "cancel"  # cancelled: blocks
    PENDING = "pending"  # not finished


def outcome(state: State, on_fail: str) -> Outcome:
    if state in (State.SUCCEEDED, State.RESTORED):
        return Outcome.OUTPUT
    if state is State.SKIPPED:
        return Outcome.SKIP
    if state is State.FAILED:
        return Outcome.SKIP if on_fail == "continue" else Outcome.FAIL
    if state is State.UPSTREAM_FAILED:
        return Outcome.FAIL
    if state is State.CANCELLED:
        return Outcome.CANCEL
    return Outcome.PENDING


@dataclass(frozen=True)
class Verdict:
    """READY, WAIT, or a terminal state with the dependency (or reason) behind it."""

    state: State | None  # None: wait; RUNNING: ready; else the terminal state to take
    upstream: str = ""
    reason: str = ""


WAIT = Verdict(None)
READY = Verdict(State.RUNNING)


def verdict(spec: StepSpec, dep_outcome: Callable[[str], Outcome],
            blocked: Callable[[str], bool] = lambda dep: False) -> Verdict:
    """Whether `spec` may run, must wait, or is settled by its dependencies.

    `blocked(dep)`: the dependency is upstream-failed itself, so the reason
    says it was blocked rather than that it failed.
    """
    results = {dep: dep_outcome(dep) for dep in spec.after}
    # A failure blocks before a cancellation does, whatever their order.
    for dep, result in results.items():
        if result is Outcome.FAIL:
            what = "was blocked by a failure further up" if blocked(dep) else "failed"
            return Verdict(State.UPSTREAM_FAILED, dep, f"upstream step {dep!r} {what}")
    for dep, result in results.items():
        if result is Outcome.CANCEL:
            return Verdict(State.CANCELLED, dep, f"upstream step {dep!r} was cancelled")
    all_ready = Outcome.PENDING not in results.values()
    any_of = [d for d in spec.after_any if d not in spec.after]
    if not any_of:
        return READY if all_ready else WAIT
    results = {dep: dep_outcome(dep) for dep in any_of}
    if Outcome.OUTPUT in results.values():
        return READY if all_ready else WAIT
    if not all_ready or Outcome.PENDING in results.values():
        # Settle on the --after-any side only once --after is settled too, so
        # the outcome never depends on which dependency finished first.
        return WAIT
    for blocking, state in ((Outcome.FAIL, State.UPSTREAM_FAILED), (Outcome.CANCEL, State.CANCELLED)):
        for dep, result in results.items():
            if result is blocking:
                return Verdict(state, dep, f"no --after-any step succeeded ({dep!r} {state.value})")
    return Verdict(State.SKIPPED, "", "every --after-any step was skipped")
