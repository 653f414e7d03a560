"""The live graph: an anywidget over a Flow, laid out once per graph shape.

The kernel lays the graph out with Graphviz only when steps are added or
removed; state changes send small per-step rows (coalesced, at most one
update per 100 ms) and the browser recolours the nodes. So a 1,000-step run
costs a bounded number of comm messages and no repeated layout.

While a flow runs, an update carries only the rows of the steps whose events
arrived since the last one (a custom message the views merge); the `steps`
trait, which a reloaded page and a saved notebook read, gets the whole table
when the flow finishes, when a view says hello and when the graph changes.
So an update costs what changed, not the size of the flow.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core import events as ev
from ..core.flow import Flow
from ..core.graph import Graph
from ..core.protocol import PNG_MIME, SVG_MIME, TEXT_MIME, WIDGET_MIME
from ..core.states import State
from ..core.status import StepStatus, StepStatusJSON
from ..render.dot import flow_dot
from ..render.layout import render_svg
from ..render.palette import STATE_COLORS
from ..render.static import static_drawing
from .displays import pane_displays
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
                 tracebacks: Callable[[str], Mapping[int, str]] | None = None,
                 output_displays: Callable[[str], Sequence[Mapping[str, Any]]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(palette={k: list(v) for k, v in STATE_COLORS.items()}, **kwargs)
        self._flow = flow
        self._namespace = namespace
        self._output_text = output_text
        self._output_displays = output_displays
        #: a step's failed attempts' tracebacks by number (its cell shows one line each once it succeeded)
        self._tracebacks = tracebacks
        self._lock = threading.RLock()
        self._graph: Graph | None = None
        self._sent: dict[str, StepStatusJSON] = {}
        #: steps whose events arrived since the last update; None: send the whole table
        self._changed: set[str] | None = None
        self._changed_lock = threading.Lock()
        self._saved_by: dict[str, float] = {}
        self._deltas = False  # rows sent as deltas since the trait last got the whole table
        self._drawn: Graph | None = None  # the graph of the layout in `layout_svg`
        self._layouts_resent = 0
        #: comm updates sent for state changes (tests and bench/widget.py count them)
        self.updates = 0
        self.layouts = 0
        self._coalescer = Coalescer(flow.call_later, self.refresh)
        self._unsubscribe = flow.subscribe(self._on_event)
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

    def _on_event(self, event: ev.Event) -> None:
        # Its own lock, not the widget's: events may come from a thread holding the scheduler's,
        # which a push holding the widget's lock waits for.
        with self._changed_lock:
            if self._changed is not None:
                if isinstance(event, ev.StepEvent):
                    self._changed.add(event.step)
                elif isinstance(event, ev.FlowFinished):
                    self._changed = None  # the final picture: the whole table, exact
        self._coalescer(event)

    def refresh(self) -> None:
        """Send what changed since the last update (and lay out again if the graph did)."""
        graph = self._flow.graph
        if graph is not self._graph:
            self._graph = graph
            _LAYOUT.submit(self._layout_if_current, graph)
            return
        self._push()

    def resend(self) -> None:
        """Lay out now if the graph changed, and send the whole state again (`%flow wait`).

        A batch runner (nbclient) keeps a widget update only if it arrives while
        the cell it is attributed to runs; one sent from a step's or the layout's
        thread between two cells is dropped. Sent again while `%flow wait` runs,
        the saved notebook keeps the final graph and table. The layout, the
        largest part, is sent again only when it changed since the last resend.
        """
        graph = self._flow.graph
        if self._drawn is not graph:
            self._layout(graph)
        with self._lock:
            self._push_all()
            keys = ["steps", "saved", "message", "previous", "detail"]
            if self.layouts != self._layouts_resent:
                keys.append("layout_svg")
                self._layouts_resent = self.layouts
            if self.comm is not None:
                self.send_state(keys)

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
            self._graph = self._drawn = graph
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
            with self._changed_lock:
                changed_names, self._changed = self._changed, set()
            if force or changed_names is None or not self._sent:
                self._push_all()
                return
            if not changed_names:
                return
            statuses = self._flow.status(*changed_names)  # a removed step: the relayout sends the table
            rows = {name: row for name, row in step_rows(statuses).items() if self._sent.get(name) != row}
            if not rows:
                return
            self._sent.update(rows)
            for name, status in statuses.items():
                self._saved_by[name] = _saved(status)
            self.updates += 1
            saved = round(sum(self._saved_by.values()), 3)
            self._deltas = True
            self.send({"rows": rows, "saved": saved})
            if self.selected and self.selected in rows:
                self.detail = self.describe(self.selected, statuses)

    def _push_all(self) -> None:
        """The whole table into the `steps` trait (what new views and saved notebooks read)."""
        statuses = self._flow.status()
        rows = step_rows(statuses)
        self._saved_by = {name: _saved(status) for name, status in statuses.items()}
        changed = {n for n, row in rows.items() if self._sent.get(n) != row}
        self._sent = dict(rows)  # deltas update this copy; the trait keeps the table it was sent
        self.updates += 1
        resend, self._deltas = self._deltas and rows == self.steps, False
        with self.hold_sync():
            self.steps = rows
            if resend:  # the table is back to what the trait holds, but the views hold deltas over it
                self.send_state("steps")
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
                with self._lock:
                    self._push_all()  # a view that missed updates (a reloaded page) gets the whole table
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
                        tracebacks=self._tracebacks, output_displays=self._output_displays)

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


def _saved(status: StepStatus) -> float:
    return (status.time_saved or 0.0) if status.source == "restored" else 0.0


def describe(flow: Flow, name: str, statuses: Mapping[str, StepStatus] | None = None, *,
             namespace: Mapping[str, Any] | None = None, output_text: Callable[[str], str] | None = None,
             tracebacks: Callable[[str], Mapping[int, str]] | None = None,
             output_displays: Callable[[str], Sequence[Mapping[str, Any]]] | None = None) -> dict[str, Any]:
    """Error, traceback, attempts (each failed one with its traceback; where each ran), outputs, provenance,
    why it ran, and what it printed and displayed (`displays.py`), of one step: the widget's detail pane, and
    the JupyterLab panel's (nbflow.jupyter.comm)."""
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
    shown, hidden = pane_displays(output_displays(name)) if output_displays else ([], 0)
    return {
        "name": name,
        "state": status.state.value,
        "error": status.error or "",
        "reason": status.reason or "",
        "traceback": status.traceback or "",
        "attempts": [[a.number, a.started, a.ended, a.error or "", failed.get(a.number, "") if a.error else "",
                      a.where] for a in status.attempt_log],
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
        "restored": status.restore_summary() if status.state is State.RESTORED else "",
        "displays": shown,
        "displays_hidden": hidden,
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
