"""Undeclared dependencies: a step reading another step's output without --after.

Computed from the code analysis and the graph, so the magic can warn and the
graph can draw the edge dashed.
"""

from __future__ import annotations

from .graph import Graph


def outputs_of(graph: Graph, name: str) -> frozenset[str]:
    """Names a step binds (a function step binds its own name)."""
    return graph[name].outputs


def undeclared_reads(graph: Graph, name: str) -> dict[str, str]:
    """{variable: producing step} for inputs of `name` produced by a step not upstream of it.

    For each variable the first such producer in topological order; ordered by
    producer, then variable. Looks only at the producers of what the step reads
    (the graph keeps that index), so a define costs no scan of the whole flow.
    """
    analysis = graph[name].analysis
    if analysis is None:
        return {}
    found: dict[str, str] = {}
    for variable in analysis.inputs:
        for producer in graph.producers(variable):
            if producer != name and not graph.depends_on(name, producer):
                found[variable] = producer
                break
    ordered = sorted(found.items(), key=lambda item: (graph.position(item[1]), item[0]))
    return dict(ordered)


def undeclared_edges(graph: Graph) -> set[tuple[str, str]]:
    """(producer, consumer) pairs for every undeclared read in the graph."""
    return {(producer, name) for name in graph for producer in undeclared_reads(graph, name).values()}
