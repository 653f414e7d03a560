"""Restored cells look computed: printed text, an HTML table and a PNG plot come back after a restart,
under a provenance line whose figures come from the checkpoint actually loaded."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nbflow.store import CheckpointStore

from .conftest import Kernel

REPORT = """%%step report
import time
import pandas as pd
import matplotlib.pyplot as plt
from IPython.display import display
print("the report: 2 rows")
time.sleep(1.0)
table = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
display(table)
fig, ax = plt.subplots()
ax.plot([1, 2, 3])
display(fig)
plt.close(fig)
del fig, ax
total = int(table["a"].sum())"""

STATUS = ("import json; from nbflow.jupyter.extension import kernel_flow\n"
          "s = kernel_flow().flow.status()['report']\n"
          "print(json.dumps(s.to_json()))")


def fresh(tmp_path: Path) -> Kernel:
    kernel = Kernel(tmp_path)
    assert kernel.execute("%load_ext nbflow").status == "ok"
    return kernel


def run_report(kernel: Kernel) -> str:
    """Run the step cell and wait; the model id of the cell's Output widget."""
    reply = kernel.execute(REPORT)
    assert reply.status == "ok", reply.text
    (model_id,) = reply.widget_ids()
    assert kernel.execute("%flow wait", timeout=120).status == "ok"
    return model_id


def kinds(outputs: list[dict[str, Any]]) -> list[str]:
    """Each output in order: stream text, or the MIME types of a display."""
    found = []
    for out in outputs:
        if out["output_type"] == "stream":
            found.append("text:" + out["text"].strip())
        elif out["output_type"] == "display_data":
            data = out["data"]
            found.append("html-table" if "<table" in str(data.get("text/html", ""))
                         else "png" if "image/png" in data else "note:" + str(data.get("text/plain", "")))
    return found


def test_a_restored_cell_shows_text_table_and_plot_under_its_provenance(tmp_path: Path) -> None:
    first = fresh(tmp_path)
    try:
        computed = kinds(first.widget_outputs(run_report(first)))
        first_status = json.loads(first.execute(STATUS).text)
    finally:
        first.close()
    assert computed[:3] == ["text:the report: 2 rows", "html-table", "png"], computed
    second = fresh(tmp_path)
    try:
        model_id = run_report(second)
        restored = kinds(second.widget_outputs(model_id))
        status = json.loads(second.execute(STATUS).text)
        total = second.execute("print(total)").text.strip()
        (entry,) = CheckpointStore(tmp_path / ".nbflow").list("report")
        before = CheckpointStore(tmp_path / ".nbflow").load("report", entry.key).header
        # Forced again after the restore: what it saves is what this run displayed, not the replay too.
        assert second.execute("%flow run report --force").status == "ok"
        assert second.execute("%flow wait", timeout=120).status == "ok"
        again = CheckpointStore(tmp_path / ".nbflow").load("report", entry.key).header
    finally:
        second.close()
    assert before is not None and again is not None and again.created > before.created
    assert kinds(list(again.displays)) == kinds(list(before.displays)) == computed[:3]
    assert status["state"] == "restored"
    assert total == "3"
    assert restored[0].startswith("note:↺ restored: computed "), restored
    assert restored[1:] == computed[:3], restored  # shown once each: the replay is not captured again

    header = before  # the checkpoint the restore loaded
    assert header is not None and header.duration is not None and header.duration >= 1.0
    assert status["original_seconds"] == header.duration
    assert status["duration"] == header.duration and status["attempts"] == header.attempts == 1
    assert status["computed_at"] == header.created
    assert abs(status["time_saved"] - max(0.0, header.duration - status["load_seconds"])) < 1e-9
    line = restored[0]
    assert re.search(r"computed \d{4}-\d\d-\d\d \d\d:\d\d in \d", line)
    assert re.search(r", saved \d", line)
    # One figure for one run: the computed run's duration and its line are the checkpoint's own.
    assert first_status["duration"] == header.duration
    succeeded = next(c for c in computed if c.startswith("note:✓ report succeeded in "))
    took = re.search(r"succeeded in (\d[\dhms.]*s)", succeeded)
    assert took is not None and f" in {took[1]}, saved" in line, (succeeded, line)


