"""`--executor process` with values that do not pickle: one line naming the variable, and the flow goes on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from nbflow.core.errors import FlowFailed
from nbflow.core.executor import NotSendable
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.executors.process import ProcessExecutor


@pytest.fixture(scope="module")
def executor() -> Iterator[ProcessExecutor]:
    e = ProcessExecutor(1)
    yield e
    e.shutdown()


@pytest.fixture
def flow(executor: ProcessExecutor) -> Iterator[Flow]:
    f = Flow(max_workers=1, executors=[executor])
    yield f
    f.close()


def test_an_unpicklable_input_is_named_with_the_reason(executor: ProcessExecutor) -> None:
    with socket.socket() as conn, pytest.raises(NotSendable) as caught:
        executor.run("query", "rows = [conn, n]", {"n": 1, "conn": conn}, frozenset({"rows"}))
    assert str(caught.value) == "input 'conn' cannot be sent to a worker process: cannot pickle 'socket' object"
    assert (caught.value.step, caught.value.variable) == ("query", "conn")
    assert isinstance(caught.value, TypeError)


def test_an_unpicklable_output_is_named_and_the_worker_serves_on(executor: ProcessExecutor) -> None:
    with pytest.raises(NotSendable) as caught:
        executor.run("locks", "import threading\nn = 3\nguard = threading.Lock()", {}, frozenset({"n", "guard"}))
    assert str(caught.value) == ("output 'guard' cannot come back from a worker process: "
                                 "cannot pickle '_thread.lock' object")
    assert caught.value.variable == "guard"
    assert executor.run("after", "m = 2", {}, frozenset({"m"})).outputs == {"m": 2}


def test_a_function_that_does_not_pickle_is_named(executor: ProcessExecutor) -> None:
    lock = threading.Lock()

    def guarded() -> int:
        with lock:
            return 1

    with pytest.raises(NotSendable, match=r"^step 'guarded''s function cannot be sent to a worker process: "
                                          r"cannot pickle '_thread.lock' object$"):
        executor.run("guarded", guarded, {}, frozenset({"guarded"}))


def test_through_the_flow_the_step_fails_with_that_line_and_others_still_run(flow: Flow) -> None:
    with socket.socket() as conn:
        flow.namespace["conn"] = conn
        flow.add("query", "rows = conn.recv(10)", executor="process")
        flow.add("other", "total = 1 + 1", executor="process")
        flow.run()
        with pytest.raises(FlowFailed, match="query"):
            flow.wait(timeout=60)
    status = flow.status()
    assert status["query"].state is State.FAILED
    assert status["query"].error == ("NotSendable: input 'conn' cannot be sent to a worker process: "
                                     "cannot pickle 'socket' object")
    assert status["other"].state is State.SUCCEEDED and flow.namespace["total"] == 2
