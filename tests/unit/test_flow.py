"""The Flow API end to end on real threads: every option of docs/guide/step-options.md, with short real times."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbflow.core import events as ev
from nbflow.core.errors import FlowFailed, FlowTimeout, NbflowError, OptionError, StateError
from nbflow.core.executor import Done
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.core.threads import ThreadExecutor


@pytest.fixture
def flow() -> Iterator[Flow]:
    f = Flow(max_workers=4)
    yield f
    f.close()


class Settling(ThreadExecutor):
    """A thread executor that counts attempts the scheduler has finished judging.

    An abandoned attempt's thread goes on running; a test that asserts its
    late result was dropped waits here for the scheduler to have seen it.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers)
        self._settled = threading.Semaphore(0)

    def submit(self, job: Any, done: Done) -> None:
        def settle(result: Any, error: BaseException | None) -> None:
            try:
                done(result, error)
            finally:
                self._settled.release()

        super().submit(job, settle)

    def wait_settled(self, count: int, timeout: float = 10) -> None:
        """Until `count` more attempts' completions (late ones included) have been handled."""
        for _ in range(count):
            assert self._settled.acquire(timeout=timeout), "an attempt never came back"


def states(flow: Flow) -> dict[str, str]:
    return {name: s.state.value for name, s in flow.status().items()}


def record(flow: Flow) -> list[ev.Event]:
    seen: list[ev.Event] = []
    flow.subscribe(seen.append)
    return seen


def test_readme_example_flow_runs_with_the_documented_states(flow: Flow) -> None:
    """The README's example flow as code strings: all succeed, the plot's condition decides, report sees stats."""
    ns = flow.namespace
    ns["read_rows"] = lambda path: [{"ok": i % 3 != 0, "v": i} for i in range(30)]
    ns["compute"] = lambda rows: sum(r["v"] for r in rows)
    ns["draw"] = lambda rows: len(rows)
    ns["printed"] = []
    flow.add("load", 'raw = read_rows("data.csv")')
    flow.add("clean", 'rows = [r for r in raw if r["ok"]]', after="load", retries=3, backoff="exp:1s..30s")
    flow.add("stats", "summary = compute(rows)", after="clean", timeout="10m")
    flow.add("plot", "figure = draw(rows)", after="clean", condition="len(rows) > 0")
    flow.add("report", "printed.append(summary)", after="stats,plot")
    flow.run()
    flow.wait(timeout=10)
    assert states(flow) == dict.fromkeys(["load", "clean", "stats", "plot", "report"], "succeeded")
    assert ns["printed"] == [sum(i for i in range(30) if i % 3 != 0)]
    assert ns["figure"] == 20


def test_false_condition_skips_and_skipped_satisfies_after(flow: Flow) -> None:
    """--if false: the step is skipped, binds nothing, and its --after dependents still run."""
    flow.add("a", "rows = []")
    flow.add("plot", "drawn = True", after="a", condition="len(rows) > 0")
    flow.add("report", "done = True", after="plot")
    flow.run()
    flow.wait(timeout=10)
    assert states(flow) == {"a": "succeeded", "plot": "skipped", "report": "succeeded"}
    assert "drawn" not in flow.namespace
    assert flow.status()["plot"].reason == "--if 'len(rows) > 0' is false"


def test_condition_that_raises_fails_the_step(flow: Flow) -> None:
    """An --if that raises fails the step and names the expression and the error."""
    flow.add("a", "x = 1", condition="undefined_name > 0")
    flow.run()
    with pytest.raises(FlowFailed, match="NameError"):
        flow.wait(timeout=10)
    assert flow.status()["a"].error.startswith("--if 'undefined_name > 0' raised NameError")


