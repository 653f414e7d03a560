"""Real Dask clusters for the executor tests (no mocks of Dask), and polling helpers."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from distributed import Client, LocalCluster

from nbflow.executors import dask_task


def local_cluster(workers: int = 2) -> LocalCluster:
    """Worker processes (`processes=True`), so a worker can be killed; one thread each."""
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                        silence_logs=logging.ERROR)


@contextlib.contextmanager
def running_cluster(workers: int = 2) -> Iterator[LocalCluster]:
    """`local_cluster()`, closed afterwards (what the module-scoped `cluster` fixtures yield)."""
    found = local_cluster(workers)
    try:
        yield found
    finally:
        found.close()


def poll(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Wait until `condition()` is truthy (and return it), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout}s: {what}")
        time.sleep(0.02)


def bodies_running(client: Client) -> list[str]:
    """The step bodies running on any worker now (their tokens), as the workers themselves say."""
    return [token for tokens in client.run(dask_task.running).values() for token in tokens]


def step_tasks(cluster: LocalCluster, step: str) -> list[str]:
    """Keys of the tasks the scheduler still holds for `step` (nbflow names them `<step>-<token>`)."""
    return [str(key) for key in list(cluster.scheduler.tasks) if str(key).startswith(f"{step}-")]