def test_a_resumed_step_shows_its_displays_in_the_detail_text(tmp_path: Path) -> None:
    first = fresh(tmp_path)
    try:
        run_report(first)
    finally:
        first.close()
    second = fresh(tmp_path)
    try:
        assert "restored 1 step(s): report" in second.execute("%flow resume").text
        text = second.execute("from nbflow.jupyter.extension import kernel_flow\n"
                              "print(kernel_flow().output_text('report'))").text
    finally:
        second.close()
    assert "↺ restored: computed" in text
    assert "the report: 2 rows" in text


def test_resume_in_a_live_kernel_keeps_what_it_computed(tmp_path: Path) -> None:
    """A step computed here is not overwritten by its older checkpoint; its reader follows the new output."""
    log = tmp_path / "log.txt"
    first = fresh(tmp_path)
    steps = [
        f"%%step load\nopen({str(log)!r}, 'a').write('load\\n')\nraw = list(range({{n}}))",
        f"%%step total --after load\nopen({str(log)!r}, 'a').write('total\\n')\nresult = sum(raw)",
    ]
    try:
        for cell in (steps[0].format(n=10), steps[1], "%flow wait"):
            assert first.execute(cell).status == "ok"
    finally:
        first.close()
    second = fresh(tmp_path)
    try:
        assert second.execute(steps[0].format(n=20)).status == "ok"
        assert second.execute("%flow wait").status == "ok"
        reply = second.execute("%flow resume").text
        raw = second.execute("print(len(raw))").text.strip()
        states = json.loads(second.execute(
            "import json; from nbflow.jupyter.extension import kernel_flow\n"
            "print(json.dumps({n: s.state.value for n, s in kernel_flow().flow.status().items()}))").text)
        has_result = second.execute("print('result' in globals())").text.strip()
    finally:
        second.close()
    assert "kept as they are in this kernel: load (succeeded)" in reply, reply
    assert raw == "20"
    assert states["load"] == "succeeded"
    # total's checkpoint was computed from the old raw: it is not restored over the new one
    assert states["total"] != "restored" and has_result == "False", (states, reply)
    assert "total" in reply
    assert log.read_text().splitlines() == ["load", "total", "load"]


def test_status_after_resume_shows_the_original_attempts_and_duration(tmp_path: Path) -> None:
    flag = tmp_path / "failed-once"
    flaky = (f"%%step flaky --retries 2\nimport os, time\ntime.sleep(0.3)\n"
             f"if not os.path.exists({str(flag)!r}):\n    open({str(flag)!r}, 'w').close()\n"
             f"    raise RuntimeError('first attempt')\nvalue = 7")
    first = fresh(tmp_path)
    try:
        reply = first.execute(flaky)
        assert reply.status == "ok", reply.error
        assert first.execute("%flow wait").status == "ok"
    finally:
        first.close()
    second = fresh(tmp_path)
    try:
        assert "restored 1 step(s): flaky" in second.execute("%flow resume").text
        status = json.loads(second.execute(STATUS.replace("'report'", "'flaky'")).text)
        table = second.execute("%flow status").text
    finally:
        second.close()
    (entry,) = CheckpointStore(tmp_path / ".nbflow").list("flaky")
    header = CheckpointStore(tmp_path / ".nbflow").load("flaky", entry.key).header
    assert header is not None and header.attempts == 2 and header.duration is not None
    assert status["state"] == "restored"
    assert status["attempts"] == 2
    assert status["duration"] == header.duration >= 0.3
    assert re.search(r"^flaky\s+restored\s+2\s", table, re.M), table
