"""`--executor process` stops what it gives up on: real worker processes, killed and replaced.

Each body leaves files behind (its pid, a count of executions, a side effect
it would have after its deadline), so the tests see what really ran and what
never happened.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nbflow.core import events as ev
from nbflow.core.errors import FlowFailed
from nbflow.core.executor import WorkerDied
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.executors.process import ProcessExecutor

DEADLINE = 15.0  # seconds a test waits for a condition before failing


@pytest.fixture
def executor() -> Iterator[ProcessExecutor]:
    e = ProcessExecutor(2)
    yield e
    e.shutdown()


@pytest.fixture
def flow(executor: ProcessExecutor) -> Iterator[Flow]:
    f = Flow(max_workers=2, executors=[executor])
    yield f
    f.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie not yet reaped counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.02)


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _record_pid(path: Path) -> str:
    """Code that appends the worker's pid to `path`; `runs` is then how many executions there were."""
    return (f"import os\nwith open({str(path)!r}, 'a') as _f:\n    _f.write(f'{{os.getpid()}}\\n')\n"
            f"runs = len(open({str(path)!r}).read().split())\n")


def test_a_timed_out_attempt_is_killed_and_what_it_would_do_later_never_happens(flow: Flow, tmp_path: Path,
                                                                                executor: ProcessExecutor) -> None:
    """The body would write a file 1.5 s after its 1 s deadline; its worker is killed instead."""
    pids, late = tmp_path / "pids", tmp_path / "late"
    executor.run("warm", "", {}, frozenset())  # a started worker: the deadline is not spent on spawning one
    flow.add("slow", _record_pid(pids) + f"import time\ntime.sleep(2.5)\nopen({str(late)!r}, 'w').write('late')",
             executor="process", timeout=1)
    started = time.monotonic()
    flow.run("slow")
    with pytest.raises(FlowFailed, match="timed out"):
        flow.wait("slow", timeout=60)
    (pid,) = _pids(pids)
    _until(lambda: not _alive(pid), f"worker {pid} killed")
    assert pid not in executor.workers()
    while time.monotonic() < started + 5.0:  # well past when it would have written (start + 2.5 s)
        assert not late.exists(), "the timed-out body ran on past its deadline"
        time.sleep(0.05)
    assert not late.exists()


def test_a_retry_after_a_timeout_runs_in_a_fresh_worker(flow: Flow, tmp_path: Path) -> None:
    """Attempt 1 hangs past --timeout; attempt 2 runs in another process and succeeds."""
    pids = tmp_path / "pids"
    flow.add("flaky", _record_pid(pids) + "import time\nif runs == 1:\n    time.sleep(60)\nvalue = runs * 10",
             executor="process", timeout=1, retries=1)
    flow.run("flaky")
    flow.wait("flaky", timeout=60)
    first, second = _pids(pids)
    assert first != second and flow.namespace["value"] == 20
    assert flow.status()["flaky"].attempts == 2
    _until(lambda: not _alive(first), f"timed-out worker {first} killed")


def test_cancel_kills_the_running_worker(flow: Flow, tmp_path: Path, executor: ProcessExecutor) -> None:
    pids, ticks = tmp_path / "pids", tmp_path / "ticks"
    flow.add("spin", _record_pid(pids) + f"import time\nwhile True:\n    open({str(ticks)!r}, 'a').write('.')\n"
             "    time.sleep(0.01)", executor="process")
    flow.run("spin")
    _until(lambda: ticks.exists(), "the body started")
    assert flow.cancel("spin") == {"spin"}
    (pid,) = _pids(pids)
    _until(lambda: not _alive(pid), f"cancelled worker {pid} killed")
    assert flow.status()["spin"].state is State.CANCELLED
    size = ticks.stat().st_size
    time.sleep(0.2)  # a dead process writes nothing more: would a live one have written in this span?
    assert ticks.stat().st_size == size


def _died_events(flow: Flow) -> tuple[list[ev.AttemptFailed], Callable[[], None]]:
    seen: list[ev.AttemptFailed] = []
    unsubscribe = flow.subscribe(lambda e: seen.append(e) if isinstance(e, ev.AttemptFailed) else None)
    return seen, unsubscribe


def test_a_step_that_kills_its_own_worker_is_retried_and_succeeds(flow: Flow, tmp_path: Path) -> None:
    """Attempt 1 SIGKILLs its worker; the attempt fails with one clear line, --retries 2 runs it again
    (in a new process) and it succeeds: two executions in all, the right value."""
    pids = tmp_path / "pids"
    seen, unsubscribe = _died_events(flow)
    flow.add("fit", _record_pid(pids) + "import signal\nif runs == 1:\n    os.kill(os.getpid(), signal.SIGKILL)\n"
             "coef = 42 + runs", executor="process", retries=2)
    flow.run("fit")
    flow.wait("fit", timeout=60)
    unsubscribe()
    assert flow.namespace["coef"] == 44
    status = flow.status()["fit"]
    assert (status.state, status.attempts) == (State.SUCCEEDED, 2)
    assert len(_pids(pids)) == 2 and len(set(_pids(pids))) == 2
    assert [e.error for e in seen] == ["WorkerDied: worker process for step 'fit' died: signal 9"]