def test_failed_attempts_retry_then_succeed_and_only_success_commits(flow: Flow) -> None:
    """Retries run up to N more attempts; failed attempts bind nothing."""
    calls: list[int] = []
    flow.namespace["calls"] = calls
    flow.add("flaky", "calls.append(1)\nresult = len(calls)\nif len(calls) < 3: raise IOError('down')",
             retries=3)
    seen = record(flow)
    flow.run()
    flow.wait(timeout=10)
    status = flow.status()["flaky"]
    assert (status.state, status.attempts) == (State.SUCCEEDED, 3)
    assert flow.namespace["result"] == 3
    failed = [e.attempt for e in seen if isinstance(e, ev.AttemptFailed)]
    assert failed == [1, 2]


def test_retries_exhausted_fail_with_the_last_error(flow: Flow) -> None:
    """After 1 + retries attempts the step fails; FlowFailed names it with the error."""
    flow.namespace["n"] = []
    flow.add("bad", "n.append(1)\nraise ValueError(f'attempt {len(n)}')", retries=2)
    flow.run()
    with pytest.raises(FlowFailed) as info:
        flow.wait(timeout=10)
    assert str(info.value) == "1 step failed: bad (ValueError: attempt 3)"
    assert flow.status()["bad"].attempts == 3
    assert "ValueError: attempt 3" in (flow.status()["bad"].traceback or "")


def test_retry_on_only_retries_listed_exceptions(flow: Flow) -> None:
    """--retry-on OSError retries ConnectionError (a subclass) but not ValueError."""
    flow.namespace["log"] = []
    flow.add("net", "log.append('net')\nif len(log) < 2: raise ConnectionError('reset')\nok = 1",
             retries=3, retry_on="OSError")
    flow.add("val", "raise ValueError('no')", retries=3, retry_on="OSError")
    flow.run()
    flow.wait(timeout=10, raise_on_failure=False)
    status = flow.status()
    assert (status["net"].state, status["net"].attempts) == (State.SUCCEEDED, 2)
    assert (status["val"].state, status["val"].attempts) == (State.FAILED, 1)


def test_backoff_sequence_and_waits(flow: Flow) -> None:
    """exp backoff doubles from the base up to the cap; each wait counts from the failure."""
    flow.namespace["starts"] = []
    flow.add("s", "import time\nstarts.append(time.monotonic())\nraise RuntimeError('x')",
             retries=4, backoff="exp:50ms..150ms")
    seen = record(flow)
    flow.run()
    flow.wait(timeout=10, raise_on_failure=False)
    delays = [e.delay for e in seen if isinstance(e, ev.StepRetrying)]
    assert delays == [0.05, 0.1, 0.15, 0.15]
    starts = flow.namespace["starts"]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for gap, delay in zip(gaps, delays, strict=True):
        assert delay <= gap < delay + 1.0


def test_infinite_retries_until_success(flow: Flow) -> None:
    """--retries inf keeps going until the step succeeds."""
    flow.namespace["n"] = []
    flow.add("s", "n.append(1)\nif len(n) < 20: raise RuntimeError('not yet')\ndone = len(n)",
             retries="inf")
    flow.run()
    flow.wait(timeout=10)
    assert flow.namespace["done"] == 20


def test_timeout_abandons_the_attempt_and_discards_its_late_outputs() -> None:
    """A timed-out attempt fails with TimeoutError; what its thread does later is dropped."""
    executor = Settling(1)
    with Flow(executors=[executor]) as flow:
        release = threading.Event()
        flow.namespace["release"] = release
        flow.namespace["tries"] = []
        flow.add("slow", "tries.append(1)\nmine = len(tries)\nif mine == 1: release.wait(5)\nvalue = mine",
                 timeout="200ms", retries=1)
        t0 = time.monotonic()
        flow.run()
        flow.wait(timeout=10)
        # The retry ran although the one worker slot's thread is still stuck.
        assert time.monotonic() - t0 < 3
        assert flow.namespace["value"] == 2
        log = flow.status()["slow"].attempt_log
        assert log[0].timed_out and "timed out after 200ms" in (log[0].error or "")
        release.set()
        executor.wait_settled(2)  # the retry, then the abandoned first attempt
        assert flow.namespace["value"] == 2  # the abandoned attempt's value=1 never lands


