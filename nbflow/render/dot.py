"""The flow as DOT: one node per step, declared edges solid, undeclared ones dashed.

Two flavours from one function: the *live* layout for the widget (labels
reserve room for a detail line the browser fills in, so a state change
recolours nodes without a new layout), and the *static* drawing with states,
durations and a legend baked in, for batch output and `nbflow dag`.

The legend is a node of its own on the last rank (`rank=sink`), below every
step, so the layout keeps it clear of the steps like any other node; and all
text is measured with metrics of the font it is drawn in (see FONT).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from html import escape

import graphviz

from ..core.durations import format_duration
from ..core.errors import NbflowError
from ..core.graph import Graph
from ..core.reads import undeclared_edges
from ..core.states import State
from ..core.status import StepStatus
from .palette import STATE_COLORS

#: One font Graphviz has metrics for: with a list ("Helvetica,Arial,sans-serif") it measures text
#: as Times, narrower than what the browser draws, and labels overflow their boxes.
FONT = "Helvetica"

#: Flows with more steps are not drawn: Graphviz needs seconds per thousand steps (about 3 s for
#: 2,000 here, minutes for 10,000; see bench/scale.py) and so large a picture is not readable.
#: The widget's table and the status table still list every step.
MAX_DRAWN_STEPS = 2_000


class GraphTooLarge(NbflowError, ValueError):
    """The flow has more steps than `MAX_DRAWN_STEPS`: it is listed, not drawn."""

    def __init__(self, steps: int) -> None:
        super().__init__(f"{steps:,} steps are more than the {MAX_DRAWN_STEPS:,} nbflow draws; "
                         "the table lists every step", steps=steps)
#: Figure spaces: room for "12.3 s · 3 tries" in the live layout's detail line.
PLACEHOLDER = "\u2007" * 14
#: The legend node's name: a hyphen keeps it apart from step names, which are identifiers.
LEGEND = "nbflow-legend"
LEGEND_PREFIX = f"{LEGEND}-"


def node_id(index: int) -> str:
    return f"nbflow-step-{index}"


def detail_line(status: StepStatus | None) -> str:
    """The second line of a node: duration, attempts, a mark on restored steps."""
    if status is None:
        return ""
    parts = []
    if status.state is State.RESTORED:
        parts.append("restored")  # no ↺: the PNG renderer's font has no such glyph
    if status.duration is not None:
        parts.append(format_duration(status.duration))
    if status.attempts > 1:
        parts.append(f"{status.attempts} tries")
    return " · ".join(parts)


def flow_dot(graph: Graph, statuses: Mapping[str, StepStatus] | None = None, *, live: bool = False,
             legend: bool = True) -> str:
    """DOT source of `graph`; `statuses` colours it (pending where missing). `GraphTooLarge` past the limit."""
    if len(graph) > MAX_DRAWN_STEPS:
        raise GraphTooLarge(len(graph))
    statuses = statuses or {}
    dot = graphviz.Digraph("nbflow", graph_attr={"rankdir": "TB", "fontname": FONT, "fontsize": "11",
                                                  "nodesep": "0.25", "ranksep": "0.35", "bgcolor": "transparent"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT,
                                      "fontsize": "11", "penwidth": "1.2", "color": "#374151",
                                      "margin": "0.12,0.05"},
                           edge_attr={"color": "#6b7280", "arrowsize": "0.7"})
    order = graph.topological_order()
    for index, name in enumerate(order):
        status = statuses.get(name)
        state = status.state.value if status is not None else State.PENDING.value
        fill, font = STATE_COLORS[state]
        second = PLACEHOLDER if live else detail_line(status)
        label = f"{name}\n{second}" if second else name
        extra = {} if live else {"tooltip": f"{name}: {state}"}  # live: the state changes under it
        dot.node(name, label=label, id=node_id(index), fillcolor=fill, fontcolor=font,
                 **extra, **{"class": f"nbflow-node state-{state}"})
    undeclared = undeclared_edges(graph)
    for name in order:
        spec = graph[name]
        for dep in spec.deps:
            style = "solid" if dep in spec.after else "dotted"
            dot.edge(dep, name, style=style)
    for producer, consumer in sorted(undeclared):
        dot.edge(producer, consumer, style="dashed", color="#b45309",
                 tooltip=f"{consumer} reads an output of {producer} without --after")
    if legend and not live and order:
        _legend(dot, statuses, len(order))
    return dot.source


def legend_entries(statuses: Mapping[str, StepStatus], total: int) -> list[tuple[str, str]]:
    """(state, text) of each legend entry: the count per state present, then the time saved."""
    counts = Counter(s.state.value for s in statuses.values())
    counts[State.PENDING.value] += total - sum(counts.values())
    entries = [(state, f"{state} {counts[state]}") for state in STATE_COLORS if counts[state]]
    saved = sum(s.time_saved or 0.0 for s in statuses.values())
    if saved > 0:
        entries.append(("saved", f"saved {format_duration(saved)}"))
    return entries


def _legend(dot: graphviz.Digraph, statuses: Mapping[str, StepStatus], total: int) -> None:
    """One plain node holding a row of coloured cells, alone on the last rank."""
    cells = "".join(
        f'<TD BGCOLOR="{STATE_COLORS[state][0]}" ID="{LEGEND_PREFIX}{state}">'
        f'<FONT COLOR="{STATE_COLORS[state][1]}">{escape(text)}</FONT></TD>'
        if state in STATE_COLORS else f'<TD BORDER="0" ID="{LEGEND_PREFIX}{state}">{escape(text)}</TD>'
        for state, text in legend_entries(statuses, total))
    label = f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="3" CELLPADDING="3"><TR>{cells}</TR></TABLE>>'
    with dot.subgraph(name="nbflow_legend") as row:
        row.attr(rank="sink")
        row.node(LEGEND, label=label, shape="plaintext", style="", margin="0", fontsize="10",
                 id=LEGEND, tooltip="steps per state", **{"class": "nbflow-legend"})
