"""Drawing the flow's graph: DOT source, Graphviz layout, colours per state.

Shared by the widget, the static SVG and PNG of batch runs and `nbflow dag`,
so all three draw the same picture.
"""

from .dot import flow_dot
from .layout import GraphvizNotFound, render
from .palette import STATE_COLORS
from .static import StaticDrawing, static_drawing

__all__ = ["STATE_COLORS", "GraphvizNotFound", "StaticDrawing", "flow_dot", "render", "static_drawing"]
