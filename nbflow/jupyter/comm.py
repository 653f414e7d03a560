"""The kernel side of the `nbflow` comm: per-step rows for the JupyterLab extension's badges.

Registered at `%load_ext nbflow` (registering costs nothing); the front end
opens a comm with HELLO and gets a snapshot, then coalesced updates built
from the event stream exactly as the widget's are (`nbflow.widget.rows`).
The messages are named in `nbflow.core.labcomm` and described in
docs/guide/jupyterlab.md ("The comm protocol").
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core import labcomm
from ..core.protocol import BATCH

if TYPE_CHECKING:
    from ..core.flow import Flow

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
            comm.send(self._snapshot())

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
            labcomm.parse_request(msg.get("content", {}).get("data"))
        except labcomm.LabCommError as problem:
            comm.send(labcomm.error(str(problem)))
            return
        with self._lock:  # HELLO again or REQUEST_SNAPSHOT: both are answered with the whole picture
            self.push()
            comm.send(self._snapshot())

    def _forget(self, comm: Any) -> None:
        with self._lock:
            self._comms.pop(comm.comm_id, None)

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

    def detach(self) -> None:
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._unsubscribe, self._flow = None, None
            self._sent, self._saved = {}, 0.0

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

    def close(self) -> None:
        """`%unload_ext nbflow`: say BYE and close every comm."""
        with self._lock:
            self.detach()
            for comm in list(self._comms.values()):
                with contextlib.suppress(Exception):
                    comm.send(labcomm.bye())
                    comm.close()
            self._comms.clear()

    # -- helpers ---------------------------------------------------------------

    def _rows(self) -> tuple[dict[str, labcomm.StepRowJSON], float]:
        """Every step's row now (and the time saved), remembered as what was sent."""
        from ..widget.rows import step_rows, time_saved

        if self._flow is None:
            self._sent, self._saved = {}, 0.0
            return self._sent, self._saved
        statuses = self._flow.status()
        specs = self._flow.steps
        summary = step_rows(statuses)
        rows = {name: labcomm.row(s, specs[name].cell if name in specs else None) for name, s in summary.items()}
        self._sent, self._saved = rows, time_saved(statuses)
        return rows, self._saved

    def _snapshot(self) -> dict[str, Any]:
        """The rows last sent as updates: call `push` first, so they are the current ones and every
        comm's picture stays the sum of its messages (an update may be pending for up to 100 ms)."""
        from ..render.palette import STATE_COLORS

        return labcomm.snapshot(self.seq, self._flow is not None, self._sent, self._saved, STATE_COLORS)

    def _broadcast_snapshot(self) -> None:
        self._send_all(self._snapshot())

    def _send_all(self, data: dict[str, Any]) -> None:
        for comm in list(self._comms.values()):
            try:
                comm.send(data)
            except Exception as problem:  # a comm whose front end went away: drop it, keep the others
                log.debug("nbflow comm %s: %s", comm.comm_id, problem)
                self._comms.pop(comm.comm_id, None)


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
