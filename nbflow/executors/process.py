"""`--executor process`: a step's code runs in a separate Python process.

For CPU-bound pure-Python steps, which would hold the kernel's GIL. The step's
inputs (the names its code reads, from the namespace) are cloudpickled to a
worker process, the code runs there in a fresh namespace, and its outputs and
printed text come back to be bound and shown like a thread step's. The
attempt's bookkeeping (cache key, restore, checkpoint) still runs in a kernel
thread; only the body crosses. Workers are started with `spawn` (forking a
kernel with threads is unsafe) on first use.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import cloudpickle

from ..core.errors import NbflowError
from ..core.threads import ThreadExecutor


class RemoteStepError(NbflowError, RuntimeError):
    """A step failed in a worker process with an exception that could not be sent back as itself."""

    def __init__(self, step: str, name: str, message: str, remote_traceback: str) -> None:
        super().__init__(f"{name}: {message}", step=step, name=name, remote_traceback=remote_traceback)


def _run_in_worker(payload: bytes) -> bytes:
    """In the worker: run the body over its inputs; return outputs, printed text, or the error."""
    name, body, inputs, output_names = cloudpickle.loads(payload)
    scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__, **inputs}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if callable(body):
                scope[name] = body(**inputs)
            else:
                exec(compile(body, f"<step {name}>", "exec"), scope)
    except Exception as error:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__.tb_next
                                                  if error.__traceback__ else None))
        try:
            sent = cloudpickle.dumps(error)
        except Exception:
            sent = None
        return cloudpickle.dumps(("error", sent, type(error).__name__, str(error), text,
                                  out.getvalue(), err.getvalue()))
    outputs = {n: scope[n] for n in output_names if n in scope}
    return cloudpickle.dumps(("ok", outputs, out.getvalue(), err.getvalue()))


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

    def run(self, name: str, body: str | Callable[..., Any], inputs: Mapping[str, Any],
            output_names: frozenset[str]) -> tuple[dict[str, Any], str, str]:
        """Run one step body (code or function) in a worker: (outputs, stdout, stderr), or raise its error."""
        payload = cloudpickle.dumps((name, body, dict(inputs), tuple(output_names)))
        result = cloudpickle.loads(self._get_pool().apply_async(_run_in_worker, (payload,)).get())
        if result[0] == "ok":
            return result[1], result[2], result[3]
        _, sent, kind, message, text, out, err = result
        error = None
        if sent is not None:
            with contextlib.suppress(Exception):
                error = cloudpickle.loads(sent)
        if not isinstance(error, BaseException):
            error = RemoteStepError(name, kind, message, text)
        error.nbflow_remote = (text, out, err)  # type: ignore[attr-defined]
        raise error

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = multiprocessing.get_context("spawn").Pool(self.capacity)
            return self._pool

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the workers (a body still running is terminated) and the bookkeeping threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()
        self._threads.shutdown(timeout)
