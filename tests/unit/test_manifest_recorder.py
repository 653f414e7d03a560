"""The manifest's in-memory recorder on its own: events in, `StepStatus` rows out, no SQLite, no threads."""

from __future__ import annotations

import pytest

from nbflow.core import events as ev
from nbflow.core.keys import Part
from nbflow.core.states import State
from nbflow.store.manifest.recorder import Recorder


def play(recorder: Recorder, *events: ev.Event) -> None:
    for event in events:
        recorder.record(event)


def test_a_retried_step_keeps_each_attempt_and_ends_with_the_event_fields() -> None:
    r = Recorder()
    part = Part("code", "", "abc", "3 lines")
    play(r, ev.FlowStarted(1, time=10.0), ev.StepWaiting(1, step="a", time=10.0),
         ev.StepStarted(1, step="a", attempt=1, time=11.0),
         ev.AttemptFailed(1, step="a", attempt=1, error="ValueError: no\nmore", traceback="tb", time=12.0),
         ev.StepRetrying(1, step="a", attempt=2, delay=1.0, time=12.0),
         ev.StepStarted(1, step="a", attempt=2, time=13.0),
         ev.StepSucceeded(1, step="a", attempts=2, duration=3.5, outputs=("x",), key="k", parts=(part,),
                          checkpoint="/s/a/k.ckpt", size=99, write_seconds=0.25, time=14.5))
    status = r.current("a")
    assert status is not None
    assert (status.state, status.attempts, status.started, status.ended, status.duration) == (
        State.SUCCEEDED, 2, 11.0, 14.5, 3.5)
    assert [(a.number, a.started, a.ended, a.error) for a in status.attempt_log] == [
        (1, 11.0, 12.0, "ValueError: no"), (2, 13.0, 14.5, None)]
    assert status.error is None and status.traceback is None  # the success clears the failed attempt's error
    assert (status.key, status.checkpoint, status.size, status.write_seconds, status.outputs) == (
        "k", "/s/a/k.ckpt", 99, 0.25, ("x",))
    batch = r.take()
    assert batch is not None and r.take() is None
    (change,) = batch.rows.values()
    assert change.keyed == 14.5 and change.key_parts == (("code", "", "abc", "3 lines"),)
    assert batch.runs[1].started == 10.0 and batch.events == 7


@pytest.mark.parametrize(("event", "state", "reason"), [
    (ev.StepSkipped(1, step="a", reason="--if False", time=5.0), State.SKIPPED, "--if False"),
    (ev.StepCancelled(1, step="a", time=5.0), State.CANCELLED, "cancelled"),
    (ev.StepUpstreamFailed(1, step="a", upstream="u", time=5.0), State.UPSTREAM_FAILED, "upstream step 'u' failed"),
])
def test_ends_without_output_carry_their_reason(event: ev.StepEvent, state: State, reason: str) -> None:
    r = Recorder()
    play(r, ev.StepWaiting(1, step="a", time=1.0), ev.StepStarted(1, step="a", time=2.0), event)
    status = r.current("a")
    assert status is not None
    assert (status.state, status.reason, status.ended, status.duration) == (state, reason, 5.0, 3.0)
    assert status.attempt_log[0].error == reason and status.attempt_log[0].ended == 5.0


def test_a_restore_without_time_saved_uses_original_minus_load_never_negative() -> None:
    r = Recorder()
    play(r, ev.StepWaiting(1, step="a"),
         ev.StepRestored(1, step="a", key="k", checkpoint="/c", size=7, load_seconds=2.0, original_seconds=1.5,
                         computed_at=100.0))
    status = r.current("a")
    assert status is not None and status.source == "restored"
    assert (status.time_saved, status.computed_at, status.size, status.load_seconds) == (0.0, 100.0, 7, 2.0)
    assert status.duration == 1.5  # the run that computed it


def test_a_restore_without_time_saved_is_original_minus_load() -> None:
    r = Recorder()
    play(r, ev.StepWaiting(1, step="a"),
         ev.StepRestored(1, step="a", key="k", load_seconds=0.25, original_seconds=4.0, attempts=3))
    status = r.current("a")
    assert status is not None and (status.time_saved, status.duration, status.attempts) == (3.75, 4.0, 3)


def test_running_again_in_the_same_run_starts_a_fresh_row_and_stale_flags_the_newest() -> None:
    r = Recorder()
    play(r, ev.StepWaiting(1, step="a"), ev.StepStarted(1, step="a"), ev.StepFailed(1, step="a", error="boom"))
    assert r.take() is not None
    play(r, ev.StepWaiting(1, step="a"), ev.StepStarted(1, step="a", attempt=1),
         ev.StepSucceeded(1, step="a", duration=1.0))
    status = r.current("a")
    assert status is not None and status.state is State.SUCCEEDED and status.error is None
    assert len(status.attempt_log) == 1  # the failed execution's attempt is not carried over
    play(r, ev.StepStale(1, step="a", reason="code changed"))
    batch = r.take()
    assert batch is not None
    (change,) = batch.rows.values()
    assert change.stale and change.status.state is State.SUCCEEDED and change.status.reason == "code changed"


def test_a_failed_write_puts_rows_back_and_newer_changes_win() -> None:
    r = Recorder()
    play(r, ev.FlowStarted(1), ev.StepWaiting(1, step="a"), ev.StepStarted(1, step="a"))
    batch = r.take()
    assert batch is not None and not r.dirty()
    play(r, ev.StepSucceeded(1, step="a", duration=2.0))
    r.put_back(batch)
    again = r.take()
    assert again is not None
    assert again.rows[(1, "a")].status.state is State.SUCCEEDED  # the newer change, not the taken snapshot
    assert again.events == batch.events + 1 and set(again.runs) == {1}


def test_events_the_manifest_does_not_keep_change_nothing() -> None:
    r = Recorder()
    assert not r.record(ev.StepDefined(1, step="a"))
    assert not r.record(ev.StepWarning(1, step="a", message="hm"))
    assert not r.dirty() and r.take() is None and r.current("a") is None


def test_a_restore_outside_any_run_is_a_run_that_ends_with_it() -> None:
    """`%flow resume` restores with no run open: the row's run ends at once, so it never reads as running."""
    r = Recorder()
    play(r, ev.StepRestored(0, step="a", key="k", load_seconds=0.1, time=5.0),
         ev.StepRestored(0, step="b", key="j", load_seconds=0.1, time=6.0))
    batch = r.take()
    assert batch is not None
    run = batch.runs[0]
    assert (run.started, run.finished, run.counts) == (5.0, 6.0, {"restored": 2})


def test_a_restore_inside_a_run_leaves_the_run_open_until_it_finishes() -> None:
    r = Recorder()
    play(r, ev.FlowStarted(1, time=1.0), ev.StepWaiting(1, step="a", time=1.0),
         ev.StepRestored(1, step="a", key="k", load_seconds=0.1, time=2.0), ev.StepWaiting(1, step="b", time=2.0))
    batch = r.take()
    assert batch is not None and batch.runs[1].finished is None and batch.runs[1].counts is None
    play(r, ev.StepSucceeded(1, step="b", duration=1.0, time=3.0), ev.FlowFinished(1, counts={"restored": 1}, time=3.0))
    batch = r.take()
    assert batch is not None and (batch.runs[1].finished, batch.runs[1].counts) == (3.0, {"restored": 1})
