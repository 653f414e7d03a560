"""ThreadExecutor: a growable pool of daemon threads; no job waits behind a blocked one."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nbflow.core.threads import ThreadExecutor, default_workers


class Outcomes:
    """A `done` callback that keeps (result, error, thread) and signals each arrival."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, BaseException | None, threading.Thread]] = []
        self._arrived = threading.Semaphore(0)

    def __call__(self, result: Any, error: BaseException | None) -> None:
        self.seen.append((result, error, threading.current_thread()))
        self._arrived.release()

    def wait(self, count: int = 1) -> None:
        for _ in range(count):
            assert self._arrived.acquire(timeout=10), f"only {len(self.seen)} jobs came back"


@pytest.fixture
def executor() -> Iterator[ThreadExecutor]:
    pool = ThreadExecutor(2)
    yield pool
    pool.shutdown(timeout=1)


def test_capacity_defaults_like_thread_pool_executor() -> None:
    """`capacity` is the scheduler's limit; by default min(32, cpus + 4)."""
    assert default_workers() == min(32, (os.cpu_count() or 1) + 4)
    assert ThreadExecutor().capacity == default_workers() and ThreadExecutor(3).capacity == 3


def test_a_job_runs_in_a_worker_thread_and_its_result_comes_back(executor: ThreadExecutor) -> None:
    """done(result, None) is called on the daemon worker thread that ran the job."""
    done = Outcomes()
    executor.submit(lambda: 6 * 7, done)
    done.wait()
    ((result, error, thread),) = done.seen
    assert (result, error) == (42, None)
    assert thread is not threading.current_thread() and thread.daemon
    assert thread.name.startswith("nbflow-worker-")


@pytest.mark.parametrize("raised", [ValueError("bad"), KeyboardInterrupt()])
def test_a_failing_job_is_data_and_the_worker_survives(executor: ThreadExecutor, raised: BaseException) -> None:
    """An exception (even a BaseException) goes to done(None, error); the same thread runs the next job."""
    done = Outcomes()

    def fail() -> None:
        raise raised

    def then() -> None:
        executor.submit(lambda: "next", done)  # from the worker: continues on the same thread

    executor.submit(fail, lambda result, error: (done(result, error), then()))
    done.wait(2)
    (r1, e1, t1), (r2, e2, t2) = done.seen
    assert (r1, e1) == (None, raised) and (r2, e2) == ("next", None)
    assert t1 is t2


def test_a_raising_completion_callback_is_logged_and_the_worker_goes_on(
        executor: ThreadExecutor, caplog: pytest.LogCaptureFixture) -> None:
    """A broken `done` never kills the worker: it is logged, and the job submitted next still runs."""
    done = Outcomes()

    def broken(result: Any, error: BaseException | None) -> None:
        executor.submit(lambda: "after", done)
        raise RuntimeError("callback bug")

    with caplog.at_level(logging.ERROR, logger="nbflow"):
        executor.submit(lambda: 1, broken)
        done.wait()
    assert done.seen[0][:2] == ("after", None)
    assert any("completion callback failed" in r.message and r.exc_info for r in caplog.records)


def test_no_job_waits_behind_blocked_ones_whatever_the_capacity(executor: ThreadExecutor) -> None:
    """Five jobs that block until all five run at once do all run, on a capacity-2 pool."""
    together = threading.Barrier(5, timeout=10)
    done = Outcomes()
    for i in range(5):
        executor.submit(lambda i=i: (together.wait(), i)[1], done)
    done.wait(5)
    assert sorted(result for result, _, _ in done.seen) == [0, 1, 2, 3, 4]
    assert all(error is None for _, error, _ in done.seen)
    assert len({thread for _, _, thread in done.seen}) == 5


def test_a_chain_submitted_from_workers_stays_on_one_thread(executor: ThreadExecutor) -> None:
    """A successor submitted from a worker runs next on that same thread: a 200-long chain uses one."""
    finished = threading.Event()
    threads: list[threading.Thread] = []

    def link(n: int) -> Callable[[Any, BaseException | None], None]:
        def done(result: Any, error: BaseException | None) -> None:
            threads.append(threading.current_thread())
            if n < 200:
                executor.submit(lambda: n + 1, link(n + 1))
            else:
                finished.set()
        return done

    executor.submit(lambda: 1, link(1))
    assert finished.wait(10)
    assert len(threads) == 200 and len(set(threads)) == 1
    assert executor.threads == frozenset(threads)


def test_shutdown_joins_idle_workers_and_refuses_new_jobs() -> None:
    """After shutdown every worker that was idle has exited, and submit raises."""
    pool = ThreadExecutor(2)
    together = threading.Barrier(3, timeout=10)
    done = Outcomes()
    for _ in range(3):
        pool.submit(together.wait, done)
    done.wait(3)
    workers = {thread for _, _, thread in done.seen}
    assert len(workers) == 3
    pool.shutdown(timeout=5)
    assert not any(thread.is_alive() for thread in workers)
    assert pool.threads == frozenset()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: None, done)


def test_shutdown_does_not_wait_for_an_abandoned_job() -> None:
    """A job stuck past the timeout is left running; its thread exits once the job ends."""
    pool = ThreadExecutor(1)
    entered, release = threading.Event(), threading.Event()
    done = Outcomes()
    pool.submit(lambda: (entered.set(), release.wait(10))[1], done)
    assert entered.wait(5)
    (stuck,) = pool.threads
    pool.shutdown(timeout=0.05)
    assert stuck.is_alive() and done.seen == []
    release.set()
    stuck.join(5)
    assert not stuck.is_alive()
    assert done.seen[0][:2] == (True, None)  # the job's own completion still came back
