"""Undeclared dependencies: a step reading another step's output without --after.

Computed from the code analysis and the graph, so the magic can warn and the
graph can draw the edge dashed.
"""

from __future__ import annotations

from .analysis import analyze
from .graph import Graph


def outputs_of(graph: Graph, name: str) -> frozenset[str]:
    """Names a step binds (a function step binds its own name)."""
    spec = graph[name]
    if spec.code is None:
        return frozenset({name})
    return analyze(spec.code).outputs


def undeclared_reads(graph: Graph, name: str) -> dict[str, str]:
    """{variable: producing step} for inputs of `name` produced by a step not upstream of it."""
    spec = graph[name]
    if spec.code is None:
        return {}
    inputs = analyze(spec.code).inputs
    upstream = graph.ancestors(name)
    found: dict[str, str] = {}
    for other in graph.topological_order():
        if other == name or other in upstream:
            continue
        for variable in sorted(inputs & outputs_of(graph, other)):
            found.setdefault(variable, other)
    return found


def undeclared_edges(graph: Graph) -> set[tuple[str, str]]:
    """(producer, consumer) pairs for every undeclared read in the graph."""
    return {(producer, name) for name in graph for producer in undeclared_reads(graph, name).values()}
