"""The live graph widget (`%flow show`, or `FlowWidget(flow)` with the Python API)."""

from .widget import FlowWidget, flow_widget

__all__ = ["FlowWidget", "flow_widget"]
