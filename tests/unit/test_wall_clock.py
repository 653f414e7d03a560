"""`--at` follows the wall clock: a clock that jumps (set forward, a laptop waking from suspend) is noticed."""

from __future__ import annotations

import datetime as dt
import time
import types
from collections.abc import Iterator

import pytest

from nbflow import Flow
from nbflow.core import events as ev
from nbflow.core import machine
from nbflow.core.states import State


class Clock(types.SimpleNamespace):
    """The `time` module as the scheduler sees it, with the wall clock moved by `offset` seconds."""

    def __init__(self) -> None:
        super().__init__(offset=0.0)

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(machine, "time", fake)
    monkeypatch.setattr(machine.StateMachine, "wake_interval", 0.05)
    yield fake


def test_a_clock_jumping_past_the_at_time_starts_the_step(clock: Clock) -> None:
    queued: list[ev.StepQueued] = []
    with Flow() as flow:
        flow.subscribe(lambda e: queued.append(e) if isinstance(e, ev.StepQueued) else None)
        flow.add("report", "done = True", at=dt.datetime.now() + dt.timedelta(hours=1))
        flow.run()
        assert flow.status()["report"].state is State.QUEUED  # an hour to go, on any clock
        clock.offset = 3600 + 1.0  # the wall clock jumps past it (suspend, NTP, a user)
        flow.wait(timeout=10)  # well before the monotonic hour: the wall clock was read again
        assert flow.status()["report"].state is State.SUCCEEDED and flow.namespace["done"] is True
    (event,) = queued
    assert event.start_at is not None and event.start_at > time.time() + 3000


def test_a_delay_is_a_span_on_the_monotonic_clock(clock: Clock) -> None:
    with Flow() as flow:
        flow.add("later", "x = 1", delay="200ms")
        flow.run()
        clock.offset = -3600.0  # a clock set back while it waits does not stretch a --delay
        flow.wait(timeout=10)
        assert flow.status()["later"].state is State.SUCCEEDED
