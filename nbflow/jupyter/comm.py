"""The kernel side of the `nbflow` comm: per-step rows for the JupyterLab extension's badges and panel.

Registered at `%load_ext nbflow` (registering costs nothing); the front end
opens a comm with HELLO and gets a snapshot, then coalesced updates built
from the event stream exactly as the widget's are (`nbflow.widget.rows`).
Its commands are the Flow calls `%flow run/cancel/retry` make, answered with
the line those print; its panel gets the widget's own layout and detail pane.
The messages are named in `nbflow.core.labcomm` and described in
docs/guide/jupyterlab.md ("The comm protocol").
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..core import labcomm
from ..core.errors import NbflowError
from ..core.protocol import BATCH
from . import answers

if TYPE_CHECKING:
    from ..core.flow import Flow
    from ..core.graph import Graph

log = logging.getLogger(__name__)


class LabComms:
    """Every open `nbflow` comm of this kernel, fed from one flow's events."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._comms: dict[str, Any] = {}
        self._flow: Flow | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._sent: dict[str, labcomm.StepRowJSON] = {}
        self._saved = 0.0
        self.seq = 0
        #: UPDATE messages sent (tests and benchmarks count them)
        self.updates = 0
        #: comms whose panel asked for the layout; each gets a new one when the graph changes shape
        self._layout_comms: set[str] = set()
        self._laid: tuple[Graph, dict[str, Any]] | None = None
        self._laying: Graph | None = None
        self._layout_thread: ThreadPoolExecutor | None = None

    # -- comms -----------------------------------------------------------------

    def open(self, comm: Any, msg: dict[str, Any]) -> None:
        """A front end opened a comm to TARGET: check its HELLO and answer with a snapshot."""
        try:
            labcomm.parse_request(msg.get("content", {}).get("data"))
        except labcomm.LabCommError as problem:
            comm.send(labcomm.error(str(problem)))
            comm.close()
            return
        with self._lock:
            self.push()  # the open comms get what changed since the last update; the new one, all of it
            self._keep(comm)
            self._send(comm, self._snapshot())

    def announce(self) -> None:
        """Open a comm from the kernel, its snapshot as the open's data: `%load_ext nbflow` in a kernel the
        front end already asked (and that had no target then). Its own HELLO would wait behind every queued
        cell of a Run All; this reaches it at once."""
        from comm import create_comm

        with self._lock:
            self.push()
            comm = create_comm(target_name=labcomm.TARGET, data=self._snapshot())
            self._keep(comm)

    def _keep(self, comm: Any) -> None:
        comm.on_msg(lambda message: self._on_msg(comm, message))
        comm.on_close(lambda _message: self._forget(comm))
        self._comms[comm.comm_id] = comm

    def _on_msg(self, comm: Any, msg: dict[str, Any]) -> None:
        try:
            request = labcomm.parse_request(msg.get("content", {}).get("data"))
            if request.type in labcomm.COMMANDS:
                self._reply(comm, labcomm.answer(request.type, self._command(request)))
            elif request.type == labcomm.REQUEST_DETAIL:
                self._reply(comm, labcomm.detail(request.steps[0], self._describe(request.steps[0])))
            elif request.type == labcomm.REQUEST_LAYOUT:
                self._want_layout(comm)
            else:  # HELLO again or REQUEST_SNAPSHOT: both are answered with the whole picture, as it is when sent
                self._reply(comm, self._current_snapshot)
        except NbflowError as problem:  # a bad message, an unknown step, no flow yet: one line back
            self._reply(comm, labcomm.error(str(problem).splitlines()[0]))
        except Exception as problem:  # a bug of ours: said in one line too, rather than lost in the kernel's log
            log.exception("nbflow comm request failed")
            self._reply(comm, labcomm.error(f"nbflow: {type(problem).__name__}: {problem}".splitlines()[0]))

    def _reply(self, comm: Any, data: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Answer a request (see `_send`). A callable is called under the lock, so a snapshot is the
        state as of its sending, in order with the updates."""
        with self._lock:
            self._send(comm, data() if callable(data) else data)

    def _forget(self, comm: Any) -> None:
        with self._lock:
            self._comms.pop(comm.comm_id, None)
            self._layout_comms.discard(comm.comm_id)

    # -- requests --------------------------------------------------------------

    def _active_flow(self) -> Flow:
        flow = self._flow
        if flow is None:
            raise labcomm.LabCommError("nbflow: no flow in this kernel yet (run a %%step cell first)")
        return flow

    def _command(self, request: labcomm.Request) -> str:
        """RUN, CANCEL, RETRY: the Flow calls `%flow run/cancel/retry` make, and the line they print."""
        flow = self._active_flow()
        if request.type == labcomm.RUN:
            started = flow.run(*request.steps, force=request.force)
            return answers.ran(started, request.steps, request.force, flow.graph)
        if request.type == labcomm.CANCEL:
            return answers.cancelled(flow.cancel(*request.steps), flow.graph)
        names = request.steps or tuple(n for n, s in flow.status().items() if s.state.value == "failed")
        if not names:
            return "nbflow: no failed step to retry"
        return "; ".join(answers.retried(name, flow.retry(name), flow.graph) for name in names)

    def _describe(self, step: str) -> dict[str, Any]:
        """The widget's detail pane of `step`, with what its cell printed when it is the kernel's flow."""
        from ..widget.widget import describe
        from .attempts import tracebacks_of
        from .extension import kernel_flow  # at call time: the extension imports this module

        flow = self._active_flow()
        kf = kernel_flow()
        if kf.flow is not flow:
            return describe(flow, step)
        return describe(flow, step, namespace=kf.shell.user_ns, output_text=kf.output_text,
                        tracebacks=tracebacks_of(kf.sinks), output_displays=kf.output_displays)

    # -- the layout (the panel's graph) ---------------------------------------------

    def _want_layout(self, comm: Any) -> None:
        with self._lock:
            self._layout_comms.add(comm.comm_id)
            flow, laid = self._flow, self._laid
            if flow is not None and laid is not None and laid[0] is flow.graph:
                self._reply(comm, laid[1])
            else:
                self._lay_out()

    def _lay_out(self) -> None:
        """Lay the graph out on the layout thread, once per graph shape, if a panel wants it (call with the lock)."""
        flow = self._flow
        if flow is None or not self._layout_comms:
            return
        graph = flow.graph
        if self._laying is graph or (self._laid is not None and self._laid[0] is graph):
            return
        self._laying = graph
        if self._layout_thread is None:
            self._layout_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbflow-lab-layout")
        self._layout_thread.submit(self._layout, flow, graph)

    def _layout(self, flow: Flow, graph: Graph) -> None:
        from ..render.dot import flow_dot
        from ..render.layout import render_svg

        try:  # the widget's live layout: nodes with room for the detail line, recoloured by the rows
            message = labcomm.layout(render_svg(flow_dot(graph, live=True)) if len(graph) else "")
        except Exception as problem:  # no Graphviz, too many steps: the panel lists the steps instead
            message = labcomm.layout("", f"graph not drawn: {problem}")
        with self._lock:
            self._laying = None
            if self._flow is not flow:
                return
            self._laid = (graph, message)
            for comm_id in list(self._layout_comms):
                comm = self._comms.get(comm_id)
                if comm is not None:
                    self._send(comm, message)
            self._lay_out()  # the graph changed again meanwhile

    @property
    def open_comms(self) -> int:
        return len(self._comms)

    # -- the flow --------------------------------------------------------------

    def attach(self, flow: Flow) -> None:
        """Follow `flow` (created by the kernel's first `%%step` or `%flow`); open comms hear it is active."""
        from ..widget.rows import Coalescer

        with self._lock:
            self.detach()
            self._flow = flow
            self._unsubscribe = flow.subscribe(Coalescer(flow.call_later, self.push))
            self._rows()
            self.seq += 1  # a new state (active), so an open front end's next update follows on
            self._broadcast_snapshot()
            self._lay_out()

    def detach(self) -> None:
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._unsubscribe, self._flow = None, None
            self._sent, self._saved = {}, 0.0
            self._laid = self._laying = None

    def push(self) -> None:
        """Send what changed since the last message to every open comm (nothing if nothing did)."""
        with self._lock:
            before, saved_before = self._sent, self._saved
            rows, saved = self._rows()
            changed = {name: r for name, r in rows.items() if before.get(name) != r}
            removed = [name for name in before if name not in rows]
            if not changed and not removed and saved == saved_before:
                return
            self.seq += 1
            self.updates += 1
            self._send_all(labcomm.update(self.seq, changed, removed, saved))
            self._lay_out()

    def close(self) -> None:
        """`%unload_ext nbflow`: say BYE and close every comm."""
        with self._lock:
            self.detach()
            for comm in list(self._comms.values()):
                with contextlib.suppress(Exception):
                    self._send(comm, labcomm.bye())
                    comm.close()
            self._comms.clear()
            self._layout_comms.clear()
            if self._layout_thread is not None:
                self._layout_thread.shutdown(wait=False)
                self._layout_thread = None

    # -- helpers ---------------------------------------------------------------

    def _rows(self) -> tuple[dict[str, labcomm.StepRowJSON], float]:
        """Every step's row now (and the time saved), remembered as what was sent."""
        if self._flow is None:  # before importing the widget package: `%load_ext` stays light
            self._sent, self._saved = {}, 0.0
            return self._sent, self._saved
        from ..widget.rows import step_rows, time_saved

        statuses = self._flow.status()
        specs = self._flow.steps
        summary = step_rows(statuses)
        rows = {name: labcomm.row(s, specs[name].cell if name in specs else None) for name, s in summary.items()}
        self._sent, self._saved = rows, time_saved(statuses)
        return rows, self._saved

    def _current_snapshot(self) -> dict[str, Any]:
        """Pending changes to every open comm first, then the snapshot (see `_snapshot`)."""
        self.push()
        return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        """The rows last sent as updates: call `push` first, so they are the current ones and every
        comm's picture stays the sum of its messages (an update may be pending for up to 100 ms)."""
        from ..render.palette import STATE_COLORS

        return labcomm.snapshot(self.seq, self._flow is not None, self._sent, self._saved, STATE_COLORS)

    def _broadcast_snapshot(self) -> None:
        self._send_all(self._snapshot())

    def _send_all(self, data: dict[str, Any]) -> None:
        for comm in list(self._comms.values()):
            self._send(comm, data)

    def _send(self, comm: Any, data: dict[str, Any]) -> None:
        """Send `data` on `comm` as a message with no parent.

        ipykernel gives a comm message the parent of the context it is sent from, and that may be a
        request of the front end's (a command, or an update set off by one): JupyterLab 4 sends those on
        the comm's kernel subshell, and drops a message with such a parent without a word (it reaches
        neither the request's future nor the comm). With no parent it goes to the comm by its id.
        """
        kernel: Any = getattr(comm, "kernel", None)
        session = getattr(kernel, "session", None)
        try:
            if session is None:  # not ipykernel's comm: its own send
                comm.send(data)
            else:
                session.send(kernel.iopub_socket, "comm_msg", {"data": data, "comm_id": comm.comm_id},
                             parent={}, ident=getattr(comm, "topic", None))
        except Exception as problem:  # a comm whose front end went away: drop it, keep the others
            log.debug("nbflow comm %s: %s", comm.comm_id, problem)
            self._comms.pop(comm.comm_id, None)
            self._layout_comms.discard(comm.comm_id)


_COMMS: LabComms | None = None


def lab_comms() -> LabComms | None:
    """This kernel's comms (None outside a kernel, e.g. a terminal IPython)."""
    return _COMMS


def register(shell: Any) -> None:
    """Register TARGET with the kernel's comm manager; quietly nothing where there is no kernel."""
    global _COMMS
    if getattr(shell, "kernel", None) is None:
        return
    try:
        from comm import get_comm_manager

        manager = get_comm_manager()
    except Exception as problem:  # no comm support: the extension shows nothing, as for a kernel without nbflow
        log.debug("nbflow comm not registered: %s", problem)
        return
    if _COMMS is None:
        _COMMS = LabComms()
    manager.register_target(labcomm.TARGET, _COMMS.open)
    try:
        if not BATCH.read():  # a batch run has no front end to tell
            _COMMS.announce()
    except Exception as problem:  # no front end to tell: it asks with HELLO when it comes
        log.debug("nbflow comm not announced: %s", problem)


def unregister() -> None:
    global _COMMS
    if _COMMS is None:
        return
    _COMMS.close()
    with contextlib.suppress(Exception):
        from comm import get_comm_manager

        get_comm_manager().unregister_target(labcomm.TARGET, _COMMS.open)
    _COMMS = None
