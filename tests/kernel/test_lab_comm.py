"""The `nbflow` comm in a real kernel: what the JupyterLab extension's badges are built from.

jupyter_client opens a comm to the target as the extension does, and reads
the kernel's replies from iopub (docs/guide/jupyterlab.md, "The comm protocol").
"""

from __future__ import annotations

import contextlib
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nbflow.core import labcomm

from .conftest import Kernel


class CommKernel(Kernel):
    """A kernel whose `nbflow` comms are recorded: every message, and whether the kernel closed them."""

    def __init__(self, cwd: Path) -> None:
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.closed: set[str] = set()
        self.announced: list[str] = []  # comms the kernel opened to the `nbflow` target
        super().__init__(cwd)

    def _track_widgets(self, msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "comm_msg" and content.get("comm_id") in self.messages:
            self.messages[content["comm_id"]].append(content["data"])
        elif msg["msg_type"] == "comm_close" and content.get("comm_id") in self.messages:
            self.closed.add(content["comm_id"])
        elif msg["msg_type"] == "comm_open" and content.get("target_name") == labcomm.TARGET:
            self.announced.append(content["comm_id"])
            self.messages[content["comm_id"]] = [content["data"]]
        super()._track_widgets(msg)

    def open_comm(self, data: dict[str, Any] | None = None) -> str:
        comm_id = uuid.uuid4().hex
        self.messages[comm_id] = []
        content = {"comm_id": comm_id, "target_name": labcomm.TARGET,
                   "data": {"type": labcomm.HELLO, "version": labcomm.VERSION} if data is None else data}
        self.client.shell_channel.send(self.client.session.msg("comm_open", content))
        return comm_id

    def send_comm(self, comm_id: str, data: dict[str, Any]) -> None:
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.client.shell_channel.send(msg)

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not seen after {timeout}s: {what}; got {self.messages}")
            with contextlib.suppress(queue.Empty):
                self._track_widgets(self.client.get_iopub_msg(timeout=min(left, 0.5)))


def fold(messages: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[int]]:
    """What a front end holds after these messages (the badge reducer), and the `seq` of each."""
    steps: dict[str, dict[str, Any]] = {}
    seqs = []
    for data in messages:
        assert data["version"] == labcomm.VERSION
        seqs.append(data["seq"])
        if data["type"] == labcomm.SNAPSHOT:
            steps = dict(data["steps"])
        elif data["type"] == labcomm.UPDATE:
            steps.update(data["steps"])
            for name in data["removed"]:
                steps.pop(name)
    return steps, seqs


@pytest.fixture
def comm_kernel(tmp_path: Path) -> Iterator[CommKernel]:
    k = CommKernel(tmp_path)
    try:
        yield k
    finally:
        k.close()


def test_snapshot_then_coalesced_rows_with_cell_ids(comm_kernel: CommKernel) -> None:
    k = comm_kernel
    assert k.execute("%load_ext nbflow").status == "ok"
    comm = k.open_comm()
    k.wait_for(lambda: bool(k.messages[comm]), "the snapshot")
    first = k.messages[comm][0]
    assert first["type"] == labcomm.SNAPSHOT and first["active"] is False and first["steps"] == {}
    assert first["palette"]["failed"] == ["#ef4444", "#ffffff"]  # the widget's colours (render/palette.py)

    k.execute("%%step load\nimport time\nfor i in range(30):\n    time.sleep(0.01)\nraw = 1", cell_id="cell-load")
    k.execute("%%step broken --after load\nraise ValueError('no good\\nsecond line')", cell_id="cell-broken")

    def final() -> bool:
        steps, _ = fold(k.messages[comm])
        return steps.get("load", {}).get("state") == "succeeded" and steps.get("broken", {}).get("state") == "failed"

    k.wait_for(final, "load succeeded and broken failed")
    steps, seqs = fold(k.messages[comm])
    assert steps["load"]["cell"] == "cell-load" and steps["broken"]["cell"] == "cell-broken"
    assert steps["broken"]["error"] == "ValueError: no good"  # the summary form: the first line only
    assert steps["load"]["attempts"] == 1 and steps["load"]["duration"] >= 0.3
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps: a front end can trust what it holds
    # coalesced: fewer messages than state changes (defined, queued, started, succeeded, ... for two steps)
    updates = [m for m in k.messages[comm] if m["type"] == labcomm.UPDATE]
    assert 1 <= len(updates) <= 8, updates
    # a reload asks again: the snapshot equals what the updates built, and its seq is the last one
    k.send_comm(comm, {"type": labcomm.REQUEST_SNAPSHOT})
    k.wait_for(lambda: k.messages[comm][-1]["type"] == labcomm.SNAPSHOT, "a second snapshot")
    again = k.messages[comm][-1]
    assert again["active"] is True and again["steps"] == steps and again["seq"] == seqs[-1]


def test_a_removed_step_leaves_and_a_second_front_end_gets_the_same_rows(comm_kernel: CommKernel) -> None:
    k = comm_kernel
    k.execute("%load_ext nbflow")
    k.execute("%%step a\nx = 1", cell_id="c1")
    k.execute("%%step b\ny = 2", cell_id="c2")
    k.execute("%flow wait")
    one, two = k.open_comm(), k.open_comm()
    k.wait_for(lambda: bool(k.messages[one]) and bool(k.messages[two]), "both snapshots")
    assert set(k.messages[one][0]["steps"]) == {"a", "b"}
    k.execute("from nbflow.jupyter.extension import kernel_flow\nkernel_flow().flow.remove('b')")
    for comm in (one, two):
        k.wait_for(lambda comm=comm: "b" not in fold(k.messages[comm])[0], f"b removed on {comm}")
    assert fold(k.messages[one]) == fold(k.messages[two])
    assert fold(k.messages[one])[0]["a"]["state"] == "succeeded"


def test_a_kernel_without_nbflow_closes_the_comm_then_load_ext_answers(comm_kernel: CommKernel) -> None:
    k = comm_kernel
    early = k.open_comm()
    k.wait_for(lambda: early in k.closed, "the kernel closing a comm to an unknown target")
    assert k.messages[early] == []
    assert k.execute("1 + 1").status == "ok"  # nothing broke
    # `%load_ext nbflow` in the open kernel: it opens a comm itself, its snapshot as the open's data
    # (a front end's HELLO would wait behind every cell a Run All queued), and follows the flow on it
    k.execute("%load_ext nbflow")
    assert len(k.announced) == 1
    announced = k.announced[0]
    assert k.messages[announced][0]["type"] == labcomm.SNAPSHOT
    k.execute("%%step a\nx = 1", cell_id="cell-a")
    k.wait_for(lambda: fold(k.messages[announced])[0].get("a", {}).get("state") == "succeeded", "a on it")
    # and a front end that asks is answered too
    late = k.open_comm()
    k.wait_for(lambda: bool(k.messages[late]), "the snapshot after %load_ext")
    assert k.messages[late][0]["type"] == labcomm.SNAPSHOT


def test_a_bad_hello_gets_a_one_line_error_and_unload_says_bye(comm_kernel: CommKernel) -> None:
    k = comm_kernel
    k.execute("%load_ext nbflow")
    bad = k.open_comm({"type": "hello", "version": "one"})
    k.wait_for(lambda: bad in k.closed, "the bad comm closed")
    assert k.messages[bad][0]["type"] == labcomm.ERROR and "version" in k.messages[bad][0]["message"]
    good = k.open_comm()
    k.wait_for(lambda: bool(k.messages[good]), "a snapshot")
    k.send_comm(good, {"type": "bogus"})
    k.wait_for(lambda: k.messages[good][-1]["type"] == labcomm.ERROR, "an error for an unknown type")
    assert "'bogus'" in k.messages[good][-1]["message"] and good not in k.closed
    k.execute("%unload_ext nbflow")
    k.wait_for(lambda: good in k.closed, "the comm closed by unload")
    assert k.messages[good][-1]["type"] == labcomm.BYE
