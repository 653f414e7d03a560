"""The asyncio loop nbflow owns, in a background thread.

The kernel's own loop must stay free for the user's cells (an asyncio task
on it stalled kernel replies for seconds in ipykernel 7), so nbflow's timers
(delays, backoff, timeouts, --at) and its event delivery live on a loop in a
daemon thread of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class LoopThread:
    """Start lazily, schedule from any thread, stop and join cleanly."""

    def __init__(self, name: str = "nbflow-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("nbflow loop is closed")
                if self._loop is None:
                    self._start()
                loop = self._loop
                assert loop is not None
        return loop

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        started.wait()
        self._loop, self._thread = loop, thread

    def in_loop(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread, soon."""
        loop = self.loop
        if self.in_loop():
            loop.call_soon(fn, *args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread after `delay` seconds (monotonic)."""
        loop = self.loop
        if self.in_loop():
            loop.call_later(delay, fn, *args)
        else:
            loop.call_soon_threadsafe(loop.call_later, delay, fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and join its thread; idempotent."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout)
            if not thread.is_alive() and not loop.is_closed():
                loop.close()
