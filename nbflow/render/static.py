"""The static drawing of a flow: SVG, and a PNG beside it.

JupyterLab renders SVG outputs only in trusted notebooks, and GitHub,
nbviewer and nbconvert outputs often drop it; a PNG shows everywhere. Both
come from one Graphviz run (one layout). The drawing is capped at
MAX_INCHES a side (at Graphviz's 96 dpi, 3,840 px) so that a 1,000-step
graph costs a bounded PNG; front ends scale both to the cell's width anyway.
`nbflow dag -o` writes files uncapped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from ..core.graph import Graph
from ..core.status import StepStatus
from .dot import flow_dot
from .layout import render_many, svg_text

MAX_INCHES = 40


@dataclass(frozen=True)
class StaticDrawing:
    """The same picture twice: SVG text and base64 PNG, as notebook outputs carry them."""

    svg: str
    png: str


def static_drawing(graph: Graph, statuses: Mapping[str, StepStatus] | None = None) -> StaticDrawing:
    """`graph` with states, durations and the legend baked in, as SVG and PNG (NbflowError if Graphviz fails)."""
    drawn = render_many(flow_dot(graph, statuses), ("svg", "png"), {"size": f"{MAX_INCHES},{MAX_INCHES}"})
    return StaticDrawing(svg=svg_text(drawn["svg"]), png=base64.b64encode(drawn["png"]).decode("ascii"))