def test_status_names_a_timed_out_thread_still_running_in_the_background() -> None:
    """A thread cannot be killed: status says the abandoned attempt still runs, until it returns."""
    from nbflow.core.status import format_table

    executor = Settling(4)
    with Flow(executors=[executor]) as flow:
        gate = threading.Event()
        flow.namespace["gate"] = gate
        flow.add("spin", "gate.wait(10)", timeout="100ms")
        flow.run()
        flow.wait(timeout=10, raise_on_failure=False)
        got = flow.status()["spin"]
        assert (got.state, got.background) == (State.FAILED, 1)
        assert got.detail.endswith("(its abandoned attempt is still running in the background)")
        assert "still running in the background" in format_table([got])
        gate.set()
        executor.wait_settled(1)
        assert flow.status()["spin"].background == 0
        assert "background" not in flow.status()["spin"].detail


def test_timeout_without_retries_fails_and_namespace_is_untouched() -> None:
    """A step that times out leaves the namespace as it was, also once its thread finishes."""
    executor = Settling(4)
    with Flow(executors=[executor]) as flow:
        gate = threading.Event()
        flow.namespace.update(x="before", gate=gate)
        flow.add("slow", "x = 'during'\ngate.wait(5)\nx = 'after'", timeout="100ms")
        flow.run()
        with pytest.raises(FlowFailed, match="TimeoutError"):
            flow.wait(timeout=10)
        gate.set()
        executor.wait_settled(1)
        assert flow.namespace["x"] == "before"


def test_on_fail_continue_lets_dependents_run_and_wait_does_not_raise(flow: Flow) -> None:
    """--on-fail continue: dependents run as if skipped; the failure is reported, not raised."""
    flow.add("opt", "raise KeyError('k')", on_fail="continue")
    flow.add("next", "ran = True", after="opt")
    flow.run()
    result = flow.wait(timeout=10)
    assert result["opt"].state is State.FAILED
    assert result["next"].state is State.SUCCEEDED


def test_failure_blocks_dependents_as_upstream_failed(flow: Flow) -> None:
    """--on-fail stop (default): everything downstream is upstream-failed, siblings run."""
    flow.add("a", "raise ValueError('bad')")
    flow.add("b", "x = 1", after="a")
    flow.add("c", "y = 1", after="b")
    flow.add("d", "z = 1")
    flow.run()
    with pytest.raises(FlowFailed) as info:
        flow.wait(timeout=10)
    assert states(flow) == {"a": "failed", "b": "upstream-failed", "c": "upstream-failed", "d": "succeeded"}
    assert info.value.blocked == ("b", "c")
    got = flow.status()
    assert got["b"].reason == "upstream step 'a' failed"
    assert got["c"].reason == "upstream step 'b' was blocked by a failure further up"  # b itself did not fail


def test_after_any_runs_on_first_success_and_blocks_only_when_none_can(flow: Flow) -> None:
    """--after-any: one success is enough; all failed → upstream-failed; all skipped → skipped."""
    gate = threading.Event()
    flow.namespace["gate"] = gate
    flow.add("fast", "f = 1")
    flow.add("slowpoke", "gate.wait(5)\ns = 1")
    flow.add("either", "e = 1", after_any="fast,slowpoke")
    flow.add("bad1", "raise ValueError()")
    flow.add("bad2", "raise ValueError()")
    flow.add("none", "n = 1", after_any="bad1,bad2")
    flow.add("sk1", "pass", condition="False")
    flow.add("sk2", "pass", condition="False")
    flow.add("allskipped", "q = 1", after_any="sk1,sk2")
    flow.run()
    flow.wait("either", timeout=10)
    assert flow.status()["slowpoke"].state is State.RUNNING
    gate.set()
    flow.wait(timeout=10, raise_on_failure=False)
    got = states(flow)
    assert (got["either"], got["none"], got["allskipped"]) == ("succeeded", "upstream-failed", "skipped")


