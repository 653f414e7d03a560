"""The one status schema: `StepStatus.to_json`/`from_json` and the one status table."""

from __future__ import annotations

import json

import pytest

from nbflow.core.states import State
from nbflow.core.status import (
    SCHEMA,
    SUMMARY_KEYS,
    AttemptInfo,
    StatusFormatError,
    StepStatus,
    format_table,
)

FULL = StepStatus(
    "fit", State.RESTORED, attempts=2, started=10.0, ended=12.5, duration=2.5, error=None,
    traceback=None, reason="code, options and inputs match", outputs=("model", "score"),
    attempt_log=(AttemptInfo(1, 10.0, 11.0, "ValueError: no", False), AttemptInfo(2, 11.0, 12.5)),
    key="k" * 40, checkpoint="/s/fit/k.ckpt", size=1234, write_seconds=None, load_seconds=0.25,
    original_seconds=60.0, computed_at=5.0, time_saved=59.75, not_restorable=None, why="matched",
)


def test_the_detail_form_round_trips_through_real_json() -> None:
    data = json.loads(json.dumps(FULL.to_json()))
    assert data["schema"] == SCHEMA and data["source"] == "restored"
    assert StepStatus.from_json(data) == FULL


def test_the_summary_form_has_only_row_keys_without_nulls() -> None:
    failed = StepStatus("x", State.FAILED, attempts=3, duration=1.23456,
                        error="ZeroDivisionError: no\nmore" + "y" * 500)
    summary = failed.to_json(detail=False)
    assert set(summary) <= set(SUMMARY_KEYS)
    assert summary == {"name": "x", "state": "failed", "attempts": 3, "duration": 1.235,
                       "error": "ZeroDivisionError: no"}
    back = StepStatus.from_json(summary)
    assert (back.name, back.state, back.attempts, back.error, back.traceback) == (
        "x", State.FAILED, 3, "ZeroDivisionError: no", None)
    long = StepStatus("y", State.SKIPPED, reason="r" * 1000).to_json(detail=False)
    assert long["reason"] == "r" * 300


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "a", "state": "succeeded", "attempts": 1, "schema": SCHEMA + 1}, "newer than this nbflow"),
    ({"name": "a", "state": "exploded", "attempts": 1}, "not a step status"),
    ({"state": "succeeded"}, "not a step status"),
    ({"name": "a", "state": "failed", "attempt_log": [{"number": "one"}]}, "not a step status"),
])
def test_unreadable_json_is_one_clear_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(StatusFormatError, match=message):
        StepStatus.from_json(data)


def test_the_table_has_a_row_per_step_and_the_totals() -> None:
    rows = [FULL, StepStatus("load", State.SUCCEEDED, attempts=1, duration=0.002),
            StepStatus("plot", State.SKIPPED, reason="--if False\nmore")]
    header, *lines, totals = format_table(rows).splitlines()
    assert header.split() == ["step", "state", "attempts", "duration", "source", "saved", "error"]
    assert [line.split()[:2] for line in lines] == [["fit", "restored"], ["load", "succeeded"], ["plot", "skipped"]]
    assert "  59.8s  " in lines[0] and lines[2].endswith("--if False")
    assert totals == "3 steps, 1 restored; time saved by restoring: 59.8s"
