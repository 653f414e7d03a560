"""`--executor process`: a step's code runs in a separate Python process.

For CPU-bound pure-Python steps, which would hold the kernel's GIL. The step's
inputs (the names its code reads, from the namespace) are cloudpickled to a
worker process, the code runs there in a fresh namespace, and its outputs come
back to be bound like a thread step's. The attempt's bookkeeping (cache key,
restore, checkpoint) still runs in a kernel thread, which waits on its
worker's pipe; only the body crosses. Workers (`process_pool.py`) are started
with `spawn` on first use.

What the body prints comes back on the worker's pipe while it runs and is
written to the waiting kernel thread's `sys.stdout` / `sys.stderr`, which
nbflow routes to the step's cell; what it `display()`s (a DataFrame, a
matplotlib figure) is published from that thread, and routed the same way. Once the attempt is cancelled or timed out,
that thread notices within POLL_SECONDS and kills the worker: nothing the
body would do later happens, and a retry runs in a fresh worker. A worker
that dies mid-body fails the attempt with `WorkerDied` ("worker process for
step 'fit' died: signal 9"), which the step's retries apply to.

A failure comes back as a `RemoteFailure` (see `nbflow.core.executor`): the
remote traceback and printed text always, and the exception itself when it
pickles and unpickles. A value that does not pickle either way is a
`NotSendable` naming it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import cloudpickle

from ..core.abandon import abandoned, stop_if_abandoned
from ..core.executor import NotSendable, RemoteFailure, RemoteResult, WorkerDied, report_where
from ..core.threads import ThreadExecutor
from .process_pool import Worker, WorkerPool
from .process_worker import culprit, reason

#: how often a waiting kernel thread checks whether its attempt was abandoned
POLL_SECONDS = 0.05


class ProcessExecutor:
    """Runs attempts' bookkeeping in kernel threads and their bodies in worker processes."""

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        self.capacity = max_workers or os.cpu_count() or 1
        self._threads = ThreadExecutor(self.capacity)
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        self._threads.submit(job, done)

    def run(self, step: str, body: str | Callable[..., Any], inputs: Mapping[str, Any],
            output_names: frozenset[str]) -> RemoteResult | RemoteFailure:
        """Run one step body (code or function) in a worker (see `RemoteExecutor.run`).

        What it prints is written to this thread's sys.stdout / sys.stderr as it
        arrives (the outcome carries no text); raises `AttemptAbandoned` once
        this attempt is cancelled or timed out (its worker killed), `WorkerDied`
        when the worker ends mid-body, `NotSendable` for a value that does not pickle.
        """
        payload = _pack(step, body, dict(inputs), tuple(output_names))
        pool = self._get_pool()
        worker = pool.acquire()
        report_where(f"process pid {worker.pid}")
        try:
            try:
                worker.conn.send_bytes(payload)
            except OSError:  # it died while idle (the OOM killer, a user's kill)
                raise WorkerDied(step, worker.death()) from None
            message = self._relay(step, worker)
        except BaseException:
            pool.discard(worker)
            raise
        pool.release(worker)
        return _outcome(step, message)

    @staticmethod
    def _relay(step: str, worker: Worker) -> tuple[Any, ...]:
        """Write the body's printed pieces here until its outcome comes; kill it once abandoned."""
        while True:
            if abandoned():
                worker.kill()
                stop_if_abandoned()
            try:
                readable, ended = worker.ready(POLL_SECONDS)
                if not readable:
                    if ended:
                        raise WorkerDied(step, worker.death())
                    continue
                message = cloudpickle.loads(worker.conn.recv_bytes())
            except (EOFError, OSError, ValueError):  # its pipe closed: it died, or the executor shut down
                stop_if_abandoned()
                raise WorkerDied(step, worker.death()) from None
            if message[0] == "display":
                _publish(message[1], message[2])
            elif message[0] == "printed":
                for name, text in message[1]:
                    (sys.stderr if name == "stderr" else sys.stdout).write(text)
            else:
                return tuple(message)

    def workers(self) -> list[int]:
        """The pids of the live worker processes."""
        pool = self._pool
        return pool.pids() if pool is not None else []

    def _get_pool(self) -> WorkerPool:
        with self._lock:
            if self._pool is None:
                self._pool = WorkerPool(self.capacity)
            return self._pool

    def shutdown(self, timeout: float = 5.0) -> None:
        """Kill the workers (a body still running ends at once) and stop the bookkeeping threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self._threads.shutdown(timeout)


def _publish(data: dict[str, Any], metadata: dict[str, Any]) -> None:
    """A worker's display, published from this thread (nbflow routes it to the step's cell); its text
    outside IPython."""
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except ImportError:
        shell = None
    else:
        shell = InteractiveShell.instance() if InteractiveShell.initialized() else None
    if shell is not None:
        shell.display_pub.publish(data, metadata)
    else:
        sys.stdout.write(f"{data.get('text/plain', '')}\n")


def _pack(step: str, body: str | Callable[..., Any], inputs: dict[str, Any], output_names: tuple[str, ...]) -> bytes:
    """The job as one pickle (values shared between inputs stay shared); a value that does not pickle is named."""
    try:
        return cloudpickle.dumps((step, body, inputs, output_names))
    except Exception as error:
        whole = error
    if callable(body):
        try:
            cloudpickle.dumps(body)
        except Exception as error:
            raise NotSendable(step, step, f"step {step!r}'s function cannot be sent to a worker process: "
                                          f"{reason(error)}") from None
    if not inputs:
        raise NotSendable(step, step, f"step {step!r} cannot be sent to a worker process: {reason(whole)}")
    name, why = culprit(inputs)
    raise NotSendable.input(step, name, why) from None


def _outcome(step: str, message: tuple[Any, ...]) -> RemoteResult | RemoteFailure:
    """What the worker's last message says, as the caller receives it."""
    kind = message[0]
    if kind == "unsendable":
        raise NotSendable.output(step, message[1], message[2])
    if kind == "done":
        result: RemoteResult = cloudpickle.loads(message[1])
        return result
    failure: RemoteFailure = message[1]
    sent = message[2]
    if sent is None:
        return failure
    error = None
    with contextlib.suppress(Exception):  # e.g. its class is not importable here
        error = cloudpickle.loads(sent)
    return replace(failure, error=error) if isinstance(error, BaseException) else failure
