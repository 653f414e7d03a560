"""The dependency graph: table-driven cases for additions, rejections and queries."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

import pytest

from nbflow.core.errors import (
    CycleError,
    DependentsError,
    DuplicateStepError,
    NbflowError,
    UnknownStepError,
)
from nbflow.core.graph import Graph
from nbflow.core.spec import StepSpec, make_spec


def build(*defs: tuple[str, str]) -> Graph:
    """A graph from (name, comma-separated --after) pairs, added in order."""
    graph = Graph()
    for name, after in defs:
        graph = graph.with_step(make_spec(name, "pass", after=after or None))
    return graph


@dataclass
class Rejection:
    """Adding `new` (name, after, after_any, cell) to `start` must raise `error` with `message`."""

    id: str
    start: list[tuple[str, str]]
    new: tuple[str, str, str, str | None]
    error: type[NbflowError]
    message: str
    cells: dict[str, str] = field(default_factory=dict)


REJECTIONS = [
    Rejection("unknown-dep", [("a", "")], ("b", "x", "", None), UnknownStepError,
              "step 'b': unknown step 'x'"),
    Rejection("unknown-dep-suggests", [("load", "")], ("b", "lood", "", None), UnknownStepError,
              "step 'b': unknown step 'lood' (did you mean 'load'?)"),
    Rejection("unknown-any-dep", [("a", "")], ("b", "", "a,zz", None), UnknownStepError,
              "step 'b': unknown step 'zz'"),
    Rejection("two-cycle", [("a", ""), ("b", "a")], ("a", "b", "", None), CycleError,
              "step 'a': dependency cycle a → b → a"),
    Rejection("long-cycle", [("a", ""), ("b", "a"), ("c", "b"), ("d", "c")], ("a", "d", "", None),
              CycleError, "step 'a': dependency cycle a → b → c → d → a"),
    Rejection("any-cycle", [("a", ""), ("b", "a")], ("a", "", "b", None), CycleError,
              "step 'a': dependency cycle a → b → a"),
    Rejection("duplicate-other-cell", [("a", "")], ("a", "", "", "cell-2"), DuplicateStepError,
              "step 'a' is already defined (defined in cell cell-1)", {"a": "cell-1"}),
]


@pytest.mark.parametrize("case", REJECTIONS, ids=lambda c: c.id)
def test_rejected_definitions_change_nothing(case: Rejection) -> None:
    """A rejected definition raises a one-line error and leaves the graph as it was."""
    graph = Graph()
    for name, after in case.start:
        graph = graph.with_step(make_spec(name, "pass", after=after or None, cell=case.cells.get(name)))
    before = dict(graph.specs)
    name, after, after_any, cell = case.new
    with pytest.raises(case.error) as info:
        graph.with_step(make_spec(name, "x = 1", after=after or None, after_any=after_any or None, cell=cell))
    assert str(info.value) == case.message
    assert "\n" not in str(info.value)
    assert dict(graph.specs) == before


def test_replacement_keeps_other_steps_and_changes_edges() -> None:
    """Replacing a step swaps its definition and its edges, nothing else."""
    graph = build(("a", ""), ("b", ""), ("c", "a"))
    new = graph.with_step(make_spec("c", "y = 2", after="b"))
    assert new["c"].code == "y = 2"
    assert new.dependents("a") == ()
    assert new.dependents("b") == ("c",)
    assert graph["c"].code == "pass"  # the old graph is untouched


@dataclass
class Query:
    id: str
    defs: list[tuple[str, str]]
    step: str
    ancestors: set[str]
    descendants: set[str]


QUERIES = [
    Query("chain-middle", [("a", ""), ("b", "a"), ("c", "b")], "b", {"a"}, {"c"}),
    Query("diamond-top", [("a", ""), ("b", "a"), ("c", "a"), ("d", "b,c")], "a", set(), {"b", "c", "d"}),
    Query("diamond-bottom", [("a", ""), ("b", "a"), ("c", "a"), ("d", "b,c")], "d", {"a", "b", "c"}, set()),
    Query("isolated", [("a", ""), ("b", "")], "b", set(), set()),
]


@pytest.mark.parametrize("case", QUERIES, ids=lambda c: c.id)
def test_ancestors_and_descendants(case: Query) -> None:
    """Ancestors and descendants follow the transitive --after edges."""
    graph = build(*case.defs)
    assert graph.ancestors(case.step) == case.ancestors
    assert graph.descendants(case.step) == case.descendants


def test_topological_order_puts_dependencies_first_and_keeps_definition_order() -> None:
    """Every step comes after its dependencies; otherwise steps keep their definition order."""
    graph = build(("z", ""), ("a", "z"), ("m", ""), ("b", "a,m"))
    assert graph.topological_order() == ("z", "a", "m", "b")  # definition order is already topological
    # Redefining z to depend on m (defined after it) moves z, and so a, after m; b stays last.
    graph = graph.with_step(make_spec("z", "pass", after="m"))
    order = graph.topological_order()
    assert order == ("m", "z", "a", "b")
    position = {n: i for i, n in enumerate(order)}
    for name in graph:
        assert all(position[d] < position[name] for d in graph[name].deps)
    assert list(graph) == ["z", "a", "m", "b"]  # iteration stays definition order


def test_remove_refuses_while_dependents_exist() -> None:
    """A step others depend on cannot be removed; a leaf can."""
    graph = build(("a", ""), ("b", "a"))
    with pytest.raises(DependentsError, match="'a' cannot be removed: b depend"):
        graph.without_step("a")
    assert "b" not in graph.without_step("b")


def test_constructor_rejects_cycles_and_unknown_dependencies() -> None:
    """Building a graph from specs at once (the store's resume path) validates too."""
    a = make_spec("a", "pass", after="b")
    b = make_spec("b", "pass", after="a")
    with pytest.raises(CycleError):
        Graph([a, b])
    with pytest.raises(UnknownStepError):
        Graph([a])


def test_large_chain_is_fast_enough_to_build() -> None:
    """A 1,000-step chain builds and orders without recursion limits."""
    graph = Graph([make_spec(f"s{i}", "pass", after=f"s{i-1}" if i else None) for i in range(1000)])
    assert graph.topological_order()[-1] == "s999"
    assert len(graph.ancestors("s999")) == 999
    looped = graph.with_step(make_spec("s999", "pass", after="s998"))
    with pytest.raises(CycleError):
        looped.with_step(make_spec("s0", "pass", after="s999"))


def test_graph_errors_pickle() -> None:
    """Graph errors survive pickling with their fields."""
    error = CycleError(["a", "b", "a"])
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.cycle == ("a", "b", "a")
    assert isinstance(copy, ValueError)


def test_dependency_order_puts_dependencies_first_and_keeps_ties_in_given_order() -> None:
    """Stored specs come back defined-in-turn order; an invalid set comes back as given."""
    from nbflow.core.graph import dependency_order

    def spec(name: str, after: str | None = None) -> StepSpec:
        return make_spec(name, "pass", after=[after] if after else None)

    specs = [spec("clean", "load"), spec("other"), spec("load"), spec("total", "clean")]
    assert [s.name for s in dependency_order(specs)] == ["other", "load", "clean", "total"]
    orphan = [spec("b", "gone"), spec("a")]
    assert [s.name for s in dependency_order(orphan)] == ["b", "a"]
