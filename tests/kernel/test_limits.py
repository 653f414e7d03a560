"""Bounded inputs in a real kernel: a huge or out-of-range header is one line, and the step keeps its definition."""

from __future__ import annotations

from .conftest import Kernel


def test_oversized_and_out_of_range_headers_are_one_line_and_change_nothing(kernel: Kernel) -> None:
    assert kernel.execute("%%step s --retries 2\nx = 1").status == "ok"
    assert kernel.execute("%flow wait").status == "ok"
    cases = {
        "%%step s --if " + "(" * 350_000 + "1" + ")" * 350_000: "header: expected a header of at most 65,536",
        "%%step s --retries " + "9" * 5000: "--retries: expected a whole number from 0 to 10,000 or 'inf'",
        "%%step s --delay 4000000d": "--delay: expected a duration of at most 366d",
        "%%step s --at 9999-12-31T23:59:59": "--at: expected a time at most 366d from now",
        "%%step __builtins__": "step name: expected a name that is not __dunder__",
        "%%step " + "n" * 300: "step name: expected a name of at most 128 characters",
    }
    for cell, expected in cases.items():
        reply = kernel.execute(cell + "\nx = 2", timeout=30)
        assert reply.status == "error", cell[:40]
        assert expected in reply.text and reply.text.count("\n") <= 1 and len(reply.text) < 400, reply.text
    # The step is as it was: same options, same value, nothing re-ran.
    assert kernel.execute("print(x, kf().flow.steps['s'].retries)".replace(
        "kf()", "__import__('nbflow.jupyter.extension', fromlist=['x']).kernel_flow()")).text.split() == ["1", "2"]
