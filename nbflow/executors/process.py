"""`--executor process`: a step's code runs in a separate Python process.

For CPU-bound pure-Python steps, which would hold the kernel's GIL. The step's
inputs (the names its code reads, from the namespace) are cloudpickled to a
worker process, the code runs there in a fresh namespace, and its outputs come
back to be bound like a thread step's. The attempt's bookkeeping (cache key,
restore, checkpoint) still runs in a kernel thread; only the body crosses.
Workers are started with `spawn` (forking a kernel with threads is unsafe) on
first use.

What the body prints is sent back while it runs (in pieces, at most every
50 ms, through one queue shared by the workers) and written to the waiting
kernel thread's `sys.stdout` / `sys.stderr`, which nbflow routes to the step's
cell. Once the attempt is cancelled or timed out, that thread stops at its next
piece (or within 0.1 s when none comes), and later pieces are dropped: nothing
the body prints after a cancel reaches the cell. The worker itself goes on
until the body ends.

A failure comes back as a `RemoteFailure` (see `nbflow.core.executor`): the
remote traceback and printed text always, and the exception itself when it
pickles and unpickles.
"""

from __future__ import annotations

import contextlib
import itertools
import linecache
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import cloudpickle

from ..core.abandon import stop_if_abandoned
from ..core.executor import RemoteFailure, RemoteResult
from ..core.namespace import step_filename
from ..core.threads import ThreadExecutor

#: how often a worker sends what its body printed, and the most it holds before sending
SEND_SECONDS = 0.05
SEND_CHARS = 64 * 1024
#: how often a waiting kernel thread checks whether its attempt was abandoned
POLL_SECONDS = 0.1
#: after the result is in, how long to wait for the last printed piece (it travels another pipe)
LAST_PIECE_SECONDS = 5.0

_output: Any = None  # in a worker: the queue printed text goes back through
_current: _Printed | None = None  # in a worker: the body running now


def _init_worker(output: Any) -> None:
    """In each worker: keep the output queue and start the sender; ignore kernel interrupts (SIGINT
    to the kernel's process group must not kill a worker mid-body, which would leave its result
    never coming back; `%flow cancel` and shutdown stop steps instead)."""
    global _output
    _output = output
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_send_pending, name="nbflow-printed", daemon=True).start()


def _send_pending() -> None:
    """In a worker: what a body printed goes out within SEND_SECONDS even if it prints nothing more."""
    while True:
        time.sleep(SEND_SECONDS)  # a timer tick, not a barrier
        printed = _current
        if printed is not None:
            printed.send()


class _Printed:
    """Both streams of one body, in the order written, sent back in pieces."""

    def __init__(self, job: int) -> None:
        self._job = job
        self._lock = threading.Lock()
        self._pieces: list[tuple[str, str]] = []
        self._size = 0
        self._sent = time.monotonic()

    def write(self, name: str, text: str) -> None:
        with self._lock:
            self._pieces.append((name, text))
            self._size += len(text)
            due = self._size >= SEND_CHARS or time.monotonic() - self._sent >= SEND_SECONDS
        if due:
            self.send()

    def send(self) -> None:
        with self._lock:
            pieces, self._pieces, self._size, self._sent = self._pieces, [], 0, time.monotonic()
            if pieces and _output is not None:
                _output.put((self._job, pieces))

    def end(self) -> None:
        self.send()
        if _output is not None:
            _output.put((self._job, None))


