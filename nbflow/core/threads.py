"""The default executor: steps in threads of this process (the kernel's), sharing its namespace.

A cached pool rather than `ThreadPoolExecutor`: the scheduler limits how many
attempts run, so an abandoned attempt (timed out, cancelled) whose thread
cannot be killed must not block a retry; the pool simply starts another
thread. Every job is handed to one specific idle thread, or to a new one, so
a job never waits behind a step that blocks. A job submitted from inside a
worker (the successor a finished step made ready) runs next on that same
thread, so a chain of steps costs no thread hand-offs at all.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .executor import Done

logger = logging.getLogger("nbflow")
_Job = tuple[Callable[[], Any], Done]


def default_workers() -> int:
    """Like ThreadPoolExecutor: I/O-bound steps are the common case."""
    return min(32, (os.cpu_count() or 1) + 4)


class _Slot:
    """An idle worker's mailbox: one job handed over, then a wake-up."""

    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.job: _Job | None = None
        self.wake = threading.Semaphore(0)


class ThreadExecutor:
    """A growable pool of daemon threads with same-thread continuation."""

    name = "thread"

    def __init__(self, max_workers: int | None = None) -> None:
        self.capacity = max_workers or default_workers()
        self._idle: list[_Slot] = []
        self._threads: set[threading.Thread] = set()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._closed = False

    @property
    def threads(self) -> frozenset[threading.Thread]:
        with self._lock:
            return frozenset(self._threads)

    def submit(self, job: Callable[[], Any], done: Done) -> None:
        local = self._local
        if getattr(local, "pool", None) is self and local.next is None and not self._closed:
            local.next = (job, done)
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is shut down")
            if self._idle:
                slot = self._idle.pop()
                slot.job = (job, done)
                slot.wake.release()
                return
            thread = threading.Thread(
                target=self._work, args=((job, done),),
                name=f"nbflow-worker-{next(self._counter)}", daemon=True,
            )
            self._threads.add(thread)
        thread.start()

    def _work(self, first: _Job) -> None:
        local = self._local
        local.pool, local.next = self, None
        slot = _Slot()
        item: _Job | None = first
        try:
            while item is not None:
                job, done = item
                try:
                    result, error = job(), None
                except BaseException as exc:  # the step's failure is data, not a crash
                    result, error = None, exc
                try:
                    done(result, error)
                except Exception:
                    logger.exception("nbflow: completion callback failed")
                del job, done, result, error
                item, local.next = local.next, None
                if item is None:
                    with self._lock:
                        if self._closed:
                            return
                        self._idle.append(slot)
                    slot.wake.acquire()
                    item, slot.job = slot.job, None
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def shutdown(self, timeout: float = 5.0) -> None:
        """Wake idle workers to exit and join them; busy ones exit when their job ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for slot in idle:
            slot.job = None
            slot.wake.release()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    timeout = 0.05  # an abandoned attempt: do not wait long on the rest
