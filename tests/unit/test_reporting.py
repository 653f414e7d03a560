"""The kernel's reports to a batch run: progress while waiting in slices, with a fake clock and a fake wait."""

from __future__ import annotations

import pytest

from nbflow.core.errors import FlowFailed, FlowTimeout
from nbflow.core.reporting import wait_reporting


class Fake:
    """A clock that `wait` advances, and a wait that times out `slices` times before the steps finish."""

    def __init__(self, slices: int, fail: bool = False) -> None:
        self.now = 100.0
        self.slices = slices
        self.fail = fail
        self.waits: list[float] = []
        self.reports: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) <= self.slices:
            self.now += seconds
            raise FlowTimeout(seconds, ["a"])
        if self.fail:
            raise FlowFailed({"a": "ValueError: no"})

    def report(self) -> None:
        self.reports.append(self.now)


def test_reports_before_and_after_every_slice_until_done() -> None:
    fake = Fake(slices=3)
    wait_reporting(fake.wait, fake.report, None, interval=0.25, clock=fake.clock)
    assert fake.waits == [0.25] * 4
    assert len(fake.reports) == 8 and fake.reports[-1] == pytest.approx(100.75)


def test_last_slice_is_cut_to_the_deadline_and_the_error_names_the_whole_timeout() -> None:
    fake = Fake(slices=100)
    with pytest.raises(FlowTimeout) as caught:
        wait_reporting(fake.wait, fake.report, 0.6, interval=0.25, clock=fake.clock)
    assert fake.waits == pytest.approx([0.25, 0.25, 0.1])
    assert str(caught.value) == "wait timed out after 0.6s; still running: a"
    assert len(fake.reports) == 6


def test_failure_is_reported_then_raised() -> None:
    fake = Fake(slices=1, fail=True)
    with pytest.raises(FlowFailed):
        wait_reporting(fake.wait, fake.report, None, interval=0.25, clock=fake.clock)
    assert len(fake.reports) == 4
