"""Process workers never outlive their kernel: shut down, `%unload_ext nbflow`, or killed with SIGKILL.

Each test starts a process step whose body sleeps for minutes, learns its
worker's pid from a file the body writes, ends the kernel's use of it one way,
and polls (with a deadline) until that pid is gone.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import Kernel

DEADLINE = 20.0


def _running(pid: int) -> bool:
    """Alive and not a zombie (a re-parented worker may wait to be reaped by a PID 1 that never does)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_sleeper(kernel: Kernel, tmp_path: Path) -> int:
    pid_file = tmp_path / "worker.pid"
    reply = kernel.execute("%%step sleeper --executor process\nimport os, time\n"
                           f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)")
    assert reply.status == "ok", reply.error
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the process step never started"
        kernel.drain(0.05)
    pid = int(pid_file.read_text())
    assert _running(pid)
    return pid


def _gone(pid: int, how: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while _running(pid):
        assert time.monotonic() < deadline, f"worker {pid} still runs {DEADLINE}s after {how}"
        time.sleep(0.05)


def test_a_kernel_killed_with_sigkill_leaves_no_worker(kernel: Kernel, tmp_path: Path) -> None:
    """Nothing in the kernel runs after SIGKILL: the worker sees its lifeline pipe close and exits."""
    pid = _start_sleeper(kernel, tmp_path)
    kernel_pid = int(kernel.execute("import os; print(os.getpid())").text)
    os.kill(kernel_pid, signal.SIGKILL)
    _gone(pid, "the kernel was killed")


@pytest.mark.parametrize("how", ["%unload_ext nbflow", "shutdown"])
def test_unloading_or_shutting_down_the_kernel_kills_a_busy_worker(kernel: Kernel, tmp_path: Path, how: str) -> None:
    pid = _start_sleeper(kernel, tmp_path)
    if how == "shutdown":
        kernel.client.shutdown()  # a shutdown request: the kernel exits through its atexit handlers
    else:
        assert kernel.execute(how, timeout=30).status == "ok"
    _gone(pid, how)
    if how != "shutdown":
        assert kernel.execute("print('still here')").text == "still here\n"
