"""The widget's Coalescer: at most one flush per interval, the first event prompt, a flow's end included.

Driven by a fake loop: `call_later` only records what it was asked, and the
test's clock moves when the test says so; no real time passes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from nbflow.core import events as ev
from nbflow.widget.rows import INTERVAL, Coalescer


class FakeLoop:
    """A `call_later` that records (due time, callback) and a clock the test advances."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.calls: list[tuple[float, Callable[[], object]]] = []
        self.pending: list[tuple[float, int, Callable[[], object]]] = []

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        self.calls.append((delay, callback))
        self.pending.append((self.now + delay, len(self.calls), callback))

    def clock(self) -> float:
        return self.now

    def advance(self, to: float) -> None:
        """Move the clock to `to`, running every callback that falls due, in due order."""
        while True:
            due = sorted(p for p in self.pending if p[0] <= to)
            if not due:
                break
            first = due[0]
            self.pending.remove(first)
            self.now = max(self.now, first[0])
            first[2]()
        self.now = to


@pytest.fixture
def loop() -> FakeLoop:
    return FakeLoop()


def make(loop: FakeLoop, flushes: list[float]) -> Coalescer:
    return Coalescer(loop.call_later, lambda: flushes.append(loop.now), clock=loop.clock)


def started(step: str = "a") -> ev.StepStarted:
    return ev.StepStarted(1, step=step, attempt=1)


def test_the_first_event_flushes_at_once(loop: FakeLoop) -> None:
    """A single state change after a quiet period is shown without waiting out the interval."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    coalescer(started())
    assert [delay for delay, _ in loop.calls] == [0.0]
    loop.advance(0.0)
    assert flushes == [0.0]


def test_a_burst_rides_on_the_pending_flush(loop: FakeLoop) -> None:
    """A thousand events before the flush runs schedule one flush, not a thousand."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    for i in range(1000):
        coalescer(started(f"s{i}"))
    assert len(loop.calls) == 1
    loop.advance(1.0)
    assert flushes == [0.0]


def test_an_event_soon_after_a_flush_waits_for_the_rest_of_the_interval(loop: FakeLoop) -> None:
    """After a flush at t, the next event at t + 30 ms is flushed at t + INTERVAL, not before."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    coalescer(started())
    loop.advance(0.0)
    loop.advance(0.03)
    coalescer(started())
    assert loop.calls[-1][0] == pytest.approx(INTERVAL - 0.03)
    loop.advance(INTERVAL - 0.001)
    assert flushes == [0.0]
    loop.advance(INTERVAL)
    assert flushes == [0.0, pytest.approx(INTERVAL)]


def test_a_steady_stream_flushes_at_most_once_per_interval(loop: FakeLoop) -> None:
    """An event every 7 ms for two seconds: flushes at least INTERVAL apart, and none missing."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    t = 0.0
    for _ in range(300):
        coalescer(started())
        t += 0.007
        loop.advance(t)
    loop.advance(t + 1)
    gaps = [b - a for a, b in itertools.pairwise(flushes)]
    assert all(gap >= INTERVAL - 1e-9 for gap in gaps), gaps
    assert len(flushes) >= int(t / INTERVAL)  # throttled, not starved
    assert flushes[-1] >= t - INTERVAL  # the last events were flushed too


def test_flow_finished_rides_on_the_pending_flush(loop: FakeLoop) -> None:
    """A flow's end soon after a flush waits out the interval like any event: each `%%step` cell
    run starts and ends a run, and must not cost an update of its own."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    coalescer(started())
    loop.advance(0.0)
    loop.advance(0.01)
    coalescer(started())  # a flush pending for t = INTERVAL
    coalescer(ev.FlowFinished(1, counts={"succeeded": 1}))
    assert len(loop.calls) == 2
    loop.advance(INTERVAL)
    assert flushes == [0.0, pytest.approx(INTERVAL)]


def test_many_short_runs_flush_at_most_once_per_interval(loop: FakeLoop) -> None:
    """A thousand runs of one step each, 5 ms apart (cells run one after another): throttled too."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    t = 0.0
    for i in range(1000):
        coalescer(started(f"s{i}"))
        coalescer(ev.FlowFinished(i, counts={"succeeded": 1}))
        t += 0.005
        loop.advance(t)
    loop.advance(t + 1)
    assert len(flushes) <= int(t / INTERVAL) + 2
    assert flushes[-1] >= t - INTERVAL  # the last run's end was flushed too


def test_flow_finished_after_a_quiet_period_flushes_once(loop: FakeLoop) -> None:
    """FlowFinished alone is one immediate flush."""
    flushes: list[float] = []
    coalescer = make(loop, flushes)
    loop.advance(5.0)
    coalescer(ev.FlowFinished(1))
    assert [delay for delay, _ in loop.calls] == [0.0]
    loop.advance(5.0)
    assert flushes == [5.0]