def test_delay_waits_after_dependencies_are_ready(flow: Flow) -> None:
    """--delay: the step starts no sooner than the delay after its dependency finished."""
    flow.add("a", "import time\nt_a = time.time()")
    flow.add("b", "import time\nt_b = time.time()", after="a", delay="300ms")
    flow.run()
    flow.wait(timeout=10)
    gap = flow.namespace["t_b"] - flow.namespace["t_a"]
    assert 0.3 <= gap < 1.5


def test_at_future_time_waits_and_past_time_runs_now(flow: Flow) -> None:
    """--at: a future wall-clock time is waited for; a past one means now."""
    start = time.time()
    soon = dt.datetime.fromtimestamp(start + 0.4).isoformat()
    past = dt.datetime.fromtimestamp(start - 3600).isoformat()
    flow.add("later", "import time\nt_later = time.time()", at=soon)
    flow.add("now", "import time\nt_now = time.time()", at=past)
    seen = record(flow)
    flow.run()
    flow.wait(timeout=10)
    assert flow.namespace["t_later"] >= start + 0.4
    assert flow.namespace["t_now"] < start + 0.3
    queued = {e.step: e.start_at for e in seen if isinstance(e, ev.StepQueued)}
    assert queued["later"] == pytest.approx(start + 0.4, abs=0.01)


def test_cancel_one_step_cancels_what_cannot_run_without_it() -> None:
    """Cancelling a running step cancels it and its --after dependents; others finish."""
    executor = Settling(4)
    with Flow(executors=[executor]) as flow:
        gate = threading.Event()
        flow.namespace["gate"] = gate
        flow.add("hang", "gate.wait(5)\nh = 1")
        flow.add("child", "c = 1", after="hang")
        flow.add("other", "o = 1")
        flow.run()
        flow.wait("other", timeout=10)
        assert flow.cancel("hang") == frozenset({"hang", "child"})  # the dependent it took with it too
        flow.wait(timeout=10)
        gate.set()
        got = flow.status()
        assert (got["hang"].state, got["child"].state) == (State.CANCELLED, State.CANCELLED)
        assert got["child"].reason == "upstream step 'hang' was cancelled"
        executor.wait_settled(2)  # "other", then the cancelled "hang" once its thread returned
        assert "h" not in flow.namespace
        assert flow.namespace["o"] == 1


def test_cancel_during_backoff_wait(flow: Flow) -> None:
    """A step waiting out its backoff is cancelled at once and never retried."""
    flow.namespace["n"] = []
    flow.add("s", "n.append(1)\nraise RuntimeError('x')", retries=5, backoff="fixed:10s")
    retrying = threading.Event()
    flow.subscribe(lambda event: retrying.set() if isinstance(event, ev.StepRetrying) else None)
    flow.run()
    assert retrying.wait(5)
    assert flow.status()["s"].state is State.RETRYING
    flow.cancel()
    flow.wait(timeout=2)
    assert flow.status()["s"].state is State.CANCELLED
    assert flow.namespace["n"] == [1]


def test_cancel_subtree_and_everything(flow: Flow) -> None:
    """cancel(downstream=True) cancels the named steps and everything below them."""
    gate = threading.Event()
    flow.namespace["gate"] = gate
    flow.add("a", "gate.wait(5)")
    flow.add("c", "gate.wait(5)")
    flow.add("b", "gate.wait(5)", after_any="a,c")
    flow.run()
    cancelled = flow.cancel("a", downstream=True)
    assert cancelled == frozenset({"a", "b"})
    assert flow.status()["c"].state is State.RUNNING
    flow.cancel()
    flow.wait(timeout=5)
    gate.set()
    assert set(states(flow).values()) == {"cancelled"}


def test_rerunning_a_step_reruns_its_dependents(flow: Flow) -> None:
    """run(step, force=True) re-runs it and everything that depends on it, nothing else."""
    flow.namespace["count"] = {}
    for name, after in (("a", None), ("b", "a"), ("c", "b"), ("x", None)):
        flow.add(name, f"count['{name}'] = count.get('{name}', 0) + 1", after=after)
    flow.run()
    flow.wait(timeout=10)
    flow.run("b", force=True)
    flow.wait(timeout=10)
    assert flow.namespace["count"] == {"a": 1, "b": 2, "c": 2, "x": 1}
    flow.run()  # everything is up to date: nothing runs
    flow.wait(timeout=10)
    assert flow.namespace["count"] == {"a": 1, "b": 2, "c": 2, "x": 1}


