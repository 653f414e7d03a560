"""Drawing the flow's graph: DOT source, Graphviz layout, colours per state.

Shared by the widget, the static SVG of batch runs and `nbflow dag`, so all
three draw the same picture.
"""

from .dot import flow_dot
from .layout import GraphvizNotFound, render
from .palette import STATE_COLORS

__all__ = ["STATE_COLORS", "GraphvizNotFound", "flow_dot", "render"]
