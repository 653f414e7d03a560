"""`--executor dask` on a real LocalCluster: inputs and outputs, printed text, errors, retries, timeouts, cancel."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from nbflow.core.errors import FlowFailed
from nbflow.core.executor import RemoteFailure, RemoteResult
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.executors.dask import DaskExecutor

from .clusters import bodies_running, poll, step_tasks


@pytest.fixture
def executor(cluster: LocalCluster) -> DaskExecutor:
    return DaskExecutor(cluster.scheduler_address)


@pytest.fixture
def flow(executor: DaskExecutor) -> Iterator[Flow]:
    f = Flow(executors=[executor])
    yield f
    f.close()


def test_inputs_go_out_outputs_and_printed_text_come_back(flow: Flow, client: Client) -> None:
    """A code step and a function step run on the cluster's workers; their outputs are bound here."""
    flow.namespace["n"] = 1000
    flow.add("total", "import os, sys\nworker = os.getpid()\ntotal = sum(range(n))\nprint('summed', total)\n"
             "print('note', file=sys.stderr)", executor="dask")

    def doubled(total: int) -> int:
        return total * 2

    flow.add("doubled", doubled, after="total", executor="dask")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        flow.run()
        flow.wait(timeout=60)
    assert flow.namespace["total"] == sum(range(1000)) and flow.namespace["doubled"] == 2 * sum(range(1000))
    assert flow.namespace["worker"] in client.run(os.getpid).values()  # it ran in a worker process
    assert out.getvalue() == f"summed {sum(range(1000))}\n" and err.getvalue() == "note\n"


def test_a_large_input_is_scattered_once_and_again_when_it_changes(flow: Flow, executor: DaskExecutor) -> None:
    """Three steps read a 2 MiB input: it is sent to the cluster once; a changed value is sent again,
    an equal one in a new object (same digest) is not."""
    flow.namespace["blob"] = bytes(range(256)) * 8192
    for name in ("a", "b", "c"):
        flow.add(name, f"{name}_len = len(blob) + blob[7]", executor="dask")
    flow.run()
    flow.wait(timeout=60)
    assert (flow.namespace["a_len"], flow.namespace["c_len"], executor.scatters) == (2 * 2**20 + 7, 2 * 2**20 + 7, 1)
    flow.namespace["blob"] = bytes(reversed(range(256))) * 8192
    flow.run("a", force=True)
    flow.wait(timeout=60)
    assert (flow.namespace["a_len"], executor.scatters) == (2 * 2**20 + 248, 2)
    flow.namespace["blob"] = bytes(reversed(range(256))) * 8192  # the same content, another object
    flow.run("b", force=True)
    flow.wait(timeout=60)
    assert (flow.namespace["b_len"], executor.scatters) == (2 * 2**20 + 248, 2)


def test_an_exception_comes_back_as_itself_with_the_workers_traceback(flow: Flow) -> None:
    flow.add("bad", "print('before')\nraise KeyError('missing row')", executor="dask")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        flow.run()
        with pytest.raises(FlowFailed, match="bad"):
            flow.wait(timeout=60)
    status = flow.status("bad")["bad"]
    assert status.error == "KeyError: 'missing row'" and out.getvalue() == "before\n"
    assert status.traceback is not None and 'File "<step bad>", line 2' in status.traceback
    assert "dask_task" not in status.traceback  # the user's frames, not nbflow's


def test_retries_and_backoff_apply_to_a_failing_dask_step(flow: Flow, tmp_path: Path) -> None:
    """Fails twice with ValueError, then succeeds: 3 attempts, each retry at least the backoff later."""
    runs = tmp_path / "runs"
    flow.namespace["runs"] = str(runs)
    flow.add("flaky", "with open(runs, 'a') as _f:\n    _f.write('x')\nn = len(open(runs).read())\n"
             "if n < 3:\n    raise ValueError(f'flaky {n}')\nvalue = n", executor="dask",
             retries=2, backoff="fixed:300ms", retry_on="ValueError")
    flow.run()
    flow.wait(timeout=60)
    status = flow.status("flaky")["flaky"]
    assert (status.state, status.attempts, flow.namespace["value"]) == (State.SUCCEEDED, 3, 3)
    log = status.attempt_log
    assert [a.error for a in log] == ["ValueError: flaky 1", "ValueError: flaky 2", None]
    assert all(later.started - earlier.ended >= 0.3 for earlier, later in itertools.pairwise(log))  # type: ignore[operator]


def test_retry_on_another_type_is_not_retried(flow: Flow) -> None:
    flow.add("typed", "raise KeyError('k')", executor="dask", retries=3, retry_on="ValueError")
    flow.run()
    flow.wait(timeout=60, raise_on_failure=False)
    assert flow.status("typed")["typed"].attempts == 1


