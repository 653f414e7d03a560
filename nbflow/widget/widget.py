"""The live graph: an anywidget over a Flow, laid out once per graph shape.

The kernel lays the graph out with Graphviz only when steps are added or
removed; state changes send small per-step rows (coalesced, at most one
update per 100 ms) and the browser recolours the nodes. So a 1,000-step run
costs a bounded number of comm messages and no repeated layout.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core.flow import Flow
from ..core.graph import Graph
from ..core.protocol import PNG_MIME, SVG_MIME, TEXT_MIME, WIDGET_MIME
from ..core.status import StepStatus, StepStatusJSON
from ..render.dot import flow_dot
from ..render.layout import render_svg
from ..render.palette import STATE_COLORS
from ..render.static import static_drawing
from .rows import Coalescer, step_rows, time_saved
from .summary import summarize

STATIC = Path(__file__).with_name("static")
_LAYOUT = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbflow-layout")


class FlowWidget(anywidget.AnyWidget):
    """Graph, counts, progress, table and step details of one Flow, kept live."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    layout_svg = traitlets.Unicode("").tag(sync=True)
    steps = traitlets.Dict().tag(sync=True)
    saved = traitlets.Float(0.0).tag(sync=True)
    palette = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    detail = traitlets.Dict().tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    #: one line about an interrupted earlier run of this notebook ("" if none), from the manifest
    previous = traitlets.Unicode("").tag(sync=True)

    def __init__(self, flow: Flow, *, namespace: Mapping[str, Any] | None = None,
                 output_text: Callable[[str], str] | None = None,
                 tracebacks: Callable[[str], Mapping[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(palette={k: list(v) for k, v in STATE_COLORS.items()}, **kwargs)
        self._flow = flow
        self._namespace = namespace
        self._output_text = output_text
        #: a step's failed attempts' tracebacks by number (its cell shows one line each once it succeeded)
        self._tracebacks = tracebacks
        self._lock = threading.RLock()
        self._graph: Graph | None = None
        self._sent: dict[str, StepStatusJSON] = {}
        #: comm updates sent for state changes (tests and bench/widget.py count them)
        self.updates = 0
        self.layouts = 0
        self._coalescer = Coalescer(flow.call_later, self.refresh)
        self._unsubscribe = flow.subscribe(self._coalescer)
        self.on_msg(self._on_message)
        self.observe(self._on_selected, names="selected")
        # Laid out on the layout thread: the static SVG of the display is drawn
        # meanwhile on the caller's, so a big graph costs one layout's time, not two.
        self._graph = flow.graph
        self._pending_layout = _LAYOUT.submit(self._layout, self._graph)

    def wait_layout(self, timeout: float | None = None) -> None:
        """Block until the first layout is in the model (tests, benchmarks)."""
        self._pending_layout.result(timeout)

    # -- kernel -> browser ---------------------------------------------------

    def refresh(self) -> None:
        """Send what changed since the last update (and lay out again if the graph did)."""
        graph = self._flow.graph
        if graph is not self._graph:
            self._graph = graph
            _LAYOUT.submit(self._layout_if_current, graph)
            return
        self._push()

    def _layout_if_current(self, graph: Graph) -> None:
        if self._flow.graph is graph:
            self._layout(graph)

    def _layout(self, graph: Graph) -> None:
        try:
            svg = render_svg(flow_dot(graph, live=True)) if len(graph) else ""
            message = ""
        except Exception as error:  # no Graphviz: the table and details still work
            svg, message = "", f"graph not drawn: {error}"
        with self._lock:
            self._graph = graph
            self.layouts += 1
            with self.hold_sync():
                self.layout_svg = svg
                self.message = message
                # The statuses as they are now, not when the layout began: a big graph takes
                # long enough to lay out that the run may have finished meanwhile.
                self._push(force=True)

    def _push(self, force: bool = False) -> None:
        """Send the rows that changed. The statuses are read under the lock, so of two pushes
        racing (the layout thread's and an update's) the later one also sends the newer state."""
        with self._lock:
            statuses = self._flow.status()
            rows = step_rows(statuses)
            if rows == self._sent and not force:
                return
            changed = {n for n, row in rows.items() if self._sent.get(n) != row}
            self._sent = rows
            self.updates += 1
            with self.hold_sync():
                self.steps = rows
                self.saved = time_saved(statuses)
                if self.selected and self.selected in changed:
                    self.detail = self.describe(self.selected, statuses)

    # -- browser -> kernel ---------------------------------------------------

    def _on_selected(self, change: dict[str, Any]) -> None:
        self.detail = self.describe(change["new"]) if change["new"] else {}

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        try:
            if action == "hello":  # a view asks whether a kernel is behind it (widget.js)
                self.send({"hello": True})
            elif action == "run":
                pending = [n for n, s in self._flow.status().items() if s.state.value in ("pending", "stale")]
                started = self._flow.run(*pending, rerun_failed=False) if pending else frozenset()
                self.message = f"started {len(started)} step(s)" if started else "nothing pending"
            elif action == "cancel":
                cancelled = self._flow.cancel()
                self.message = f"cancelled {len(cancelled)} step(s)"
            elif action == "retry":
                failed = [n for n, s in self._flow.status().items() if s.state.value == "failed"]
                for name in failed:
                    self._flow.retry(name)
                self.message = f"retrying {', '.join(failed)}" if failed else "no failed steps"
        except Exception as error:
            self.message = f"{action}: {error}"

    # -- details -------------------------------------------------------------

    def describe(self, name: str, statuses: dict[str, StepStatus] | None = None) -> dict[str, Any]:
        """The detail pane of one step (see `describe`)."""
        return describe(self._flow, name, statuses, namespace=self._namespace, output_text=self._output_text,
                        tracebacks=self._tracebacks)

    # -- display -------------------------------------------------------------

    def bundle(self) -> dict[str, Any]:
        """widget view + static SVG + text table: each front end shows the best it can."""
        data = static_bundle(self._flow)
        data[WIDGET_MIME] = {
            "version_major": 2, "version_minor": 0, "model_id": self.model_id,
        }
        return data

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[Any, Any], dict[Any, Any]] | None:
        return self.bundle(), {}

    def close(self) -> None:
        self._unsubscribe()
        super().close()


def describe(flow: Flow, name: str, statuses: Mapping[str, StepStatus] | None = None, *,
             namespace: Mapping[str, Any] | None = None, output_text: Callable[[str], str] | None = None,
             tracebacks: Callable[[str], Mapping[int, str]] | None = None) -> dict[str, Any]:
    """Error, traceback, attempts (each failed one with its traceback), outputs, provenance and why it ran, of one
    step: the widget's detail pane, and the JupyterLab panel's (nbflow.jupyter.comm)."""
    status = (statuses or flow.status()).get(name)
    if status is None:
        return {"name": name, "missing": True}
    outputs = []
    for output in status.outputs:
        if namespace is not None and output in namespace:
            outputs.append([output, summarize(namespace[output])])
        else:
            outputs.append([output, ""])
    text = output_text(name) if output_text else ""
    failed = tracebacks(name) if tracebacks else {}
    return {
        "name": name,
        "state": status.state.value,
        "error": status.error or "",
        "reason": status.reason or "",
        "traceback": status.traceback or "",
        "attempts": [[a.number, a.started, a.ended, a.error or "", failed.get(a.number, "") if a.error else ""]
                     for a in status.attempt_log],
        "outputs": outputs,
        "text": text[-2000:],
        "source": status.source,
        "started": status.started,
        "ended": status.ended,
        "duration": status.duration,
        "key": status.key or "",
        "checkpoint": status.checkpoint or "",
        "time_saved": status.time_saved,
        "not_restorable": status.not_restorable or "",
        "why": status.why or "",
    }


def static_bundle(flow: Flow) -> dict[str, Any]:
    """The graph as it stands with states baked in (SVG and PNG), and the status table as text.

    What nbconvert, GitHub, papermill outputs and untrusted notebooks show where
    widgets cannot render (JupyterLab shows SVG only in trusted notebooks, PNG in all).
    """
    data: dict[str, Any] = {TEXT_MIME: flow.table()}
    graph = flow.graph
    if len(graph):
        try:
            drawing = static_drawing(graph, flow.status())
        except Exception as error:
            data[TEXT_MIME] += f"\n(graph not drawn: {error})"
        else:
            data[SVG_MIME] = drawing.svg
            data[PNG_MIME] = drawing.png
    return data


_WIDGETS: weakref.WeakKeyDictionary[Flow, FlowWidget] = weakref.WeakKeyDictionary()


def flow_widget(flow: Flow, **kwargs: Any) -> FlowWidget:
    """The one widget of `flow`: every display of it is a view of the same model, so they stay in sync."""
    widget = _WIDGETS.get(flow)
    if widget is None or widget.comm is None:
        widget = _WIDGETS[flow] = FlowWidget(flow, **kwargs)
    return widget
