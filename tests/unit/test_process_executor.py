"""`--executor process`: bodies run in worker processes; outputs, prints and errors come back."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import threading
from collections.abc import Iterator

import pytest

from nbflow.core import events as ev
from nbflow.core.errors import FlowFailed, NbflowError
from nbflow.core.executor import (
    RemoteExecutor,
    RemoteFailure,
    RemoteResult,
    RemoteStepError,
    RemoteTraceback,
    remote_failure,
)
from nbflow.core.flow import Flow
from nbflow.core.namespace import NamespaceHost, format_error
from nbflow.core.spec import make_spec
from nbflow.core.states import State
from nbflow.core.threads import ThreadExecutor
from nbflow.executors.process import ProcessExecutor

FAILING = "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nraise ValueError('bad value 7')"
# An exception that pickles but cannot be rebuilt (its __init__ wants two arguments, args holds one).
UNRESTORABLE = ("class Odd(Exception):\n    def __init__(self, a, b):\n        super().__init__(a)\n"
                "print('before odd')\nraise Odd('odd one', 2)")


@pytest.fixture(scope="module")
def executor() -> Iterator[ProcessExecutor]:
    e = ProcessExecutor(2)
    yield e
    e.shutdown()


@pytest.fixture(scope="module")
def flow(executor: ProcessExecutor) -> Iterator[Flow]:
    f = Flow(max_workers=2, executors=[executor])
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
    assert printed.getvalue() == f"done {flow.namespace['total']}\n"  # printed in the worker, written here


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


def test_the_process_executor_is_a_remote_executor_and_the_thread_one_is_not(executor: ProcessExecutor) -> None:
    """Flow finds `run` through the RemoteExecutor protocol, not by probing attributes."""
    assert isinstance(executor, RemoteExecutor)
    assert not isinstance(ThreadExecutor(1), RemoteExecutor)


@contextlib.contextmanager
def _printed() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """What the calling thread's stdout and stderr receive (a body's prints are relayed there as they come)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def test_run_brings_back_outputs_and_both_streams(executor: ProcessExecutor) -> None:
    """A successful body: the named outputs (only those); what it printed to stdout and stderr is relayed."""
    with _printed() as (out, err):
        outcome = executor.run("ok", "import sys\nprint('hi', n)\nsys.stderr.write('careful\\n')\nm = n + 1\nk = 0",
                               {"n": 41}, frozenset({"m"}))
    assert isinstance(outcome, RemoteResult) and outcome.outputs == {"m": 42}
    assert outcome.where.startswith("process pid ") and outcome.where != f"process pid {os.getpid()}"
    assert (out.getvalue(), err.getvalue()) == ("hi 41\n", "careful\n")


def test_printed_text_arrives_while_the_body_runs(executor: ProcessExecutor, tmp_path: object) -> None:
    """The body prints, then waits for a file only the test creates once it has seen that print."""
    from pathlib import Path

    go = Path(str(tmp_path)) / "go"
    seen = threading.Event()

    class Watch(io.StringIO):
        def write(self, text: str) -> int:
            if "started" in text:
                seen.set()
                go.touch()
            return super().write(text)

    watch = Watch()
    code = (f"import os, time\nprint('started')\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.01)\n"
            "print('done')")
    with contextlib.redirect_stdout(watch):
        executor.run("live", code, {}, frozenset())
    assert seen.is_set() and watch.getvalue() == "started\ndone\n"


def test_run_returns_a_failure_as_data_with_the_original_exception(executor: ProcessExecutor) -> None:
    """A failing body: type name, message, the remote traceback over the user's lines, printed text, and the error."""
    with _printed() as (out, err):
        outcome = executor.run("bad", FAILING, {}, frozenset())
    assert isinstance(outcome, RemoteFailure)
    assert (outcome.type_name, outcome.message) == ("ValueError", "bad value 7")
    assert (out.getvalue(), err.getvalue()) == ("to stdout\n", "to stderr\n")
    assert 'File "<step bad>", line 4, in <module>' in outcome.traceback
    assert "raise ValueError('bad value 7')" in outcome.traceback  # the source line, not only its number
    assert outcome.traceback.rstrip().endswith("ValueError: bad value 7")
    assert "_run_in_worker" not in outcome.traceback
    assert type(outcome.error) is ValueError and str(outcome.error) == "bad value 7"


def test_the_host_raises_the_original_type_with_its_remote_side_attached(executor: ProcessExecutor) -> None:
    """`except ValueError` catches a process step's ValueError; its printed text is written first."""
    host = NamespaceHost({})
    host.remote["process"] = executor
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            host.execute(make_spec("bad", FAILING, executor="process"))
        except ValueError as caught:
            error: BaseException = caught
        else:
            raise AssertionError("the step's ValueError was not raised")
    assert (out.getvalue(), err.getvalue()) == ("to stdout\n", "to stderr\n")
    assert str(error) == "bad value 7"
    failure = remote_failure(error)
    assert failure is not None and failure.error is error
    assert isinstance(error.__cause__, RemoteTraceback) and "<step bad>" in str(error.__cause__)
    line, text = format_error(error)
    assert line == "ValueError: bad value 7"
    assert text == failure.traceback


def test_an_exception_that_cannot_come_back_is_a_remote_step_error(executor: ProcessExecutor) -> None:
    """An exception that does not unpickle here arrives as RemoteStepError naming its type; it pickles itself."""
    with _printed() as (out, _err):
        outcome = executor.run("odd", UNRESTORABLE, {}, frozenset())
    assert isinstance(outcome, RemoteFailure) and outcome.error is None
    assert (outcome.type_name, outcome.message, out.getvalue()) == ("Odd", "odd one", "before odd\n")
    error = outcome.exception("odd")
    assert isinstance(error, RemoteStepError) and isinstance(error, NbflowError) and isinstance(error, RuntimeError)
    assert str(error) == "Odd: odd one" and error.step == "odd"
    assert "raise Odd('odd one', 2)" in error.failure.traceback
    assert remote_failure(error) is error.failure
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.failure) == (RemoteStepError, "Odd: odd one", error.failure)


def test_a_failed_process_step_reports_the_remote_traceback_and_prints(flow: Flow) -> None:
    """Through the flow: the attempt's error line and traceback are the remote ones; the prints reach stdout/stderr."""
    seen: list[ev.Event] = []
    unsubscribe = flow.subscribe(seen.append)
    flow.add("shout", FAILING, executor="process", retries=1, retry_on="ValueError")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(FlowFailed):
        flow.run("shout")
        flow.wait("shout", timeout=120)
    unsubscribe()
    status = flow.status()["shout"]
    assert (status.state, status.attempts) == (State.FAILED, 2)  # --retry-on ValueError saw a ValueError
    assert status.error == "ValueError: bad value 7"
    assert status.traceback is not None and "raise ValueError('bad value 7')" in status.traceback
    failed = [e for e in seen if isinstance(e, ev.AttemptFailed) and e.step == "shout"]
    assert [e.error for e in failed] == ["ValueError: bad value 7"] * 2
    assert all('File "<step shout>", line 4' in (e.traceback or "") for e in failed)
    assert out.getvalue().count("to stdout\n") == 2 and err.getvalue().count("to stderr\n") == 2
