"""`--executor process`: bodies run in worker processes; outputs, prints and errors come back."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator

import pytest

from nbflow.core.errors import FlowFailed
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.executors.process import ProcessExecutor


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    f = Flow(max_workers=2, executors=[ProcessExecutor(2)])
    yield f
    f.close()


def test_code_step_runs_in_another_process_and_binds_outputs(flow: Flow) -> None:
    """Inputs go out, the code runs in a worker (another pid), outputs come back bound."""
    flow.namespace["n"] = 200_000
    flow.add("cpu", "import os\nworker = os.getpid()\ntotal = sum(i * i for i in range(n))\nprint('done', total)",
             executor="process")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        flow.run("cpu")
        flow.wait("cpu", timeout=120)
    assert flow.namespace["total"] == sum(i * i for i in range(200_000))
    assert flow.namespace["worker"] != os.getpid()


def test_function_step_and_dependencies_cross_processes(flow: Flow) -> None:
    """A function step in a worker gets its parameters from upstream outputs."""
    flow.add("base", "numbers = list(range(10))")

    def doubled(numbers: list[int]) -> list[int]:
        return [x * 2 for x in numbers]

    flow.add("doubled", doubled, after="base", executor="process")
    flow.run("doubled")
    flow.wait("doubled", timeout=120)
    assert flow.namespace["doubled"] == [x * 2 for x in range(10)]


def test_errors_keep_their_type_for_retry_on(flow: Flow) -> None:
    """An exception raised in the worker comes back as itself, so --retry-on and FlowFailed work."""
    flow.add("bad", "raise KeyError('missing')", executor="process", retries=2, retry_on="ValueError")
    flow.run("bad")
    with pytest.raises(FlowFailed, match="KeyError"):
        flow.wait("bad", timeout=120)
    status = flow.status()["bad"]
    assert (status.state, status.attempts) == (State.FAILED, 1)