class _Stream:
    """sys.stdout / sys.stderr in a worker while a body runs."""

    def __init__(self, printed: _Printed, name: str) -> None:
        self._printed, self._name = printed, name

    def write(self, text: str) -> int:
        if text:
            self._printed.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _run_in_worker(job: int, payload: bytes) -> bytes:
    """In the worker: run the body over its inputs, sending what it prints as it goes; return a
    RemoteResult, or a RemoteFailure and the pickled exception (None when it does not pickle)."""
    name, body, inputs, output_names = cloudpickle.loads(payload)
    scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__, **inputs}
    global _current
    printed = _current = _Printed(job)
    out, err = _Stream(printed, "stdout"), _Stream(printed, "stderr")
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
        failure = RemoteFailure(type(error).__name__, str(error), text)
        try:
            sent = cloudpickle.dumps(error)
        except Exception:
            sent = None
        return cloudpickle.dumps((failure, sent))
    finally:
        _current = None
        printed.end()
    outputs = {n: scope[n] for n in output_names if n in scope}
    return cloudpickle.dumps((RemoteResult(outputs), None))


class ProcessExecutor:
    """Runs attempts' bookkeeping in kernel threads and their bodies in worker processes."""

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        self.capacity = max_workers or os.cpu_count() or 1
        self._threads = ThreadExecutor(self.capacity)
        self._pool: Any = None
        self._output: Any = None
        self._lock = threading.Lock()
        self._jobs: dict[int, queue.SimpleQueue[list[tuple[str, str]] | None]] = {}
        self._ids = itertools.count(1)

    def submit(self, job: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        self._threads.submit(job, done)

    def run(self, step: str, body: str | Callable[..., Any], inputs: Mapping[str, Any],
            output_names: frozenset[str]) -> RemoteResult | RemoteFailure:
        """Run one step body (code or function) in a worker (see `RemoteExecutor.run`).

        What it prints is written to this thread's sys.stdout / sys.stderr as it
        arrives (the outcome carries no text); raises `AttemptAbandoned` once
        this attempt is cancelled or timed out, and drops what comes later.
        """
        payload = cloudpickle.dumps((step, body, dict(inputs), tuple(output_names)))
        job = next(self._ids)
        inbox: queue.SimpleQueue[list[tuple[str, str]] | None] = queue.SimpleQueue()
        self._jobs[job] = inbox
        try:
            pending = self._get_pool().apply_async(_run_in_worker, (job, payload))
            self._relay(inbox, pending)
            outcome, sent = cloudpickle.loads(pending.get())
        finally:
            self._jobs.pop(job, None)
        if isinstance(outcome, RemoteResult) or sent is None:
            return outcome
        error = None
        with contextlib.suppress(Exception):  # e.g. its class is not importable here
            error = cloudpickle.loads(sent)
        return replace(outcome, error=error) if isinstance(error, BaseException) else outcome

    @staticmethod
    def _relay(inbox: queue.SimpleQueue[list[tuple[str, str]] | None], pending: Any) -> None:
        """Write the body's printed pieces here until its last one (or its result, and a grace period)."""
        ready_since: float | None = None
        while True:
            try:
                pieces = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                stop_if_abandoned()
                if pending.ready():
                    now = time.monotonic()
                    ready_since = ready_since or now
                    if now - ready_since > LAST_PIECE_SECONDS:
                        return  # the worker's end marker was lost (it died): the result is all there is
                continue
            if pieces is None:
                return
            for name, text in pieces:
                (sys.stderr if name == "stderr" else sys.stdout).write(text)

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._output = context.Queue()
                threading.Thread(target=self._route, args=(self._output,), name="nbflow-process-output",
                                 daemon=True).start()
                self._pool = context.Pool(self.capacity, _init_worker, (self._output,))
            return self._pool

    def _route(self, output: Any) -> None:
        """Hand each printed piece to the attempt waiting for it; an abandoned attempt's are dropped."""
        while True:
            try:
                item = output.get()
            except (EOFError, OSError):  # the workers are gone
                return
            if item is None:
                return
            job, pieces = item
            inbox = self._jobs.get(job)
            if inbox is not None:
                inbox.put(pieces)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the workers (a body still running is terminated) and the bookkeeping threads."""
        with self._lock:
            pool, self._pool = self._pool, None
            output, self._output = self._output, None
        if pool is not None:
            pool.terminate()
            pool.join()
        if output is not None:
            output.put(None)  # the router ends
        self._threads.shutdown(timeout)
