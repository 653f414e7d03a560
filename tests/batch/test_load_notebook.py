"""`nbflow.load_notebook` + `run_step`: testing one step of a notebook under pytest (the README's pattern)."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbflow
from nbflow.core.namespace import MissingInput

QUICKSTART = Path(__file__).parents[2] / "notebooks" / "quickstart.ipynb"


@pytest.fixture
def flow() -> nbflow.Flow:
    with nbflow.load_notebook(QUICKSTART) as flow:
        yield flow


def test_steps_come_from_the_notebook(flow: nbflow.Flow) -> None:
    assert list(flow.graph.topological_order()) == ["load", "clean", "stats", "plot", "report"]
    assert flow.graph["clean"].retries == 3 and flow.graph["report"].after == ("stats", "plot")


def test_run_step_with_given_inputs(flow: nbflow.Flow) -> None:
    raw = [{"id": 1, "ok": True, "value": 4}, {"id": 2, "ok": False, "value": 9}, {"id": 3, "ok": True, "value": 8}]
    # flaky_fetch comes from the notebook's plain cell; a test passes a stand-in to skip its failures
    out = flow.run_step("clean", raw=raw, flaky_fetch=lambda rows: rows)
    assert out == {"rows": [raw[0], raw[2]]}
    assert flow.run_step("stats", rows=out["rows"]) == {"summary": {"count": 2, "mean": 6.0}}


def test_run_step_uses_the_notebooks_definitions(flow: nbflow.Flow) -> None:
    out = flow.run_step("load")  # read_rows is defined in a plain cell
    assert len(out["raw"]) == 5000


def test_missing_input_is_named(flow: nbflow.Flow) -> None:
    with pytest.raises(MissingInput, match=r"step 'report': input 'summary' is not defined \(pass run_step"):
        flow.run_step("report", histogram=[])


def test_run_step_changes_nothing(flow: nbflow.Flow) -> None:
    flow.run_step("stats", rows=[{"value": 1}])
    assert "summary" not in flow.namespace and flow.status()["stats"].state.value == "pending"


def test_whole_notebook_runs_as_a_flow(flow: nbflow.Flow) -> None:
    flow.run()
    flow.wait(timeout=60)
    assert flow.namespace["summary"]["count"] == len(flow.namespace["rows"])
