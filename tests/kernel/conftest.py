"""Real IPython kernels for the kernel-extension tests (jupyter_client, no mocks)."""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jupyter_client
import pytest


@dataclass
class Reply:
    """What one execute request produced: its own outputs and every widget update seen."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"
    error: str = ""
    page: str = ""  # pager payloads, e.g. what `%%step?` shows
    #: widget state sent while this request ran (attributed to it), by comm id, merged
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        parts = []
        for out in self.outputs:
            if out["type"] == "stream":
                parts.append(out["text"])
            elif out["type"] in ("display_data", "execute_result"):
                parts.append(str(out["data"].get("text/plain", "")))
            elif out["type"] == "error":
                parts.append(f"{out['ename']}: {out['evalue']}")
        return "".join(parts)

    def widget_ids(self) -> list[str]:
        return [
            out["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
            for out in self.outputs
            if out["type"] == "display_data" and "application/vnd.jupyter.widget-view+json" in out["data"]
        ]


class Kernel:
    """A running ipykernel with helpers to execute cells and read widget state."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd), env=dict(os.environ, **(env or {})))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.widgets: dict[str, dict[str, Any]] = {}
        self.comm_msgs: dict[str, int] = {}  # comm_msg count per widget (batched updates are counted)
        self.deltas: dict[str, list[dict[str, Any]]] = {}  # the graph widget's row deltas, per widget
        #: per widget, in order: ("table", the whole steps trait) and ("delta", rows) messages
        self.tables: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.cwd = cwd

    def execute(self, code: str, timeout: float = 60, cell_id: str | None = None) -> Reply:
        """Run `code` as a cell; `cell_id` is sent in the request's metadata, as JupyterLab does."""
        msg_id = self.send(code, cell_id)
        return self.collect(msg_id, timeout)

    def send(self, code: str, cell_id: str | None = None) -> str:
        """Start an execute request without waiting for it; returns its msg_id (see `collect`)."""
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        msg = self.client.session.msg("execute_request", content)
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        self.client.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def collect(self, msg_id: str, timeout: float = 60) -> Reply:
        """The outputs and status of the request `msg_id`, once the kernel is idle after it."""
        reply = Reply()
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            self._track_widgets(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "comm_msg" and content.get("data", {}).get("state"):
                reply.states.setdefault(content["comm_id"], {}).update(content["data"]["state"])
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                reply.outputs.append({"type": "stream", "name": content["name"], "text": content["text"]})
            elif kind in ("display_data", "execute_result"):
                reply.outputs.append({"type": kind, "data": content["data"]})
            elif kind == "error":
                reply.outputs.append({"type": "error", "ename": content["ename"], "evalue": content["evalue"]})
        shell = self.client.get_shell_msg(timeout=timeout)
        while shell["parent_header"].get("msg_id") != msg_id:
            shell = self.client.get_shell_msg(timeout=timeout)
        reply.status = shell["content"]["status"]
        for payload in shell["content"].get("payload", []):
            if payload.get("source") == "page":
                reply.page += str(payload.get("data", {}).get("text/plain", ""))
        if reply.status == "error":
            reply.error = f"{shell['content']['ename']}: {shell['content']['evalue']}"
        return reply

    def drain(self, seconds: float = 0.3) -> None:
        """Read iopub messages that arrive while no cell runs (widget updates)."""
        try:
            while True:
                self._track_widgets(self.client.get_iopub_msg(timeout=seconds))
        except queue.Empty:
            pass

    def wait_widget(self, model_id: str, ready: Callable[[dict[str, Any]], bool],
                    timeout: float = 30) -> dict[str, Any]:
        """Read iopub messages until the widget model's state satisfies `ready` (its state), or fail."""
        deadline = time.monotonic() + timeout
        while not ready(self.widgets.get(model_id, {})):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"widget {model_id}: not ready after {timeout}s: {self.widgets.get(model_id)}")
            with contextlib.suppress(queue.Empty):
                self._track_widgets(self.client.get_iopub_msg(timeout=left))
        return self.widgets[model_id]

    def _track_widgets(self, msg: dict[str, Any]) -> None:
        kind = msg["msg_type"]
        if kind not in ("comm_open", "comm_msg"):
            return
        data = msg["content"].get("data", {})
        if kind == "comm_msg":
            comm = msg["content"]["comm_id"]
            self.comm_msgs[comm] = self.comm_msgs.get(comm, 0) + 1
        state = data.get("state")
        if state:
            self.widgets.setdefault(msg["content"]["comm_id"], {}).update(state)
        comm_id = msg["content"]["comm_id"]
        if state and "steps" in state:
            self.tables.setdefault(comm_id, []).append(("table", state["steps"]))
        content = data.get("content") if data.get("method") == "custom" else None
        if isinstance(content, dict) and "rows" in content:  # the graph widget's row deltas, as widget.js merges them
            self.deltas.setdefault(comm_id, []).append(content["rows"])
            self.tables.setdefault(comm_id, []).append(("delta", content["rows"]))

    def widget_outputs(self, model_id: str) -> list[dict[str, Any]]:
        """The nbformat outputs an Output widget shows (error outputs keep their traceback lines)."""
        self.drain(0.2)
        return list(self.widgets.get(model_id, {}).get("outputs", []))

    def widget_text(self, model_id: str) -> str:
        """The text of everything an Output widget shows."""
        self.drain(0.2)
        parts = []
        for out in self.widgets.get(model_id, {}).get("outputs", []):
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif out["output_type"] == "error":
                parts.append(f"{out['ename']}: {out['evalue']}\n")
            else:
                parts.append(str(out.get("data", {}).get("text/plain", "")) + "\n")
        return "".join(parts)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    k = Kernel(tmp_path)
    try:
        reply = k.execute("%load_ext nbflow")
        assert reply.status == "ok", reply.error
        yield k
    finally:
        k.close()


@pytest.fixture
def bare_kernel(tmp_path: Path) -> Iterator[Kernel]:
    k = Kernel(tmp_path)
    try:
        yield k
    finally:
        k.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A real dask.distributed LocalCluster (processes), for this module's tests (tests/executors/clusters.py)."""
    from tests.executors.clusters import running_cluster

    with running_cluster() as found:
        yield found


@pytest.fixture(scope="module")
def worker_pids(cluster: Any) -> set[int]:
    """The pids of the cluster's worker processes."""
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        return set(client.run(os.getpid).values())
