"""Each %%step option end to end in one real kernel: after-any, retry-on, timeout, if, on-fail, delay."""

from __future__ import annotations

import re

from .conftest import Kernel


def state(kernel: Kernel, step: str) -> str:
    match = re.search(rf"^{step}\s+(\S+)", kernel.execute("%flow status").text, re.M)
    assert match, step
    return match.group(1)


def test_options_end_to_end(kernel: Kernel) -> None:
    """Every option changes what happens in the kernel as docs/guide/step-options.md says."""
    kernel.execute("calls = []")
    run = [
        "%%step fast\nf = 1",
        "%%step slow\nimport time\ntime.sleep(0.3)\ns = 1",
        "%%step either --after-any fast,slow\nimport time\nseen_slow = 's' in dir()\ne = 1",
        "%%step net --retries 3 --retry-on OSError\ncalls.append('net')\n"
        "if calls.count('net') < 2:\n    raise ConnectionError('reset')\nn = 1",
        "%%step val --retries 3 --retry-on OSError --on-fail continue\ncalls.append('val')\nraise ValueError('no')",
        "%%step after_val --after val\nav = 1",
        "%%step slowpoke --timeout 200ms\nimport time\ntime.sleep(2)\nsp = 1",
        "%%step skipped --if \"len(calls) > 100\"\nsk = 1",
        "%%step delayed --after fast --delay 300ms\nimport time\nd_at = time.time()",
    ]
    for source in run:
        assert kernel.execute(source).status == "ok", source
    reply = kernel.execute("%flow wait")
    assert reply.status == "error"
    assert "slowpoke (TimeoutError" in reply.text
    assert "val" not in reply.text.split("failed:")[1]  # --on-fail continue is reported, not raised
    assert state(kernel, "either") == "succeeded"
    assert kernel.execute("print(seen_slow)").text.strip() == "False"  # ran on `fast`, before `slow`
    assert kernel.execute("print(calls.count('net'), calls.count('val'))").text.split() == ["2", "1"]
    assert state(kernel, "val") == "failed"
    assert state(kernel, "after_val") == "succeeded"
    assert state(kernel, "slowpoke") == "failed"
    assert state(kernel, "skipped") == "skipped"
    assert kernel.execute("print('sk' in dir(), 'sp' in dir())").text.split() == ["False", "False"]
    assert state(kernel, "delayed") == "succeeded"


def test_process_executor_in_the_kernel(kernel: Kernel) -> None:
    """--executor process: the body runs in a worker; its print lands under the cell; outputs bind."""
    kernel.execute("n = 100_000")
    reply = kernel.execute("%%step heavy --executor process\nimport os\npid = os.getpid()\n"
                           "total = sum(i % 7 for i in range(n))\nprint('heavy done')")
    assert kernel.execute("%flow wait").status == "ok"
    assert kernel.execute("import os\nprint(pid != os.getpid(), total)").text.split() == [
        "True", str(sum(i % 7 for i in range(100_000)))]
    assert "heavy done" in kernel.widget_text(reply.widget_ids()[0])
    assert kernel.execute("%flow config executor=process").status == "ok"
    kernel.execute("%%step light\nimport os\nwhere = os.getpid()")
    kernel.execute("%flow wait")
    assert kernel.execute("import os\nprint(where != os.getpid())").text.strip() == "True"
