"""Hypothesis: random DAGs with random failures, retries, conditions and cancellations.

The oracle below restates the dependency rule of docs/guide/concepts.md on its own (it does not call the
scheduler's dependency rule): given what each step's body does, it says how
the run must end. The events are replayed to check that no attempt started
before its dependencies allowed it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbflow.core import events as ev
from nbflow.core.flow import Flow


@dataclass(frozen=True)
class Plan:
    """One step of a random flow and what its body will do."""

    name: str
    after: tuple[str, ...]
    after_any: tuple[str, ...]
    fails: int  # attempts that raise before one succeeds
    retries: int
    condition: bool | None  # None: no --if
    on_fail: str
    gated: bool  # blocks until cancelled


@st.composite
def plans(draw: st.DrawFn) -> list[Plan]:
    count = draw(st.integers(1, 12))
    out: list[Plan] = []
    gated = 0
    for i in range(count):
        earlier = [p.name for p in out]
        after = tuple(draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True))) if earlier else ()
        rest = [n for n in earlier if n not in after]
        after_any = tuple(draw(st.lists(st.sampled_from(rest), max_size=2, unique=True))) if rest else ()
        gate = gated < 3 and draw(st.booleans()) and draw(st.booleans())
        gated += gate
        out.append(Plan(
            name=f"s{i}",
            after=after,
            after_any=after_any,
            fails=draw(st.integers(0, 3)),
            retries=draw(st.integers(0, 2)),
            condition=draw(st.sampled_from([None, None, True, False])),
            on_fail=draw(st.sampled_from(["stop", "stop", "continue"])),
            gated=gate,
        ))
    return out


def oracle(steps: list[Plan]) -> dict[str, str]:
    """How the run must end, step by step in definition (= topological) order."""
    final: dict[str, str] = {}
    by_name = {p.name: p for p in steps}

    def as_dep(name: str) -> str:
        state = final[name]
        if state == "failed" and by_name[name].on_fail == "continue":
            return "skipped"
        return state

    for plan in steps:
        all_of = [as_dep(d) for d in plan.after]
        any_of = [as_dep(d) for d in plan.after_any]
        if any(s in ("failed", "upstream-failed") for s in all_of):
            final[plan.name] = "upstream-failed"
            continue
        if "cancelled" in all_of:
            final[plan.name] = "cancelled"
            continue
        if any_of and "succeeded" not in any_of:
            if any(s in ("failed", "upstream-failed") for s in any_of):
                final[plan.name] = "upstream-failed"
            elif "cancelled" in any_of:
                final[plan.name] = "cancelled"
            else:
                final[plan.name] = "skipped"
            continue
        if plan.condition is False:
            final[plan.name] = "skipped"
        elif plan.gated:
            final[plan.name] = "cancelled"
        elif plan.fails > plan.retries:
            final[plan.name] = "failed"
        else:
            final[plan.name] = "succeeded"
    return final


def body(plan: Plan) -> str:
    lines = [f"runs.append({plan.name!r})"]
    if plan.gated:
        lines.append(f"entered.add({plan.name!r})\ngate.wait(10)")
    lines.append(f"if runs.count({plan.name!r}) <= {plan.fails}:\n    raise ValueError('planned')")
    lines.append(f"out_{plan.name} = True")
    return "\n".join(lines)


def wait_until_stuck(flow: Flow) -> None:
    """Until every active step is blocked at its gate or waiting on a gated one."""
    entered = flow.namespace["entered"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = flow.status()
        active = {n: s.state.value for n, s in status.items() if s.state.value in
                  ("waiting", "queued", "running", "retrying")}
        if all(state == "waiting" or (state == "running" and n in entered) for n, state in active.items()):
            return
        time.sleep(0.005)
    raise AssertionError(f"flow never settled: {flow.table()}")


def check_start_order(events: list[ev.Event], steps: list[Plan]) -> None:
    """Replay the events: every attempt started only once its dependencies allowed it."""
    by_name = {p.name: p for p in steps}
    state: dict[str, str] = {}
    for event in events:
        if isinstance(event, ev.StepStarted):
            plan = by_name[event.step]
            for dep in plan.after:
                ok = state.get(dep) in ("succeeded", "skipped") or (
                    state.get(dep) == "failed" and by_name[dep].on_fail == "continue")
                assert ok, f"{event.step} started while {dep} was {state.get(dep)}"
            if plan.after_any:
                assert any(state.get(d) == "succeeded" for d in plan.after_any), event.step
        if isinstance(event, ev.StepEvent) and event.state is not None:
            state[event.step] = event.state.value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_random_flows_end_as_the_oracle_says(steps: list[Plan]) -> None:
    """Final states match the oracle; each attempt ran once; starts respected dependencies."""
    before = set(threading.enumerate())
    flow = Flow(max_workers=16)
    gate = threading.Event()
    flow.namespace.update(runs=[], entered=set(), gate=gate)
    seen: list[ev.Event] = []
    flow.subscribe(seen.append)
    try:
        for plan in steps:
            flow.namespace[f"flag_{plan.name}"] = plan.condition
            flow.add(plan.name, body(plan), after=plan.after or None, after_any=plan.after_any or None,
                     retries=plan.retries, on_fail=plan.on_fail,
                     condition=f"flag_{plan.name}" if plan.condition is not None else None)
        flow.run()
        gated = {p.name for p in steps if p.gated}
        wait_until_stuck(flow)
        flow.cancel(*sorted(gated))
        flow.wait(timeout=20, raise_on_failure=False)
        gate.set()
        status = flow.status()
        assert {n: s.state.value for n, s in status.items()} == oracle(steps)
        runs = flow.namespace["runs"]
        for plan in steps:
            assert runs.count(plan.name) == status[plan.name].attempts, plan.name
            if status[plan.name].state.value == "succeeded":
                assert flow.namespace[f"out_{plan.name}"] is True
            else:
                assert f"out_{plan.name}" not in flow.namespace
        check_start_order(seen, steps)
    finally:
        gate.set()
        flow.close()
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert left == []