def test_force_reruns_active_dependents_instead_of_restoring_them(tmp_path: Path) -> None:
    """run(step, force=True) while a dependent still waits: the dependent executes, it is not restored."""
    from nbflow.store.store import Store

    log, go = tmp_path / "log.txt", tmp_path / "go"
    store = Store(tmp_path / "store", flow_name="force", watch_root=tmp_path)
    ran = "open(log, 'a').write('{name} ')\n"
    with Flow({"log": str(log), "go": str(go), "gen": 1}, cache=store) as flow:
        flow.add("a", ran.format(name="a") + "a = 1")
        # g waits for the file `go`: a barrier the test opens. It reads `gen`, so a new value gives it a
        # new key: no checkpoint to restore, it really runs (and blocks) the second time.
        flow.add("g", "import os, time\nwhile not os.path.exists(go):\n    time.sleep(0.005)\ng = gen")
        flow.add("b", ran.format(name="b") + "b = a + 1", after="a,g")
        go.touch()
        flow.run()
        flow.wait(timeout=10)
        assert log.read_text().split() == ["a", "b"]
        assert all(s.key is not None for s in flow.status().values())  # each can be restored
        go.unlink()
        flow.namespace["gen"] = 2
        flow.invalidate("g")  # g and b are stale; b's checkpoint still matches (b reads only a)
        flow.run("g")
        assert flow.status()["b"].state is State.WAITING
        flow.run("a", force=True)  # b is downstream of a: it must execute again
        go.touch()
        flow.wait(timeout=10)
        got = flow.status()
    store.close()
    assert log.read_text().split() == ["a", "b", "a", "b"]
    assert (got["a"].state, got["g"].state, got["b"].state) == (State.SUCCEEDED, State.SUCCEEDED, State.SUCCEEDED)


def test_force_on_a_running_step_starts_it_again() -> None:
    """run(step, force=True) while the step runs abandons that attempt and runs it anew."""
    executor = Settling(4)
    with Flow(executors=[executor]) as flow:
        gate, started = threading.Event(), threading.Semaphore(0)
        flow.namespace.update(gate=gate, started=started, count={"n": 0})
        flow.add("slow", "count['n'] += 1\nstarted.release()\ngate.wait(10)\nslow = count['n']")
        flow.run()
        assert started.acquire(timeout=10)
        assert flow.run("slow", force=True) == frozenset({"slow"})
        assert started.acquire(timeout=10)
        gate.set()
        flow.wait(timeout=10)
        executor.wait_settled(2)  # the abandoned first attempt came back too, and was dropped
        got = flow.status()["slow"]
        assert (got.state, got.attempts) == (State.SUCCEEDED, 1)
        assert flow.namespace["count"] == {"n": 2}


def test_private_names_stay_in_the_step(flow: Flow) -> None:
    """A step's `_`-names are scratch: the namespace's own `_` and `_tmp` are left as they were."""
    flow.namespace.update({"_": "last result", "_tmp": "mine"})
    flow.add("fit", "coef, *_ = (3, 4, 5)\n_tmp = coef * 2\ndouble = _tmp")
    flow.run()
    flow.wait(timeout=10)
    assert (flow.namespace["coef"], flow.namespace["double"]) == (3, 6)
    assert (flow.namespace["_"], flow.namespace["_tmp"]) == ("last result", "mine")
    assert set(flow.status()["fit"].outputs) == {"coef", "double"}


