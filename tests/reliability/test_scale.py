"""Large flows: thousands of steps defined, run once each, restored, listed, in the API and a real kernel.

Correctness at scale, not speed (bench/scale.py measures that): each step
starts exactly once (counted from the event stream, the one way facts come
out), binds its output, and a second flow on the same store restores every
step without running any. The short forms use 2,000 steps (API) and 300
step cells (kernel); the long forms (`pytest -m long`) 10,000 each.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from nbflow.core import events as ev
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.render.dot import MAX_DRAWN_STEPS
from nbflow.store.store import open_store
from tests.kernel.conftest import Kernel

SHORT, LONG = 2_000, 10_000


def dependencies(shape: str, n: int) -> list[list[str]]:
    """--after lists: fan-out (all after s0), chain (after the previous one) or a seeded random DAG."""
    rng = random.Random(n)
    deps: list[list[str]] = [[]]
    for i in range(1, n):
        if shape == "fanout":
            deps.append(["s0"])
        elif shape == "chain":
            deps.append([f"s{i - 1}"])
        else:
            pool = range(max(0, i - 50), i)
            deps.append([f"s{j}" for j in rng.sample(pool, min(len(pool), rng.randint(1, 3)))])
    return deps


def run_flow(folder: Path, shape: str, n: int) -> tuple[Flow, Counter[str], Counter[str], Counter[str]]:
    """A flow of n steps over a store in `folder`, run to the end; (flow, starts, computed, restored) per step.

    A restore is an attempt too (it starts, then restores instead of succeeding).
    """
    store = open_store(folder, flow_name="scale")
    flow = Flow(cache=store)
    flow.subscribe(store.manifest)
    starts: Counter[str] = Counter()
    computed: Counter[str] = Counter()
    restores: Counter[str] = Counter()

    def count(event: ev.Event) -> None:
        if isinstance(event, ev.StepStarted):
            starts[event.step] += 1
        elif isinstance(event, ev.StepSucceeded):
            computed[event.step] += 1
        elif isinstance(event, ev.StepRestored):
            restores[event.step] += 1

    flow.subscribe(count)
    for i, after in enumerate(dependencies(shape, n)):
        flow.add(f"s{i}", f"x{i} = {i}", after=after or None)
    flow.run()
    flow.wait(timeout=600)
    store.close()
    return flow, starts, computed, restores


def check_large_flow(tmp_path: Path, shape: str, n: int) -> None:
    once = Counter({f"s{i}": 1 for i in range(n)})
    flow, starts, computed, restores = run_flow(tmp_path, shape, n)
    try:
        assert len(flow.graph) == n
        assert starts == once and computed == once and not restores
        assert all(flow.namespace[f"x{i}"] == i for i in range(n))
        states = Counter(s.state for s in flow.status().values())
        assert states == Counter({State.SUCCEEDED: n})
        order = flow.graph.topological_order()
        position = {name: i for i, name in enumerate(order)}
        assert len(order) == n and all(position[d] < position[s] for s in order for d in flow.graph[s].deps)
    finally:
        flow.close()
    again, starts, computed, restores = run_flow(tmp_path, shape, n)  # a new flow on the same store
    try:
        assert not computed and restores == once and starts == once
        assert all(again.namespace[f"x{i}"] == i for i in range(n))
    finally:
        again.close()


@pytest.mark.parametrize("shape", ["fanout", "chain", "dag"])
def test_thousands_of_steps_each_run_once_then_restore(tmp_path: Path, shape: str) -> None:
    """2,000 steps with a store: every step starts once, binds its output, and all restore in a new flow."""
    check_large_flow(tmp_path, shape, SHORT)


@pytest.mark.long
@pytest.mark.parametrize("shape", ["fanout", "chain", "dag"])
def test_ten_thousand_steps_each_run_once_then_restore(tmp_path: Path, shape: str) -> None:
    """The long form: 10,000 steps."""
    check_large_flow(tmp_path, shape, LONG)


KERNEL_CELL = """
ip = get_ipython()
for i in range({n}):
    ip.run_cell_magic("step", f"s{{i}}" + (f" --after s{{i - 1}}" if i else ""), f"x{{i}} = {{i}}")
"""

KERNEL_CHECK = """
from collections import Counter
from nbflow.jupyter.extension import kernel_flow
statuses = kernel_flow().flow.status()
print(len(statuses), dict(Counter(s.state.value for s in statuses.values())),
      sum(s.attempts for s in statuses.values()), all(globals()[f"x{{i}}"] == i for i in range({n})))
"""


def check_kernel(tmp_path: Path, n: int) -> None:
    """n `%%step` cells' worth of definitions in one real kernel, run, shown, then resumed after a restart."""
    kernel = Kernel(tmp_path)
    try:
        assert kernel.execute("%load_ext nbflow").status == "ok"
        reply = kernel.execute(KERNEL_CELL.format(n=n), timeout=600)
        assert reply.status == "ok", reply.error
        assert kernel.execute("%flow wait", timeout=600).status == "ok"
        summary = kernel.execute(KERNEL_CHECK.format(n=n)).text.strip()
        assert summary == f"{n} {{'succeeded': {n}}} {n} True"
        shown = kernel.execute("%flow show", timeout=120)
        assert shown.status == "ok", shown.error
        (model,) = [m for m in shown.widget_ids() if "steps" in kernel.widgets.get(m, {})]
        state = kernel.wait_widget(model, lambda s: len(s.get("steps", {})) == n, timeout=120)
        assert {row["state"] for row in state["steps"].values()} == {"succeeded"}
        if n > MAX_DRAWN_STEPS:  # listed, not drawn: said in one line instead of a layout that takes minutes
            state = kernel.wait_widget(model, lambda s: "not drawn" in s.get("message", ""), timeout=60)
            assert f"{n:,} steps are more than the {MAX_DRAWN_STEPS:,}" in state["message"]
    finally:
        kernel.close()
    kernel = Kernel(tmp_path)  # a restart: the manifest rebuilds every step, the checkpoints restore them
    try:
        assert kernel.execute("%load_ext nbflow").status == "ok"
        resumed = kernel.execute("%flow resume", timeout=600)
        assert resumed.status == "ok", resumed.error
        assert kernel.execute("%flow wait", timeout=600).status == "ok"
        summary = kernel.execute(KERNEL_CHECK.format(n=n)).text.strip()
        assert summary == f"{n} {{'restored': {n}}} {n} True"  # attempts: the original run's
    finally:
        kernel.close()


def test_hundreds_of_step_cells_in_a_real_kernel(tmp_path: Path) -> None:
    """300 step definitions through the `%%step` magic: each runs once, the widget lists all, resume restores all."""
    check_kernel(tmp_path, 300)


@pytest.mark.long
def test_ten_thousand_step_cells_in_a_real_kernel(tmp_path: Path) -> None:
    """The long form: 10,000 steps (the widget lists them; the graph is too large to draw)."""
    check_kernel(tmp_path, LONG)
