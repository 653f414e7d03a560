"""Output at any volume in a real kernel: a bounded live view, the whole text on disk, cancel stops a printer."""

from __future__ import annotations

import json
from typing import Any

from nbflow.jupyter.window import HEAD_LINES, TAIL_LINES

from .conftest import Kernel

LINES = 100_000


def _notes(outputs: list[dict[str, Any]]) -> list[str]:
    return [str(o.get("data", {}).get("text/plain", "")) for o in outputs if o["output_type"] == "display_data"]


def test_a_step_printing_100k_lines_shows_head_marker_and_tail_and_logs_everything(kernel: Kernel) -> None:
    """The widget holds the first and last lines with the count between; the log has every line; RSS stays low."""
    kernel.execute("import psutil; _rss0 = psutil.Process().memory_info().rss")
    reply = kernel.execute(f"%%step chatty\nfor i in range({LINES}):\n    print('line', i)")
    (model_id,) = reply.widget_ids()
    assert kernel.execute("%flow wait", timeout=120).status == "ok"
    state = kernel.wait_widget(model_id, lambda m: any("succeeded" in n for n in _notes(m.get("outputs", []))))
    outputs = state["outputs"]
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["stream", "display_data", "stream", "display_data"]
    head, marker, tail = outputs[0]["text"], outputs[1]["data"]["text/plain"], outputs[2]["text"]
    assert head == "".join(f"line {i}\n" for i in range(HEAD_LINES))
    assert marker == f"… {LINES - HEAD_LINES - TAIL_LINES:,} lines not shown …"
    assert tail == "".join(f"line {i}\n" for i in range(LINES - TAIL_LINES, LINES))
    # every flush sent the bounded view, never the whole text: a handful of updates of at most ~1,200 lines
    assert kernel.comm_msgs[model_id] < 200
    check = kernel.execute(
        "import json\nfrom nbflow.jupyter.extension import kernel_flow\n"
        "_kf = kernel_flow(); _log = _kf.sinks['chatty'].log\n"
        "_full = _kf.full_output('chatty').splitlines()\n"
        "print(json.dumps([str(_log.path.relative_to(_kf.store.local_root)), len(_full), _full[0], _full[-2],"
        " _kf.output_text('chatty').count(chr(10)),"
        " (psutil.Process().memory_info().rss - _rss0) / 2**20]))")
    path, count, first, last, shown, growth_mb = json.loads(check.text)
    assert path == "chatty/output.notebook.txt"  # the flow of a kernel not told its notebook: "notebook"
    assert (count, first, last) == (LINES + 1, "line 0", f"line {LINES - 1}")  # + the "succeeded" note
    assert shown == HEAD_LINES + TAIL_LINES + 2  # the detail pane's text is the bounded view
    assert growth_mb < 100, f"kernel RSS grew {growth_mb:.0f} MB"


def test_cancel_stops_a_step_printing_in_an_endless_loop(kernel: Kernel) -> None:
    """`%flow cancel` makes the step's next print raise in its thread; nothing it prints lands after the note."""
    kernel.execute("import threading\nended = threading.Event()\nstopped_by = []")
    reply = kernel.execute(
        "%%step spin\n"
        "try:\n"
        "    i = 0\n"
        "    while True:\n"
        "        try:\n"
        "            print('line', i)\n"
        "        except Exception:\n"  # user code that swallows errors does not swallow the stop
        "            pass\n"
        "        i += 1\n"
        "except BaseException as error:\n"
        "    stopped_by.append(type(error).__name__)\n"
        "    raise\n"
        "finally:\n"
        "    ended.set()\n")
    (model_id,) = reply.widget_ids()
    kernel.wait_widget(model_id, lambda m: any(o["output_type"] == "stream" for o in m.get("outputs", [])))
    reply = kernel.execute("%flow cancel spin\nprint(ended.wait(1), stopped_by)")
    assert reply.text.strip().endswith("True ['AttemptAbandoned']"), reply.text
    check = kernel.execute(
        "from nbflow.jupyter.extension import kernel_flow\n_kf = kernel_flow()\n"
        "print(_kf.flow.status()['spin'].state.value)\n"
        "_kf.flow.wait(timeout=5); _kf.sinks['spin'].flush()\n"
        "print([o['output_type'] for o in _kf.sinks['spin'].outputs][-2:])")
    assert check.text.splitlines() == ["cancelled", "['stream', 'display_data']"]
    note = "– spin cancelled: cancelled by the user"
    kernel.wait_widget(model_id, lambda m: note in _notes(m.get("outputs", [])))
    kernel.execute("_kf.sinks['spin'].flush()")  # its thread has ended: whatever it printed is out by now
    outputs = kernel.widgets[model_id]["outputs"]  # every update sent before that cell went idle has been read
    assert outputs[-1]["output_type"] == "display_data" and _notes(outputs)[-1] == note


def test_a_timed_out_printing_step_stops_and_its_retry_runs(kernel: Kernel) -> None:
    """A timed-out attempt is abandoned: its thread stops at its next print, and the retry runs to the end."""
    kernel.execute("import threading\nfirst_ended = threading.Event()\nattempts = []")
    kernel.execute(
        "%%step spin --timeout 0.3 --retries 1 --retry-on TimeoutError\n"
        "n = len(attempts) + 1\n"
        "attempts.append(n)\n"
        "if n == 1:\n"
        "    try:\n"
        "        while True:\n"
        "            print('spinning')\n"
        "    finally:\n"
        "        first_ended.set()\n"
        "done = n\n")
    reply = kernel.execute("%flow wait spin\nprint(first_ended.wait(5), done)", timeout=60)
    assert reply.text.strip().splitlines()[-1] == "True 2", reply.text
    status = kernel.execute("from nbflow.jupyter.extension import kernel_flow\n"
                            "print(kernel_flow().flow.status()['spin'].state.value)")
    assert status.text.strip() == "succeeded"