def test_redefinition_marks_stale_and_identical_definition_is_a_no_op(flow: Flow) -> None:
    """New code makes a step and its dependents stale; the same code changes nothing."""
    flow.add("a", "v = 1")
    flow.add("b", "w = v + 1", after="a")
    flow.run()
    flow.wait(timeout=10)
    assert flow.define(flow.steps["a"]) is False
    assert states(flow) == {"a": "succeeded", "b": "succeeded"}
    flow.add("a", "v = 10")
    assert states(flow) == {"a": "stale", "b": "stale"}
    flow.run()
    flow.wait(timeout=10)
    assert flow.namespace["w"] == 11


def test_rejected_definition_keeps_the_previous_one(flow: Flow) -> None:
    """A bad option or a cycle leaves the previous definition in place and runnable."""
    flow.add("a", "v = 1")
    flow.add("b", "w = v", after="a")
    with pytest.raises(OptionError):
        flow.add("a", "v = 2", retries=-1)
    with pytest.raises(ValueError, match="cycle"):
        flow.add("a", "v = 3", after="b")
    assert flow.steps["a"].code == "v = 1"
    flow.run()
    flow.wait(timeout=10)
    assert flow.namespace["w"] == 1


def test_retry_runs_a_failed_step_and_its_blocked_dependents(flow: Flow) -> None:
    """retry(step) after fixing the cause runs it and the steps it blocked."""
    flow.namespace["ok"] = False
    flow.add("a", "if not ok: raise RuntimeError('not ok')\nv = 1")
    flow.add("b", "w = v + 1", after="a")
    flow.run()
    with pytest.raises(FlowFailed):
        flow.wait(timeout=10)
    flow.add("fine", "f = 1")
    flow.run("fine")
    flow.wait("fine", timeout=10)
    with pytest.raises(StateError, match="step 'fine': cannot retry a step that is succeeded"):
        flow.retry("fine")
    flow.namespace["ok"] = True
    flow.retry("a")
    flow.wait(timeout=10)
    assert flow.namespace["w"] == 2


