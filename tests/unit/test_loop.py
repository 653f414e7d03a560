"""LoopThread: nbflow's own asyncio loop in a daemon thread, started lazily, stopped cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from nbflow.core.loop import LoopThread


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread("test-loop")
    yield thread
    thread.stop()


def on_loop(loop: LoopThread, schedule: str, *delay: float) -> tuple[threading.Thread, tuple[object, ...]]:
    """Schedule a callback with arguments; wait for it; return the thread it ran on and what it got."""
    ran = threading.Event()
    seen: list[tuple[threading.Thread, tuple[object, ...]]] = []

    def callback(*args: object) -> None:
        seen.append((threading.current_thread(), args))
        ran.set()

    getattr(loop, schedule)(*delay, callback, 1, "two")
    assert ran.wait(5), f"{schedule} never ran its callback"
    return seen[0]


def test_nothing_starts_until_first_use(loop: LoopThread) -> None:
    """Creating a LoopThread starts no thread; the first use starts one, named, daemonic."""
    before = set(threading.enumerate())
    assert loop.thread is None and not loop.in_loop()
    assert set(threading.enumerate()) == before
    assert loop.loop.is_running()
    thread = loop.thread
    assert thread is not None and thread.name == "test-loop" and thread.daemon and thread.is_alive()


def test_call_soon_and_call_later_run_on_the_loop_thread_with_their_arguments(loop: LoopThread) -> None:
    """From another thread both hand the callback over to the loop's thread."""
    for schedule, delay in (("call_soon", ()), ("call_later", (0.0,))):
        thread, args = on_loop(loop, schedule, *delay)
        assert thread is loop.thread and thread is not threading.current_thread()
        assert args == (1, "two")


def test_scheduling_from_the_loop_thread_itself(loop: LoopThread) -> None:
    """A callback on the loop may schedule more; in_loop() tells it where it is."""
    done = threading.Event()
    order: list[str] = []

    def first() -> None:
        order.append(f"first in_loop={loop.in_loop()}")
        loop.call_later(0.0, lambda: (order.append("later"), done.set()))
        loop.call_soon(order.append, "soon")

    loop.call_soon(first)
    assert done.wait(5)
    assert order == ["first in_loop=True", "soon", "later"]
    assert not loop.in_loop()


def test_call_later_waits_its_delay_and_keeps_order(loop: LoopThread) -> None:
    """A later callback runs no sooner than its delay, after ones due earlier."""
    done = threading.Event()
    order: list[tuple[str, float]] = []
    start = time.monotonic()
    loop.call_later(0.15, lambda: (order.append(("slow", time.monotonic() - start)), done.set()))
    loop.call_later(0.05, lambda: order.append(("quick", time.monotonic() - start)))
    loop.call_soon(lambda: order.append(("now", time.monotonic() - start)))
    assert done.wait(5)
    assert [name for name, _ in order] == ["now", "quick", "slow"]
    assert dict(order)["quick"] >= 0.05 and dict(order)["slow"] >= 0.15


def test_stop_joins_the_thread_closes_the_loop_and_is_final(loop: LoopThread) -> None:
    """After stop() the thread is gone and the loop closed; a second stop is harmless; use raises."""
    asyncio_loop = loop.loop
    thread = loop.thread
    assert thread is not None
    loop.stop()
    assert not thread.is_alive() and asyncio_loop.is_closed()
    loop.stop()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(print)


def test_stop_before_any_use_starts_nothing() -> None:
    """A loop never used stops without starting a thread, and cannot be started afterwards."""
    loop = LoopThread()
    loop.stop()
    assert loop.thread is None
    with pytest.raises(RuntimeError, match="nbflow loop is closed"):
        _ = loop.loop


def test_stop_from_a_callback_on_the_loop_does_not_deadlock(loop: LoopThread) -> None:
    """A callback may stop its own loop (the flow's close can run there): the thread ends."""
    asyncio_loop = loop.loop
    thread = loop.thread
    assert thread is not None
    loop.call_soon(loop.stop)
    thread.join(5)
    assert not thread.is_alive()
    assert not asyncio_loop.is_running()
