"""`--executor process` in a real kernel: a worker's failure and printed text appear under the step's cell."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from .conftest import Kernel

FAILING = ("%%step crunch --executor process --retries 1 --retry-on ValueError\n"
           "import os, sys\nprint('partial result from', os.getpid())\nprint('warning: odd row', file=sys.stderr)\n"
           "raise ValueError('bad row 7')")


def test_a_failed_process_step_shows_the_remote_traceback_and_what_it_printed(kernel: Kernel) -> None:
    """Each attempt's stdout, stderr and remote traceback (with the step's own line) land in its cell;
    --retry-on ValueError retried it, so the error came back as a ValueError."""
    reply = kernel.execute(FAILING)
    assert reply.status == "ok", reply.error
    waited = kernel.execute("%flow wait", timeout=120)
    assert waited.status == "error" and "1 step failed: crunch (ValueError: bad row 7)" in waited.text
    outputs = kernel.widget_outputs(reply.widget_ids()[0])
    stdout = "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stdout")
    stderr = "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stderr")
    kernel_pid = kernel.execute("import os; print(os.getpid())").text.strip()
    printed = stdout.splitlines()
    assert len(printed) == 2 and all(line.startswith("partial result from ") for line in printed), stdout
    assert kernel_pid not in {line.rsplit(" ", 1)[1] for line in printed}  # printed in a worker process
    assert stderr == "warning: odd row\n" * 2
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert [(e["ename"], e["evalue"]) for e in errors] == [("ValueError", "bad row 7")] * 2
    for error in errors:
        text = "\n".join(error["traceback"])
        assert 'File "<step crunch>", line 4, in <module>' in text
        assert "raise ValueError('bad row 7')" in text
        assert "_run_in_worker" not in text and "nbflow" not in text  # the user's frames, not nbflow's
    assert "crunch: attempt 2 of 2" in kernel.widget_text(reply.widget_ids()[0])
    assert re.search(r"^crunch\s+failed\s+2\s", kernel.execute("%flow status").text, re.M)


def test_cancel_stops_a_printing_process_step_and_kills_its_worker(kernel: Kernel, tmp_path: Path) -> None:
    """A process step printing in a loop shows its lines live; `%flow cancel` answers, the step is
    cancelled, its worker process is killed (its pid is gone, its counter file stops growing) and
    nothing after the cancel note reaches the cell."""
    counter, pid_file = tmp_path / "printed", tmp_path / "pid"
    reply = kernel.execute(
        "%%step spin --executor process\n"
        "import os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "i = 0\n"
        "while True:\n"
        "    print('line', i)\n"
        f"    open({str(counter)!r}, 'w').write(str(i))\n"
        "    i += 1\n"
        "    time.sleep(0.002)\n")
    (model_id,) = reply.widget_ids()
    kernel.wait_widget(model_id, lambda m: "line 5\n" in _stdout(m), timeout=60)  # live, while it runs
    cancelled = kernel.execute("%flow cancel spin", timeout=30)
    assert cancelled.status == "ok" and "cancelled spin" in cancelled.text, cancelled.text
    check = kernel.execute("from nbflow.jupyter.extension import kernel_flow\n_kf = kernel_flow()\n"
                           "print(_kf.flow.status()['spin'].state.value)")
    assert check.text.strip() == "cancelled"
    note = "– spin cancelled: cancelled by the user"
    kernel.wait_widget(model_id, lambda m: note in _texts(m))
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while _running(pid):
        assert time.monotonic() < deadline, f"worker {pid} still runs after the cancel"
        kernel.drain(0.05)
    at_end = _count(counter)
    kernel.drain(0.3)  # a live worker would print ~100 more lines in this span
    assert _count(counter) == at_end
    kernel.execute("_kf.sinks['spin'].flush()")  # anything the kernel still held is out by now
    outputs = kernel.widgets[model_id]["outputs"]
    assert _texts({"outputs": outputs})[-1] == note  # nothing after the note


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _count(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (OSError, ValueError):
        return 0


def _stdout(model: dict[str, Any]) -> str:
    return "".join(o["text"] for o in model.get("outputs", []) if o["output_type"] == "stream")


def _texts(model: dict[str, Any]) -> list[str]:
    return [o["text"] if o["output_type"] == "stream" else str(o.get("data", {}).get("text/plain", ""))
            for o in model.get("outputs", [])]


def test_unpicklable_input_and_output_are_one_line_each_and_the_kernel_goes_on(kernel: Kernel) -> None:
    """A socket as input and a lock as output: each step's cell shows one line naming the variable
    (no traceback of nbflow's), `%flow wait` names both steps, and the kernel and its process
    executor keep working."""
    kernel.execute("import socket\nconn = socket.socket()")
    query = kernel.execute("%%step query --executor process\nrows = conn.recv(10)")
    locks = kernel.execute("%%step locks --executor process\nimport threading\nguard = threading.Lock()")
    waited = kernel.execute("%flow wait", timeout=120)
    assert waited.status == "error" and "2 steps failed" in waited.text, waited.text
    expected = {
        query.widget_ids()[0]: "input 'conn' cannot be sent to a worker process: cannot pickle 'socket' object",
        locks.widget_ids()[0]: "output 'guard' cannot come back from a worker process: "
                               "cannot pickle '_thread.lock' object",
    }
    for model_id, line in expected.items():
        errors = [o for o in kernel.widget_outputs(model_id) if o["output_type"] == "error"]
        assert [(e["ename"], e["evalue"]) for e in errors] == [("NotSendable", line)]
        assert "\n".join(errors[0]["traceback"]).count("\n") <= 1, errors[0]["traceback"]
    after = kernel.execute("%%step fine --executor process\nvalue = 6 * 7")
    assert after.status == "ok"
    assert kernel.execute("%flow wait fine", timeout=120).status == "ok"
    assert kernel.execute("print(value)").text.strip() == "42"


def test_in_a_kernel_a_killed_worker_is_retried_and_a_timed_out_body_never_finishes(kernel: Kernel,
                                                                                  tmp_path: Path) -> None:
    """`fit` SIGKILLs its own worker on attempt 1: its cell shows the one-line WorkerDied, --retries 2
    runs it again and it succeeds with the right value after two executions. `slow` times out: its
    worker is killed, and the file it would write after its deadline never appears."""
    runs, late = tmp_path / "runs", tmp_path / "late"
    kernel.execute("%%step warm --executor process\nready = True")
    assert kernel.execute("%flow wait warm", timeout=120).status == "ok"  # a worker started: no spawn in a deadline
    fit = kernel.execute(
        "%%step fit --executor process --retries 2\nimport os, signal\n"
        f"with open({str(runs)!r}, 'a') as _f:\n    _f.write('x')\n"
        f"if len(open({str(runs)!r}).read()) == 1:\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "coef = 3 * 14")
    slow = kernel.execute(
        "%%step slow --executor process --timeout 1s\nimport time\ntime.sleep(2.5)\n"
        f"open({str(late)!r}, 'w').write('too late')")
    started = time.monotonic()
    waited = kernel.execute("%flow wait", timeout=120)
    assert waited.status == "error" and "1 step failed: slow" in waited.text, waited.text
    assert kernel.execute("print(coef)").text == "42\n" and runs.read_text() == "xx"
    assert re.search(r"^fit\s+succeeded\s+2\s", kernel.execute("%flow status").text, re.M)
    fit_text = kernel.widget_text(fit.widget_ids()[0])
    assert "WorkerDied: worker process for step 'fit' died: signal 9" in fit_text, fit_text
    assert "timed out after 1.0s" in kernel.widget_text(slow.widget_ids()[0])
    while time.monotonic() < started + 5.0:  # past when the body would have written (start + 2.5 s)
        assert not late.exists(), "the timed-out body ran on past its deadline"
        kernel.drain(0.1)
    assert not late.exists()


def test_a_process_step_displays_a_dataframe_and_a_figure_under_its_cell(kernel: Kernel) -> None:
    """display() in the worker, through the name the kernel gives and through an import: the cell gets the
    DataFrame's HTML and the figure's PNG, in order with what was printed."""
    reply = kernel.execute(
        "%%step report --executor process\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
        "from IPython.display import display as show\nprint('before')\n"
        "display(pd.DataFrame({'a': [1, 2], 'b': [3, 4]}))\nfig, ax = plt.subplots()\nax.plot([1, 2, 3])\n"
        "show(fig)\nplt.close(fig)\ndel fig, ax\nprint('after')")
    assert reply.status == "ok", reply.error
    assert kernel.execute("%flow wait report", timeout=120).status == "ok"
    outputs = kernel.widget_outputs(reply.widget_ids()[0])
    shown = [o for o in outputs if o["output_type"] == "display_data" and "nbflow-note" not in str(o["data"])]
    assert len(shown) == 2, outputs
    assert "<table" in shown[0]["data"]["text/html"] and "image/png" in shown[1]["data"]
    order = [o["output_type"] if o["output_type"] != "stream" else o["text"] for o in outputs]
    assert order[:4] == ["before\n", "display_data", "display_data", "after\n"], order
    assert kernel.execute("print(show is display)").text == "True\n"  # it came back as the kernel's display


def test_a_process_step_is_checkpointed_and_restored_after_a_restart_with_its_displays(tmp_path: Path) -> None:
    """Computed in a worker, then restored in a new kernel over the same store: no worker runs the body
    again (its count file says one execution), the value is back, and the table and plot show again."""
    from .test_restore_displays import REPORT, fresh, kinds

    runs = tmp_path / "runs"
    cell = REPORT.replace("%%step report", "%%step report --executor process", 1) + (
        f"\nwith open({str(runs)!r}, 'a') as _f:\n    _f.write('x')")
    outputs = []
    for _ in range(2):
        kernel = fresh(tmp_path)
        try:
            reply = kernel.execute(cell)
            assert kernel.execute("%flow wait", timeout=120).status == "ok"
            outputs.append(kinds(kernel.widget_outputs(reply.widget_ids()[0])))
            assert kernel.execute("print(total)").text == "3\n"
            state = kernel.execute("from nbflow.jupyter.extension import kernel_flow\n"
                                   "print(kernel_flow().flow.status()['report'].state.value)").text.strip()
        finally:
            kernel.close()
    computed, restored = outputs
    assert computed[:3] == ["text:the report: 2 rows", "html-table", "png"], computed
    assert state == "restored" and runs.read_text() == "x"
    assert restored[0].startswith("note:↺ restored") and restored[1:4] == computed[:3], restored