def test_wait_timeout_names_unfinished_steps(flow: Flow) -> None:
    """wait(timeout) raises FlowTimeout (a TimeoutError) naming what still runs."""
    gate = threading.Event()
    flow.namespace["gate"] = gate
    flow.add("hang", "gate.wait(5)")
    flow.run()
    with pytest.raises(FlowTimeout, match="still running: hang") as info:
        flow.wait(timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    gate.set()
    flow.wait(timeout=5)


def test_wait_async_is_awaitable_from_another_loop(flow: Flow) -> None:
    """`await flow.wait_async()` works from the caller's own event loop."""
    flow.add("a", "v = 41 + 1")
    flow.run()

    async def main() -> dict[str, Any]:
        return await flow.wait_async(timeout=5)

    result = asyncio.run(main())
    assert result["a"].state is State.SUCCEEDED
    assert flow.namespace["v"] == 42


def test_function_steps_and_decorator(flow: Flow) -> None:
    """Function steps take parameters from the namespace and bind their result under their name."""

    @flow.step
    def load() -> list[int]:
        return [1, 2, 3]

    @flow.step("total", after="load", retries=1)
    def add_up(load: list[int], scale: int = 10) -> int:
        return sum(load) * scale

    flow.run()
    flow.wait(timeout=10)
    assert flow.namespace["total"] == 60
    assert flow.steps["total"].retries == 1


def test_missing_function_input_is_a_clear_error(flow: Flow) -> None:
    """A function parameter with no value fails the step naming the input."""
    flow.add("f", lambda raw: raw)
    flow.run()
    with pytest.raises(FlowFailed, match="input 'raw' is not defined"):
        flow.wait(timeout=10)


def test_subscriber_that_raises_does_not_break_the_run(flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    """A broken subscriber is logged; later subscribers and the run go on."""
    def broken(event: ev.Event) -> None:
        raise RuntimeError("subscriber bug")

    flow.subscribe(broken)
    seen = record(flow)
    flow.add("a", "v = 1")
    flow.run()
    flow.wait(timeout=10)
    assert any(isinstance(e, ev.StepSucceeded) for e in seen)
    assert "subscriber" in caplog.text


def test_events_tell_the_whole_story_in_order(flow: Flow) -> None:
    """A run publishes flow started, each state change in order, then flow finished."""
    flow.add("a", "v = 1")
    seen = record(flow)
    flow.run()
    flow.wait(timeout=10)
    kinds = [type(e).__name__ for e in seen if not isinstance(e, ev.StepDefined)]
    assert kinds == ["FlowStarted", "StepWaiting", "StepQueued", "StepStarted", "StepSucceeded", "FlowFinished"]
    unsubscribe = flow.subscribe(seen.append)
    unsubscribe()
    assert {e.run for e in seen if not isinstance(e, ev.StepDefined)} == {1}


def test_max_workers_bounds_concurrency() -> None:
    """No more than max_workers attempts run at once."""
    with Flow(max_workers=3) as flow:
        lock = threading.Lock()
        flow.namespace.update(lock=lock, now=[0], peak=[0])
        body = ("import time\nwith lock:\n    now[0] += 1\n    peak[0] = max(peak[0], now[0])\n"
                "time.sleep(0.02)\nwith lock:\n    now[0] -= 1")
        for i in range(12):
            flow.add(f"s{i}", body)
        flow.run()
        flow.wait(timeout=10)
        assert flow.namespace["peak"] == [3]


@pytest.mark.parametrize("shape", ["independent", "chain"])
def test_thousand_steps_each_run_exactly_once(shape: str) -> None:
    """1,000 independent steps and a 1,000-step chain: every step runs once, in order."""
    with Flow(max_workers=4) as flow:
        order: list[int] = []
        for i in range(1000):
            after = f"s{i-1}" if shape == "chain" and i else None
            flow.add(f"s{i}", lambda i=i: order.append(i), after=after)
        flow.run()
        flow.wait(timeout=60)
        assert sorted(order) == list(range(1000))
        if shape == "chain":
            assert order == list(range(1000))


def test_close_stops_every_thread_it_started() -> None:
    """After close() no nbflow thread is alive and the flow refuses new runs."""
    before = set(threading.enumerate())
    flow = Flow(max_workers=4)
    for i in range(20):
        flow.add(f"s{i}", "import time\ntime.sleep(0.01)")
    flow.run()
    flow.wait(timeout=10)
    flow.close()
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert left == []
    with pytest.raises(RuntimeError, match="closed"):
        flow.run()


def test_close_cancels_running_steps() -> None:
    """Closing a flow mid-run cancels active steps with a reason."""
    flow = Flow()
    gate = threading.Event()
    flow.namespace["gate"] = gate
    flow.add("hang", "gate.wait(5)")
    flow.run()
    flow.close(timeout=0.2)
    gate.set()
    assert flow.status()["hang"].state is State.CANCELLED
    assert flow.status()["hang"].reason == "the flow was closed"


def test_new_dependent_of_a_failed_step_is_blocked_not_rerunning_it(flow: Flow) -> None:
    """run(name, rerun_failed=False) leaves a failed upstream alone: the new step is upstream-failed."""
    flow.namespace["calls"] = []
    flow.add("bad", "calls.append(1)\nraise ValueError('x')")
    flow.run()
    flow.wait(timeout=10, raise_on_failure=False)
    flow.add("child", "y = 1", after="bad")
    flow.run("child", rerun_failed=False)
    flow.wait(timeout=10, raise_on_failure=False)
    assert flow.namespace["calls"] == [1]
    assert flow.status()["child"].state is State.UPSTREAM_FAILED
    flow.run("child")  # the default re-runs what the step needs
    flow.wait(timeout=10, raise_on_failure=False)
    assert flow.namespace["calls"] == [1, 1]


def test_run_step_of_a_function_step_names_a_missing_parameter(flow: Flow) -> None:
    @flow.step
    def total(rows, scale=2):  # type: ignore[no-untyped-def]
        return sum(rows) * scale

    assert flow.run_step("total", rows=[1, 2]) == {"total": 6}
    with pytest.raises(NbflowError, match=r"step 'total': input 'rows' is not defined \(pass run_step"):
        flow.run_step("total")
