"""The `nbflow` comm's messages: what the kernel accepts from a front end, and the shape of a row."""

from __future__ import annotations

import pytest

from nbflow.core import labcomm
from nbflow.core.states import State
from nbflow.core.status import StepStatus


@pytest.mark.parametrize(("data", "problem"), [
    ([1, 2], "expected a JSON object, got list"),
    ({"type": "launch"}, "unknown message type 'launch'"),
    ({"type": "run", "steps": "a"}, "steps must be a list of step names, got 'a'"),
    ({"type": "run", "steps": ["a"], "force": "yes"}, "force must be true or false"),
    ({"type": "request_detail"}, "request_detail needs a step name, got None"),
    ({}, "unknown message type None"),
    ({"type": "hello", "version": 0}, "version must be a whole number >= 1, got 0"),
    ({"type": "hello", "version": True}, "got True"),
])
def test_a_bad_request_is_one_line_naming_the_problem(data: object, problem: str) -> None:
    with pytest.raises(labcomm.LabCommError) as caught:
        labcomm.parse_request(data)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_requests_and_messages() -> None:
    assert labcomm.parse_request({"type": "hello", "version": 2}) == labcomm.Request("hello", 2)
    assert labcomm.parse_request({"type": "request_snapshot"}).version == labcomm.VERSION
    status = StepStatus("fit", State.FAILED, attempts=2, duration=1.23456, error="ValueError: x\nmore")
    row = labcomm.row(status.to_json(detail=False), "cell-7")
    assert row == {"name": "fit", "state": "failed", "attempts": 2, "duration": 1.235, "error": "ValueError: x",
                   "cell": "cell-7"}
    assert "cell" not in labcomm.row(status.to_json(detail=False), None)
    message = labcomm.update(3, {"fit": row}, ["gone"], 1.5)
    assert message["type"] == labcomm.UPDATE and message["version"] == labcomm.VERSION and message["seq"] == 3
    assert set(labcomm.KERNEL_MESSAGES) == {"snapshot", "update", "error", "bye", "answer", "detail", "layout"}
    assert labcomm.parse_request({"type": "run", "steps": ["a"], "force": True}) == labcomm.Request(
        "run", 1, ("a",), True)
    assert labcomm.parse_request({"type": "cancel"}).steps == ()
    assert labcomm.parse_request({"type": "request_detail", "step": "fit"}).steps == ("fit",)
    assert labcomm.answer("run", "nbflow: running 1 step: a")["message"] == "nbflow: running 1 step: a"


def test_the_guide_names_every_message() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "guide" / "jupyterlab.md").read_text(encoding="utf-8")
    section = guide[guide.index("## The comm protocol"):]
    for kind in (*labcomm.FRONT_END_MESSAGES, *labcomm.KERNEL_MESSAGES):
        assert f"| `{kind}` |" in section, kind
    assert f"target `{labcomm.TARGET}`" in section and f"version {labcomm.VERSION}" in section