@pytest.mark.parametrize(("code", "how"), [
    ("os._exit(3)", "exit code 3"),
    ("import ctypes\nctypes.string_at(0)", "signal 11"),
])
def test_a_worker_that_exits_or_segfaults_fails_the_attempt_naming_how(flow: Flow, tmp_path: Path,
                                                                      code: str, how: str) -> None:
    pids = tmp_path / "pids"
    flow.add("fit", _record_pid(pids) + code, executor="process")
    flow.run("fit")
    with pytest.raises(FlowFailed):
        flow.wait("fit", timeout=60)
    status = flow.status()["fit"]
    assert status.state is State.FAILED
    assert status.error == f"WorkerDied: worker process for step 'fit' died: {how}"


def test_a_worker_killed_from_outside_mid_body_is_retried(flow: Flow, tmp_path: Path) -> None:
    """The test kills the worker while its body waits; the retry's execution count is what --retries says."""
    pids, go = tmp_path / "pids", tmp_path / "go"
    flow.add("fit", _record_pid(pids) + f"import time\nwhile runs == 1 and not os.path.exists({str(go)!r}):\n"
             "    time.sleep(0.01)\nvalue = runs", executor="process", retries=1)
    flow.run("fit")
    _until(lambda: len(_pids(pids)) == 1, "attempt 1 started")
    os.kill(_pids(pids)[0], signal.SIGKILL)
    flow.wait("fit", timeout=60)
    assert flow.namespace["value"] == 2 and len(_pids(pids)) == 2


def test_worker_death_without_retries_raises_worker_died_from_run(executor: ProcessExecutor) -> None:
    with pytest.raises(WorkerDied, match=r"^worker process for step 'x' died: exit code 7$"):
        executor.run("x", "import os\nos._exit(7)", {}, frozenset())
    assert executor.run("y", "z = 1", {}, frozenset({"z"})).outputs == {"z": 1}  # a fresh worker serves on


def test_shutdown_kills_a_busy_worker(tmp_path: Path) -> None:
    executor = ProcessExecutor(1)
    pids = tmp_path / "pids"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            executor.run("long", _record_pid(pids) + "import time\ntime.sleep(60)", {}, frozenset())
        except BaseException as error:  # what the waiting thread gets once its worker is gone
            errors.append(error)

    waiter = threading.Thread(target=run)
    with contextlib.redirect_stdout(io.StringIO()):
        waiter.start()
        _until(lambda: len(_pids(pids)) == 1, "the body started")
        executor.shutdown()
        waiter.join(DEADLINE)
    (pid,) = _pids(pids)
    assert not _alive(pid) and not waiter.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], WorkerDied)


def test_flow_close_kills_a_busy_worker(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    flow = Flow(max_workers=1, executors=[ProcessExecutor(1)])
    flow.add("long", _record_pid(pids) + "import time\ntime.sleep(60)", executor="process")
    flow.run("long")
    _until(lambda: len(_pids(pids)) == 1, "the body started")
    flow.close()
    (pid,) = _pids(pids)
    _until(lambda: not _alive(pid), f"worker {pid} killed by Flow.close()")


def test_outside_ipython_a_worker_display_is_its_text_in_order_with_prints(executor: ProcessExecutor) -> None:
    """No shell here to publish rich data to: the display's text/plain is printed where it was displayed."""
    out = io.StringIO()
    code = ("class Rich:\n    def _repr_html_(self):\n        return '<b>rich</b>'\n    def __repr__(self):\n"
            "        return 'Rich()'\nprint('one')\ndisplay(Rich())\nprint('two')")
    with contextlib.redirect_stdout(out):
        executor.run("shows", code, {}, frozenset())
    assert out.getvalue() == "one\nRich()\ntwo\n"


def test_an_idle_worker_killed_meanwhile_fails_the_next_attempt_cleanly_or_is_replaced(executor: ProcessExecutor,
                                                                                       tmp_path: Path) -> None:
    """A worker SIGKILLed while idle is not handed a job as if alive: the next run gets a fresh worker."""
    pids = tmp_path / "pids"
    executor.run("first", _record_pid(pids), {}, frozenset())
    (pid,) = _pids(pids)
    os.kill(pid, signal.SIGKILL)
    # Its process has ended, as the pool sees it (the sentinel): /proc can show the main thread a
    # zombie while the other threads still hold its pipes open.
    _until(lambda: pid not in executor.workers(), f"worker {pid} killed")
    outcome = executor.run("second", _record_pid(pids) + "value = 5", {}, frozenset({"value"}))
    assert outcome.outputs == {"value": 5} and _pids(pids)[1] != pid