SLOW = ("import pathlib, time\npathlib.Path(started).write_text('x')\nfor _ in range(400):\n    time.sleep(0.01)\n"
        "pathlib.Path(late).write_text('late')\nfinished = True")


def test_a_timeout_stops_the_body_on_its_worker(flow: Flow, client: Client, tmp_path: Path) -> None:
    """The body would write `late` 4s in; it times out after 1s and is stopped: once no body runs on
    any worker, `late` is not there (had it run on, it would have written it before ending)."""
    flow.namespace.update(started=str(tmp_path / "started"), late=str(tmp_path / "late"))
    flow.add("slow", SLOW, executor="dask", timeout="1s")
    flow.run()
    flow.wait(timeout=60, raise_on_failure=False)
    status = flow.status("slow")["slow"]
    assert status.state is State.FAILED and status.error == "TimeoutError: step 'slow': attempt 1 timed out after 1.0s"
    assert (tmp_path / "started").exists()
    poll(lambda: not bodies_running(client), what="the timed-out body has stopped")
    assert not (tmp_path / "late").exists() and "finished" not in flow.namespace


def test_cancel_cancels_the_task_and_stops_its_body(flow: Flow, cluster: LocalCluster, client: Client,
                                                    tmp_path: Path) -> None:
    flow.namespace.update(started=str(tmp_path / "started"), late=str(tmp_path / "late"))
    flow.add("slow", SLOW, executor="dask")
    flow.run()
    poll((tmp_path / "started").exists, what="the body started")
    assert step_tasks(cluster, "slow")
    assert flow.cancel("slow") == {"slow"}
    poll(lambda: not bodies_running(client) and not step_tasks(cluster, "slow"),
         what="the body stopped and the scheduler forgot the task")
    assert not (tmp_path / "late").exists()
    assert flow.status("slow")["slow"].state is State.CANCELLED
    flow.add("after_cancel", "ok = 1", executor="dask")  # the cluster and the flow go on working
    flow.run("after_cancel")
    flow.wait("after_cancel", timeout=60)
    assert flow.namespace["ok"] == 1


def test_closing_the_flow_stops_a_running_body(executor: DaskExecutor, client: Client, tmp_path: Path) -> None:
    """The cluster is not nbflow's (it stays up), but what nbflow sent there does not run on."""
    flow = Flow(executors=[executor])
    flow.namespace.update(started=str(tmp_path / "started"), late=str(tmp_path / "late"))
    flow.add("slow", SLOW, executor="dask")
    flow.run()
    poll((tmp_path / "started").exists, what="the body started")
    flow.close()
    poll(lambda: not bodies_running(client), what="the body stopped")
    assert not (tmp_path / "late").exists() and client.status == "running"


def test_an_unpicklable_input_is_one_line_naming_it(flow: Flow) -> None:
    flow.namespace["lock"] = threading.Lock()
    flow.add("uses_lock", "held = lock.locked()", executor="dask")
    flow.run()
    flow.wait(timeout=60, raise_on_failure=False)
    status = flow.status("uses_lock")["uses_lock"]
    assert status.error == ("TransferError: input 'lock' cannot be sent to a Dask worker: "
                            "cannot pickle '_thread.lock' object")
    assert status.traceback is not None and status.traceback.strip().splitlines() == [
        f"nbflow.executors.dask.{status.error}"]  # one line, no traceback of nbflow's frames


def test_an_unpicklable_output_is_one_line_naming_it(flow: Flow) -> None:
    flow.add("makes_lock", "import threading\nprint('made it')\nguard = threading.Lock()\nsize = 3", executor="dask")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        flow.run()
        flow.wait(timeout=60, raise_on_failure=False)
    status = flow.status("makes_lock")["makes_lock"]
    assert status.error == ("TransferError: output 'guard' cannot come back from the Dask worker: "
                            "cannot pickle '_thread.lock' object (del it in the step, or call it _guard to "
                            "keep it the step's own)")
    assert out.getvalue() == "made it\n" and "size" not in flow.namespace  # a failed attempt binds nothing


def test_each_result_and_failure_says_which_dask_worker_ran_it(executor: DaskExecutor, client: Client) -> None:
    """`where` is the worker's address, for a result and for a failure alike (the attempt records show it)."""
    workers = set(client.scheduler_info()["workers"])
    done = executor.run("where_ok", "value = 1", {}, frozenset({"value"}))
    failed = executor.run("where_bad", "raise ValueError('no')", {}, frozenset())
    assert isinstance(done, RemoteResult) and isinstance(failed, RemoteFailure)
    assert done.where in workers and failed.where in workers, (done.where, failed.where, workers)
