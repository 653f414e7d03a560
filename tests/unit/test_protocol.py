"""The batch run <-> kernel contract: typed environment variables both ways, the activity probe's answer."""

from __future__ import annotations

import pytest

from nbflow.core import protocol
from nbflow.core.protocol import BatchEnv, BatchEnvError

NAMES = {
    "batch": "NBFLOW_BATCH", "force": "NBFLOW_FORCE", "progress": "NBFLOW_PROGRESS", "store": "NBFLOW_STORE",
    "flow_name": "NBFLOW_FLOW_NAME", "notebook": "JPY_SESSION_NAME",
}


def test_unset_environment_is_an_interactive_kernel() -> None:
    assert BatchEnv.read({}) == BatchEnv()
    assert BatchEnv().environ() == {}


def test_every_variable_round_trips() -> None:
    env = BatchEnv(batch=True, force=True, progress=True, store="s3://b/x", flow_name="nightly",
                   notebook="/w/a.ipynb")
    written = env.environ()
    assert written == {"NBFLOW_BATCH": "1", "NBFLOW_FORCE": "1", "NBFLOW_PROGRESS": "1",
                       "NBFLOW_STORE": "s3://b/x", "NBFLOW_FLOW_NAME": "nightly", "JPY_SESSION_NAME": "/w/a.ipynb"}
    assert BatchEnv.read(written) == env
    assert {variable.name for variable in protocol.VARIABLES} == set(NAMES.values())


@pytest.mark.parametrize("field", ["batch", "force", "progress"])
def test_a_flag_is_1_or_0(field: str) -> None:
    name = NAMES[field]
    assert getattr(BatchEnv.read({name: "1"}), field) is True
    assert getattr(BatchEnv.read({name: "0"}), field) is False
    assert getattr(BatchEnv.read({name: ""}), field) is False
    assert BatchEnv(**{field: False}).environ() == {}  # type: ignore[arg-type]
    with pytest.raises(BatchEnvError) as caught:
        BatchEnv.read({name: "yes"})
    assert str(caught.value) == f"{name}: expected 1 or 0, got 'yes'"


@pytest.mark.parametrize("field", ["store", "flow_name", "notebook"])
def test_an_empty_string_is_unset(field: str) -> None:
    assert getattr(BatchEnv.read({NAMES[field]: ""}), field) is None
    assert BatchEnv(**{field: ""}).environ() == {}  # type: ignore[arg-type]


def test_read_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBFLOW_FORCE", "1")
    monkeypatch.setenv("NBFLOW_FLOW_NAME", "mine")
    monkeypatch.delenv("NBFLOW_BATCH", raising=False)
    env = BatchEnv.read()
    assert env.force is True and env.flow_name == "mine" and env.batch is False


def test_engine_writes_what_the_kernel_reads() -> None:
    import papermill  # noqa: F401  (papermill first: importing it loads the engine through its entry point)

    from nbflow.batch.engine import kernel_environment

    written = kernel_environment("nb.ipynb", store="/s", force=True, progress=False)
    env = BatchEnv.read(written)
    assert env.batch and env.force and not env.progress and env.store == "/s"
    assert env.notebook is not None and env.notebook.endswith("/nb.ipynb")
    assert BatchEnv.read(kernel_environment("s3://b/nb.ipynb")).notebook is None  # no local path to tell


@pytest.mark.parametrize(("result", "active"), [
    ({"status": "ok", "data": {"text/plain": "True"}}, True),
    ({"status": "ok", "data": {"text/plain": "False"}}, False),
    ({"status": "error", "ename": "NameError"}, False),
    ({}, False),
])
def test_probe_answer(result: dict[str, object], active: bool) -> None:
    assert protocol.probe_says_active(result) is active
