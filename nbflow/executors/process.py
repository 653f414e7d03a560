"""`--executor process`: a step's code runs in a separate Python process.

For CPU-bound pure-Python steps, which would hold the kernel's GIL. The step's
inputs (the names its code reads, from the namespace) are cloudpickled to a
worker process, the code runs there in a fresh namespace, and its outputs and
printed text come back to be bound and shown like a thread step's. The
attempt's bookkeeping (cache key, restore, checkpoint) still runs in a kernel
thread; only the body crosses. Workers are started with `spawn` (forking a
kernel with threads is unsafe) on first use.

A failure comes back as a `RemoteFailure` (see `nbflow.core.executor`): the
remote traceback and printed text always, and the exception itself when it
pickles and unpickles.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import cloudpickle

from ..core.executor import RemoteFailure, RemoteResult
from ..core.namespace import step_filename
from ..core.threads import ThreadExecutor


def _ignore_interrupts() -> None:
    """In each worker: a kernel interrupt (SIGINT to the kernel's process group) must not kill
    a worker mid-body, which would leave its result never coming back; `%flow cancel` and
    shutdown stop steps instead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_worker(payload: bytes) -> bytes:
    """In the worker: run the body over its inputs; return a RemoteResult, or a RemoteFailure
    and the pickled exception (None when it does not pickle)."""
    name, body, inputs, output_names = cloudpickle.loads(payload)
    scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__, **inputs}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if callable(body):
                scope[name] = body(**inputs)
            else:
                filename = step_filename(name)
                # So the remote traceback shows the step's lines, as the kernel's does.
                linecache.cache[filename] = (len(body), None, body.splitlines(True), filename)
                exec(compile(body, filename, "exec"), scope)
    except Exception as error:
        tb = error.__traceback__.tb_next if error.__traceback__ else None  # not this frame
        text = "".join(traceback.format_exception(type(error), error, tb))
        failure = RemoteFailure(type(error).__name__, str(error), text, out.getvalue(), err.getvalue())
        try:
            sent = cloudpickle.dumps(error)
        except Exception:
            sent = None
        return cloudpickle.dumps((failure, sent))
    outputs = {n: scope[n] for n in output_names if n in scope}
    return cloudpickle.dumps((RemoteResult(outputs, out.getvalue(), err.getvalue()), None))


class ProcessExecutor:
    """Runs attempts' bookkeeping in kernel threads and their bodies in worker processes."""

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        self.capacity = max_workers or os.cpu_count() or 1
        self._threads = ThreadExecutor(self.capacity)
        self._pool: Any = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        self._threads.submit(job, done)

    def run(self, step: str, body: str | Callable[..., Any], inputs: Mapping[str, Any],
            output_names: frozenset[str]) -> RemoteResult | RemoteFailure:
        """Run one step body (code or function) in a worker (see `RemoteExecutor.run`)."""
        payload = cloudpickle.dumps((step, body, dict(inputs), tuple(output_names)))
        outcome, sent = cloudpickle.loads(self._get_pool().apply_async(_run_in_worker, (payload,)).get())
        if isinstance(outcome, RemoteResult) or sent is None:
            return outcome
        error = None
        with contextlib.suppress(Exception):  # e.g. its class is not importable here
            error = cloudpickle.loads(sent)
        return replace(outcome, error=error) if isinstance(error, BaseException) else outcome

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = multiprocessing.get_context("spawn").Pool(self.capacity, _ignore_interrupts)
            return self._pool

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the workers (a body still running is terminated) and the bookkeeping threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()
        self._threads.shutdown(timeout)
