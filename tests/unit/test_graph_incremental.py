"""The incremental graph against an oracle that rebuilds everything, over random edit sequences.

`Graph.with_step` and `without_step` update persistent maps and keep the
topological order without sorting while definition order allows; the oracle
here recomputes every answer from the list of specs alone. Old graphs must
keep answering as they did (they are snapshots other threads read).
"""

from __future__ import annotations

import heapq
import random

import pytest

from nbflow.core.errors import NbflowError
from nbflow.core.graph import Graph
from nbflow.core.reads import undeclared_reads
from nbflow.core.spec import StepSpec, make_spec


def oracle_order(specs: dict[str, StepSpec], seq: dict[str, int]) -> tuple[str, ...]:
    """Dependencies first, the earliest-defined ready step next (Kahn with a heap), from scratch."""
    indegree = {n: len(set(s.deps)) for n, s in specs.items()}
    children: dict[str, list[str]] = {n: [] for n in specs}
    for n, s in specs.items():
        for d in set(s.deps):
            children[d].append(n)
    ready = [(seq[n], n) for n, k in indegree.items() if k == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for c in children[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(ready, (seq[c], c))
    return tuple(order)


def closure(specs: dict[str, StepSpec], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(specs[name].deps)
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(specs[n].deps)
    return seen


VARIABLES = ("a", "b", "c", "d", "e")


def random_code(rng: random.Random) -> str:
    """Binds one or two of a few variables and reads some others, so producers overlap."""
    bound = rng.sample(VARIABLES, rng.randint(1, 2))
    read = rng.sample(VARIABLES, rng.randint(0, 2))
    return "\n".join(f"{v} = {' + '.join(read) or '0'}" for v in bound)


def oracle_undeclared(specs: dict[str, StepSpec], order: tuple[str, ...], name: str) -> dict[str, str]:
    """The first producer in topological order of each input that is not upstream (the old full scan)."""
    inputs = specs[name].analysis.inputs  # type: ignore[union-attr]
    upstream = closure(specs, name)
    found: dict[str, str] = {}
    for other in order:
        if other == name or other in upstream:
            continue
        for variable in sorted(inputs & specs[other].outputs):
            found.setdefault(variable, other)
    return found


def check(graph: Graph, specs: dict[str, StepSpec], seq: dict[str, int]) -> None:
    assert list(graph) == sorted(specs, key=seq.__getitem__)
    assert len(graph) == len(specs)
    order = oracle_order(specs, seq)
    assert graph.topological_order() == order
    assert sorted(specs, key=graph.position) == list(order)
    for name, spec in specs.items():
        assert graph[name] is spec
        expected_children = sorted((c for c, s in specs.items() if name in s.deps), key=seq.__getitem__)
        assert list(graph.dependents(name)) == expected_children
        up = closure(specs, name)
        assert graph.ancestors(name) == up
        for other in specs:
            assert graph.depends_on(name, other) == (other in up)
        assert list(undeclared_reads(graph, name).items()) == list(oracle_undeclared(specs, order, name).items())
    for variable in VARIABLES:
        assert list(graph.producers(variable)) == [n for n in order if variable in specs[n].outputs]


@pytest.mark.parametrize("seed", range(40))
def test_random_edits_match_a_graph_rebuilt_from_scratch(seed: int) -> None:
    """Adds, redefinitions (new dependencies, back edges, cycles refused) and removals, 60 edits each."""
    rng = random.Random(seed)
    graph, specs, seq, counter = Graph(), {}, {}, 0
    snapshots: list[tuple[Graph, dict[str, StepSpec], dict[str, int]]] = []
    for _ in range(60):
        names = list(specs)
        action = rng.random()
        if action < 0.15 and names:
            name = rng.choice(names)
            try:
                new = graph.without_step(name)
            except NbflowError:
                assert any(name in s.deps for s in specs.values())
                continue
            graph = new
            del specs[name], seq[name]
        else:
            replacing = action < 0.45 and names
            name = rng.choice(names) if replacing else f"s{counter}"
            pool = [n for n in names if n != name]
            deps = rng.sample(pool, min(len(pool), rng.randint(0, 3)))
            after, after_any = deps[: len(deps) // 2 + 1], deps[len(deps) // 2 + 1 :]
            spec = make_spec(name, random_code(rng), after=after or None, after_any=after_any or None)
            trial = {**specs, name: spec}
            would_cycle = name in specs and name in set().union(*(closure(trial, d) | {d} for d in spec.deps))
            try:
                new = graph.with_step(spec)
            except NbflowError:
                assert would_cycle
                continue
            assert not would_cycle
            graph = new
            if name not in specs:
                seq[name] = counter
                counter += 1
            specs[name] = spec
        check(graph, specs, seq)
        snapshots.append((graph, dict(specs), dict(seq)))
    for old, old_specs, old_seq in snapshots:  # every earlier graph still answers as it did
        check(old, old_specs, old_seq)


def test_the_constructor_agrees_with_step_by_step_additions() -> None:
    """`Graph(specs)` (the resume path) equals adding the same specs one by one."""
    rng = random.Random(3)
    specs: list[StepSpec] = []
    for i in range(200):
        deps = rng.sample([s.name for s in specs], min(len(specs), rng.randint(0, 3)))
        specs.append(make_spec(f"s{i}", "pass", after=deps or None))
    built = Graph(specs)
    stepwise = Graph()
    for spec in specs:
        stepwise = stepwise.with_step(spec)
    assert built.topological_order() == stepwise.topological_order()
    assert [built.dependents(s.name) for s in specs] == [stepwise.dependents(s.name) for s in specs]
