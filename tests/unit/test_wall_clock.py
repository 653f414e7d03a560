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


def test_durations_are_measured_on_the_monotonic_clock(clock: Clock) -> None:
    """A wall clock jumping an hour while steps run changes no duration, in status or in the manifest."""
    import threading

    from nbflow.store.manifest import Manifest

    started, go = threading.Event(), threading.Event()
    manifest = Manifest(":memory:", "nb")
    with Flow({"started": started, "go": go}) as flow:
        flow.subscribe(manifest)
        flow.add("ok", "started.set()\ngo.wait(10)\nx = 1")
        flow.add("bad", "go.wait(10)\nraise ValueError('no')")
        flow.run()
        assert started.wait(10)
        clock.offset = 3600.0  # both steps are inside their bodies, on either side of the jump
        go.set()
        flow.wait(timeout=10, raise_on_failure=False)
        statuses = flow.status()
    assert statuses["ok"].state is State.SUCCEEDED and statuses["bad"].state is State.FAILED
    for name in ("ok", "bad"):
        duration = statuses[name].duration
        assert duration is not None and 0 <= duration < 60, (name, duration)
    recorded = {r.status.name: r.status.duration for r in manifest.latest()}
    manifest.close()
    assert all(d is not None and 0 <= d < 60 for d in recorded.values()), recorded
