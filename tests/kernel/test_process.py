"""`--executor process` in a real kernel: a worker's failure and printed text appear under the step's cell."""

from __future__ import annotations

import re

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
