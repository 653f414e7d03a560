"""The dependency rule (docs/guide/concepts.md, "Dependencies"), one case per row."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nbflow.core.deps import outcome, verdict
from nbflow.core.spec import make_spec
from nbflow.core.states import State

S = State


@dataclass
class Case:
    """A step with --after `after` and --after-any `any_of`, dependency states, the expected verdict."""

    id: str
    after: str
    any_of: str
    states: dict[str, State]
    expected: State | None  # None: wait; RUNNING: ready
    continue_on: tuple[str, ...] = ()


CASES = [
    Case("all-done", "a,b", "", {"a": S.SUCCEEDED, "b": S.RESTORED}, S.RUNNING),
    Case("one-pending", "a,b", "", {"a": S.SUCCEEDED, "b": S.RUNNING}, None),
    Case("skipped-satisfies", "a", "", {"a": S.SKIPPED}, S.RUNNING),
    Case("failed-blocks", "a,b", "", {"a": S.FAILED, "b": S.RUNNING}, S.UPSTREAM_FAILED),
    Case("failed-continue-satisfies", "a", "", {"a": S.FAILED}, S.RUNNING, ("a",)),
    Case("upstream-failed-blocks", "a", "", {"a": S.UPSTREAM_FAILED}, S.UPSTREAM_FAILED),
    Case("cancelled-cancels", "a", "", {"a": S.CANCELLED}, S.CANCELLED),
    Case("fail-beats-cancel", "a,b", "", {"a": S.CANCELLED, "b": S.FAILED}, S.UPSTREAM_FAILED),
    Case("any-one-success", "", "a,b", {"a": S.RUNNING, "b": S.SUCCEEDED}, S.RUNNING),
    Case("any-waits-for-after", "c", "a,b", {"a": S.SUCCEEDED, "b": S.RUNNING, "c": S.RUNNING}, None),
    Case("any-none-yet", "", "a,b", {"a": S.FAILED, "b": S.RUNNING}, None),
    Case("any-all-failed", "", "a,b", {"a": S.FAILED, "b": S.UPSTREAM_FAILED}, S.UPSTREAM_FAILED),
    Case("any-all-skipped", "", "a,b", {"a": S.SKIPPED, "b": S.SKIPPED}, S.SKIPPED),
    Case("any-skipped-and-cancelled", "", "a,b", {"a": S.SKIPPED, "b": S.CANCELLED}, S.CANCELLED),
    Case("any-settles-after-after", "c", "a", {"a": S.SKIPPED, "c": S.RUNNING}, None),
    Case("any-continue-counts-as-skip", "", "a", {"a": S.FAILED}, S.SKIPPED, ("a",)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_dependency_rule(case: Case) -> None:
    """verdict() gives the documented answer for each combination of dependency states."""
    spec = make_spec("s", "pass", after=case.after or None, after_any=case.any_of or None)
    on_fail = {name: "continue" if name in case.continue_on else "stop" for name in case.states}
    result = verdict(spec, lambda d: outcome(case.states[d], on_fail[d]))
    assert result.state == case.expected
