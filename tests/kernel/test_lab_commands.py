"""The JupyterLab extension's commands, detail pane and layout over the `nbflow` comm, in a real kernel.

The commands make the Flow calls `%flow run/cancel/retry` make and answer with the line those print
(docs/guide/jupyterlab.md, "The comm protocol").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbflow.core import labcomm

from .test_lab_comm import CommKernel, comm_kernel  # noqa: F401  (the fixture)


def _rows(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    for data in messages:
        if data["type"] == labcomm.SNAPSHOT:
            steps = dict(data["steps"])
        elif data["type"] == labcomm.UPDATE:
            steps.update(data["steps"])
    return steps


def _last(messages: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((m for m in reversed(messages) if m["type"] == kind), None)


def test_commands_run_force_retry_cancel_and_answer_as_flow_does(comm_kernel: CommKernel, tmp_path: Path) -> None:  # noqa: F811
    k = comm_kernel
    k.execute("%load_ext nbflow")
    comm = k.open_comm()
    k.wait_for(lambda: bool(k.messages[comm]), "the snapshot")
    k.execute("%%step a\nfrom pathlib import Path\nruns = Path('runs_a.txt')\n"
              "runs.write_text((runs.read_text() if runs.exists() else '') + 'x')\nx = 1", cell_id="c-a")
    k.execute("%%step b --after a\ny = x + 1", cell_id="c-b")
    k.execute("%%step broken\nfrom pathlib import Path\ntries = Path('tries.txt')\n"
              "tries.write_text((tries.read_text() if tries.exists() else '') + 'x')\n"
              "raise ValueError('broken on purpose')", cell_id="c-broken")
    k.execute("%flow wait")
    k.wait_for(lambda: _rows(k.messages[comm]).get("broken", {}).get("state") == "failed", "broken failed")

    k.send_comm(comm, {"type": labcomm.RUN, "steps": ["a"], "force": True})
    k.wait_for(lambda: _last(k.messages[comm], labcomm.ANSWER) is not None, "the answer to run --force")
    answer = _last(k.messages[comm], labcomm.ANSWER)
    assert answer == {"type": "answer", "version": 1, "request": "run",
                      "message": "nbflow: re-running a, restoring nothing, and downstream b"}
    k.execute("%flow wait a b")
    assert (tmp_path / "runs_a.txt").read_text() == "xx"  # a's body ran again

    k.send_comm(comm, {"type": labcomm.RETRY})
    k.wait_for(lambda: _last(k.messages[comm], labcomm.ANSWER)["request"] == "retry", "the answer to retry")  # type: ignore[index]
    assert _last(k.messages[comm], labcomm.ANSWER)["message"] == "nbflow: retrying broken"  # type: ignore[index]
    k.wait_for(lambda: (tmp_path / "tries.txt").read_text() == "xx"
               and _rows(k.messages[comm])["broken"]["state"] == "failed", "broken ran again and failed")

    k.execute("%%step gate\nimport time\nfrom pathlib import Path\n"
              "while not Path('open.txt').exists():\n    time.sleep(0.02)", cell_id="c-gate")
    k.wait_for(lambda: _rows(k.messages[comm]).get("gate", {}).get("state") == "running", "gate running")
    k.send_comm(comm, {"type": labcomm.CANCEL})
    k.wait_for(lambda: _rows(k.messages[comm]).get("gate", {}).get("state") == "cancelled", "gate cancelled")
    k.wait_for(lambda: _last(k.messages[comm], labcomm.ANSWER)["message"] == "nbflow: cancelled gate",  # type: ignore[index]
               "the answer to cancel")
    (tmp_path / "open.txt").write_text("")

    k.send_comm(comm, {"type": labcomm.RUN, "steps": ["nope"]})
    k.wait_for(lambda: k.messages[comm][-1]["type"] == labcomm.ERROR, "an error for an unknown step")
    assert "nope" in k.messages[comm][-1]["message"] and "\n" not in k.messages[comm][-1]["message"]


def test_the_panel_gets_the_widgets_layout_and_detail_pane(comm_kernel: CommKernel) -> None:  # noqa: F811
    k = comm_kernel
    k.execute("%load_ext nbflow")
    comm = k.open_comm()
    k.wait_for(lambda: bool(k.messages[comm]), "the snapshot")
    k.send_comm(comm, {"type": labcomm.REQUEST_DETAIL, "step": "a"})
    k.wait_for(lambda: k.messages[comm][-1]["type"] == labcomm.ERROR, "no flow yet")
    assert "no flow" in k.messages[comm][-1]["message"]
    k.send_comm(comm, {"type": labcomm.REQUEST_LAYOUT})
    k.execute("%%step a\nx = 1", cell_id="c-a")
    k.execute("%%step broken --after a\nprint('before')\nraise ValueError('broken on purpose')", cell_id="c-b")
    k.execute("%flow wait")

    def laid_out_both() -> bool:
        layout = _last(k.messages[comm], labcomm.LAYOUT)
        return layout is not None and "<title>broken</title>" in layout["svg"]

    k.wait_for(laid_out_both, "a layout of both steps")
    layout = _last(k.messages[comm], labcomm.LAYOUT)
    assert layout is not None and layout["svg"].startswith("<svg") and "<title>a</title>" in layout["svg"]
    k.send_comm(comm, {"type": labcomm.REQUEST_DETAIL, "step": "broken"})
    k.wait_for(lambda: _last(k.messages[comm], labcomm.DETAIL) is not None, "the detail")
    detail = _last(k.messages[comm], labcomm.DETAIL)
    assert detail is not None and detail["step"] == "broken"
    pane = detail["detail"]
    assert pane["state"] == "failed" and pane["error"] == "ValueError: broken on purpose"
    assert "Traceback" in pane["traceback"] and "before" in pane["text"] and len(pane["attempts"]) == 1
