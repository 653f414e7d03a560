"""The process executor's own worker pool: one spawned process per slot, a pipe each.

Not `multiprocessing.Pool`: that cannot stop one task (a timed-out or
cancelled body would run on to its end) and waits forever for a result whose
worker died. Here each worker is a `spawn` process (forking a kernel that runs
threads is unsafe) with two pipes: one it serves jobs over, and a lifeline
it only watches (see `process_worker.py`), so a worker never outlives the
kernel, even one killed with SIGKILL. A worker whose attempt was abandoned,
or whose body failed to finish, is killed and never reused; the next job gets
a fresh one.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing import util
from multiprocessing.connection import wait
from typing import Any

from .process_worker import worker_main

#: how long to wait for a killed worker to be reaped
JOIN_SECONDS = 5.0


class Worker:
    """One worker process, the kernel's end of its job pipe, and its lifeline."""

    def __init__(self, context: Any) -> None:
        self.conn, theirs = context.Pipe()
        watched, self._lifeline = context.Pipe(duplex=False)
        # Not a daemon, so a body may start processes of its own; the pool's finalizer stops it at exit.
        self.process = context.Process(target=worker_main, args=(theirs, watched), name="nbflow-process-worker")
        self.process.start()
        self.pid: int = self.process.pid or 0
        self._killed = False
        self._kill_lock = threading.Lock()
        theirs.close()  # the worker holds these now: their EOF must depend on it and the kernel alone
        watched.close()

    def ready(self, timeout: float) -> tuple[bool, bool]:
        """(a message is waiting, the process has ended), waiting at most `timeout` for either."""
        found = wait([self.conn, self.process.sentinel], timeout)
        return self.conn in found, self.process.sentinel in found

    def death(self) -> str:
        """How the ended process ended: `signal 9`, `exit code 3`."""
        self.process.join(JOIN_SECONDS)
        code = self.process.exitcode
        if code is None:
            return "its pipe closed"
        return f"signal {-code}" if code < 0 else f"exit code {code}"

    @property
    def alive(self) -> bool:
        """Not killed, and its process has not ended. The sentinel says so even when its exit code
        is not known yet (not reaped, or reaped by someone else's `waitpid`)."""
        if self._killed or self.process.exitcode is not None:
            return False
        return not wait([self.process.sentinel], 0)

    def kill(self) -> None:
        """SIGKILL it and reap it; nothing it would do next happens. Idempotent."""
        with self._kill_lock:
            if self._killed:
                return
            self._killed = True
        self._lifeline.close()
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join(JOIN_SECONDS)
        self.conn.close()  # not `process.close()`: the attempt's thread may still read its exit code


class WorkerPool:
    """Idle workers kept for reuse, at most `capacity` of them; busy ones are the callers'."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._closed = False
        # Runs before multiprocessing joins its children at interpreter exit, so that join never waits.
        self._finalizer = util.Finalize(self, _kill_all, (self._idle, self._busy), exitpriority=10)

    def acquire(self) -> Worker:
        """An idle worker, or a new one (the scheduler limits how many run; an abandoned attempt's
        worker may still be dying while its slot is reused)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the process executor is shut down")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    self._busy.add(worker)
                    return worker
                worker.kill()
        worker = Worker(self._context)
        with self._lock:
            self._busy.add(worker)
            closed = self._closed
        if closed:
            self.discard(worker)
            raise RuntimeError("the process executor is shut down")
        return worker

    def release(self, worker: Worker) -> None:
        """A worker whose job finished cleanly: kept for the next job."""
        with self._lock:
            self._busy.discard(worker)
            keep = not self._closed and len(self._idle) < self.capacity
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.kill()

    def discard(self, worker: Worker) -> None:
        """A worker that must not run anything more (abandoned, died, or out of step): killed."""
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def pids(self) -> list[int]:
        """Every live worker's pid (for tests and the shutdown check)."""
        with self._lock:
            return [w.pid for w in (*self._idle, *self._busy) if w.alive]

    def close(self) -> None:
        """Kill every worker, busy or idle; later `acquire` calls fail."""
        with self._lock:
            self._closed = True
        self._finalizer()


def _kill_all(idle: list[Worker], busy: set[Worker]) -> None:
    workers = [*idle, *busy]
    idle.clear()
    busy.clear()
    for worker in workers:
        worker.kill()
