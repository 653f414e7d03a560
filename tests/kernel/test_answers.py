"""Every `%flow` command answers in one line saying what it did (real kernels over jupyter_client)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .conftest import Kernel


def one_line(kernel: Kernel, command: str) -> str:
    reply = kernel.execute(command)
    assert reply.status == "ok", (command, reply.error)
    text = reply.text.strip()
    assert text and "\n" not in text, (command, reply.text)
    return text


def logged(log: Path, name: str) -> str:
    return f"open({str(log)!r}, 'a').write('{name} ')\n"


def ran(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def chain(kernel: Kernel, log: Path) -> None:
    for cell in (f"%%step a\n{logged(log, 'a')}a = 1",
                 f"%%step b --after a\n{logged(log, 'b')}b = a + 1",
                 f"%%step c --after b\n{logged(log, 'c')}c = b + 1"):
        assert kernel.execute(cell).status == "ok"
    assert kernel.execute("%flow wait").status == "ok"


def test_run_force_invalidate_clean_and_resume_each_say_what_they_did(kernel: Kernel, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    chain(kernel, log)
    assert one_line(kernel, "%flow run") == "nbflow: everything is up to date"
    assert one_line(kernel, "%flow run a --force") == "nbflow: re-running a, restoring nothing, and downstream b, c"
    kernel.execute("%flow wait")
    assert ran(log) == ["a", "b", "c"] * 2  # the dependents executed too: none was restored
    line = one_line(kernel, "%flow invalidate b")
    assert line == "nbflow: dropped the checkpoint of 'b'; b and downstream c are stale, running again"
    kernel.execute("%flow wait")
    assert ran(log)[6:] == ["b"]  # b executed; c's checkpoint still matches b's unchanged output: restored
    kernel.execute("%%step a\na = 2")  # a new definition: a, b, c get new checkpoints, the old ones are orphans
    kernel.execute("%flow wait")
    preview = one_line(kernel, "%flow clean --dry-run")
    assert re.fullmatch(r"nbflow: would remove (\d+) checkpoints, [\d.]+ (B|KB|MB); kept 3 current", preview), preview
    files = len(list((tmp_path / ".nbflow").glob("*/*.ckpt")))
    cleaned = one_line(kernel, "%flow clean")
    assert cleaned == preview.replace("would remove", "removed")
    assert len(list((tmp_path / ".nbflow").glob("*/*.ckpt"))) == 3 < files
    assert one_line(kernel, "%flow clean") == "nbflow: removed 0 checkpoints, 0 B; kept 3 current"
    assert one_line(kernel, "%flow run --force") == (
        "nbflow: running 3 steps: a, b, c, computing them all (nothing restored)")
    kernel.execute("%flow wait")


def test_resume_answers_in_one_line(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    first = Kernel(tmp_path)
    try:
        first.execute("%load_ext nbflow")
        chain(first, log)
    finally:
        first.close()
    second = Kernel(tmp_path)
    try:
        second.execute("%load_ext nbflow")
        assert one_line(second, "%flow resume") == "nbflow: restored 3 step(s): a, b, c"
    finally:
        second.close()


def test_retry_names_what_runs_again(kernel: Kernel, tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    kernel.execute(f"%%step flaky\nimport os\nassert os.path.exists({str(flag)!r}), 'not yet'\nv = 1")
    kernel.execute("%%step later --after flaky\nw = v + 1")
    assert kernel.execute("%flow wait").status == "error"
    flag.touch()
    assert one_line(kernel, "%flow retry flaky") == "nbflow: retrying flaky, then later"
    assert kernel.execute("%flow wait").status == "ok"
    assert kernel.execute("print(w)").text.strip() == "2"


def test_cancel_names_every_cancelled_step_downstream_included(kernel: Kernel, tmp_path: Path) -> None:
    go = tmp_path / "go"
    kernel.execute(f"%%step hang\nimport os, time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.01)")
    kernel.execute("%%step mid --after hang\nm = 1")
    kernel.execute("%%step low --after mid\nn = 1")
    assert one_line(kernel, "%flow cancel hang --downstream") == "nbflow: cancelled hang, mid, low"
    go.touch()  # the abandoned thread ends
    kernel.execute("%%step other\no = 1")
    kernel.execute("%flow wait other")
    assert one_line(kernel, "%flow cancel") == "nbflow: cancelled nothing (no step was waiting or running)"


def test_interrupted_wait_ends_with_one_line_and_a_hint(kernel: Kernel, tmp_path: Path) -> None:
    go = tmp_path / "go"
    kernel.execute(f"%%step hang\nimport os, time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.01)")
    # The barrier: the flow's wait says when it has started (inside `%flow wait`), then the kernel is interrupted.
    kernel.execute("from nbflow.jupyter.extension import kernel_flow\nflow = kernel_flow().flow\n"
                   "def announced(*names, wait=flow.wait, **options):\n"
                   "    print('waiting', flush=True)\n"
                   "    return wait(*names, **options)\n"
                   "flow.wait = announced")
    msg_id = kernel.send("%flow wait")
    while True:
        msg = kernel.client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            break
    kernel.manager.interrupt_kernel()
    reply = kernel.collect(msg_id)
    go.touch()
    assert reply.status == "error"
    assert reply.error == "WaitInterrupted: interrupted; 1 step still running — %flow cancel stops them"
    assert kernel.execute("%flow wait").status == "ok"


def test_private_names_leave_ipythons_underscore_alone(kernel: Kernel) -> None:
    kernel.execute("40 + 2")
    kernel.execute("%%step fit\ncoef, *_ = (3, 4, 5)")
    kernel.execute("%flow wait")
    assert kernel.execute("print(coef, _)").text.strip() == "3 42"


def test_duplicate_step_names_the_other_cell_by_position_and_first_line(tmp_path: Path) -> None:
    notebook = tmp_path / "dup.ipynb"
    cells = [{"id": "first", "cell_type": "code", "source": "%load_ext nbflow", "metadata": {}, "outputs": [],
              "execution_count": None},
             {"id": "one", "cell_type": "code", "source": "%%step load\nraw = [1, 2]", "metadata": {},
              "outputs": [], "execution_count": None},
             {"id": "two", "cell_type": "code", "source": "%%step load\nraw = [3]", "metadata": {}, "outputs": [],
              "execution_count": None}]
    notebook.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    kernel = Kernel(tmp_path, env={"JPY_SESSION_NAME": str(notebook)})
    try:
        kernel.execute("%load_ext nbflow", cell_id="first")
        assert kernel.execute("%%step load\nraw = [1, 2]", cell_id="one").status == "ok"
        dup = kernel.execute("%%step load\nraw = [3]", cell_id="two")
        assert dup.status == "error"
        assert dup.error == ("DuplicateStepError: step 'load' is already defined in cell 2 (`raw = [1, 2]`); "
                             "rename one of the two steps")
    finally:
        kernel.close()


def test_interrupting_a_plain_cell_while_steps_run_gives_the_hint(kernel: Kernel, tmp_path: Path) -> None:
    go, started = tmp_path / "go", tmp_path / "started"
    kernel.execute(f"%%step hang\nimport os, time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.01)")
    msg_id = kernel.send(f"import os, time\nopen({str(started)!r}, 'w').close()\nwhile True:\n    time.sleep(0.01)")
    deadline = time.monotonic() + 30
    while not started.exists():  # the barrier: the plain cell is in its loop (polled: it writes no message)
        assert time.monotonic() < deadline, "the plain cell never started"
        kernel.drain(0.02)
    kernel.manager.interrupt_kernel()
    reply = kernel.collect(msg_id)
    go.touch()
    assert reply.status == "error" and reply.error.startswith("KeyboardInterrupt")
    assert "nbflow: interrupted; 1 step still running — %flow cancel stops them" in reply.text


def test_retry_messages_come_in_the_order_things_happened(kernel: Kernel) -> None:
    """Failed for good, every line stays (a successful retry folds them: test_output_bounds.py), in order."""
    reply = kernel.execute("%%step flaky --retries 1\nraise ValueError('no luck')")
    assert kernel.execute("%flow wait").status == "error"
    text = kernel.widget_text(reply.widget_ids()[0])
    marks = [text.find(m) for m in ("flaky: attempt 1 failed: ValueError: no luck", "flaky: retrying in 0s",
                                    "flaky: attempt 2 of 2", "flaky: attempt 2 failed", "✗ flaky failed")]
    assert -1 not in marks and marks == sorted(marks), text
    assert text.count("retrying in") == 1
