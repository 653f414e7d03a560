"""`--executor dask` and its cluster: a worker killed mid-step, which cluster steps go to, and the
LocalCluster nbflow starts (and closes) when there is none. Real worker processes throughout."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from distributed import Client, LocalCluster

from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.executors.dask import DaskExecutor

from .clusters import poll

# Writes its worker's pid (one line per execution), then waits for the test's go-ahead.
WAITS = ("import os, pathlib, time\nwith open(runs, 'a') as _f:\n    _f.write(f'{os.getpid()}\\n')\n"
         "while not pathlib.Path(go).exists():\n    time.sleep(0.02)\nanswer = 42")


def _pids(runs: Path) -> list[int]:
    return [int(line) for line in runs.read_text().split()] if runs.exists() else []


@pytest.fixture
def flow(cluster: LocalCluster, client: Client, tmp_path: Path) -> Iterator[Flow]:
    client.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is back
    f = Flow(executors=[DaskExecutor(cluster.scheduler_address)])
    f.namespace.update(runs=str(tmp_path / "runs"), go=str(tmp_path / "go"))
    yield f
    f.close()


def test_a_killed_worker_is_dasks_to_survive(flow: Flow, tmp_path: Path) -> None:
    """SIGKILL the worker running the step: Dask runs the task again on a live worker; the step
    succeeds in its one nbflow attempt, with two executions."""
    flow.add("fit", WAITS, executor="dask", retries=2)
    flow.run()
    (first,) = poll(lambda: _pids(tmp_path / "runs"), what="the step started on a worker")
    os.kill(first, signal.SIGKILL)
    pids = poll(lambda: len(_pids(tmp_path / "runs")) == 2 and _pids(tmp_path / "runs"),
                what="Dask ran the task again")
    assert pids[1] != first
    (tmp_path / "go").touch()
    flow.wait(timeout=60)
    status = flow.status("fit")["fit"]
    assert (status.state, status.attempts, flow.namespace["answer"]) == (State.SUCCEEDED, 1, 42)


def test_when_dask_gives_up_on_a_dead_worker_nbflow_retries(flow: Flow, cluster: LocalCluster,
                                                              tmp_path: Path) -> None:
    """With Dask allowing no worker failure, the killed task fails as WorkerDied and `--retries 1`
    runs the step again: two attempts, two executions, the right value."""
    cluster.scheduler.allowed_failures = 0  # the scheduler runs in this process
    try:
        flow.add("fit", WAITS, executor="dask", retries=1)
        flow.run()
        (first,) = poll(lambda: _pids(tmp_path / "runs"), what="the step started on a worker")
        os.kill(first, signal.SIGKILL)
        poll(lambda: len(_pids(tmp_path / "runs")) == 2, what="nbflow's retry started")
        (tmp_path / "go").touch()
        flow.wait(timeout=60)
    finally:
        cluster.scheduler.allowed_failures = 3
    status = flow.status("fit")["fit"]
    assert (status.state, status.attempts, flow.namespace["answer"]) == (State.SUCCEEDED, 2, 42)
    error = status.attempt_log[0].error or ""
    assert error.startswith("WorkerDied: step 'fit': the Dask worker running it (tcp://") and \
        error.endswith(") died, and Dask gave up after 1 try"), error


def test_steps_go_to_the_address_setting_then_the_environment(cluster: LocalCluster, client: Client,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The address callable (the kernel's dask_address) wins; unset, DASK_SCHEDULER_ADDRESS is used."""
    setting: list[str | None] = [None]
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    with Flow(executors=[DaskExecutor(lambda: setting[0], connect_timeout=2)]) as flow:
        flow.add("where", "import os\npid = os.getpid()", executor="dask")
        flow.run()
        flow.wait(timeout=60)
        assert flow.namespace["pid"] in client.run(os.getpid).values()
        setting[0] = "tcp://127.0.0.1:1"  # nothing listens there
        flow.run("where", force=True)
        flow.wait(timeout=60, raise_on_failure=False)
        error = flow.status("where")["where"].error or ""
        assert error.startswith("DaskUnavailable: cannot reach the Dask scheduler at tcp://127.0.0.1:1 "
                                "(from dask_address): ") and "\n" not in error


def test_the_kernels_own_client_is_used_and_left_open(cluster: LocalCluster, client: Client,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with Client(cluster.scheduler_address) as mine:  # the default client, as `Client(...)` in a cell makes
        with Flow(executors=[DaskExecutor()]) as flow:
            flow.add("where", "import os\npid = os.getpid()", executor="dask")
            flow.run()
            flow.wait(timeout=60)
        assert flow.namespace["pid"] in client.run(os.getpid).values()
        assert mine.status == "running"  # closing the flow closed only what nbflow opened


def test_without_a_cluster_a_local_one_is_started_once_and_closed_with_the_flow(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No address, no client: the first Dask step starts a LocalCluster sized to the machine and says so
    under its cell (once); `Flow.close()` stops its worker processes."""
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with contextlib.suppress(ValueError):
        from distributed import default_client
        pytest.fail(f"a default client exists: {default_client()}")
    flow = Flow(executors=[DaskExecutor()])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            flow.add("first", "import os\nfirst_pid = os.getpid()", executor="dask")
            flow.add("second", "import os\nsecond_pid = os.getpid()", executor="dask", after="first")
            flow.run()
            flow.wait(timeout=120)
    finally:
        flow.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nbflow: started a local Dask cluster for --executor dask ("), lines
    assert "dashboard: http" in lines[0] or "no dashboard (it needs bokeh)" in lines[0]
    workers = {flow.namespace["first_pid"], flow.namespace["second_pid"]}
    assert os.getpid() not in workers
    poll(lambda: not any(psutil.pid_exists(p) for p in workers), what="the local cluster's workers exited")


def test_without_dask_installed_a_dask_step_says_how_to_install_it(tmp_path: Path) -> None:
    """A Python where `import distributed` fails: the step fails with one line naming the extra, and
    `%flow config executor=dask` is refused the same way."""
    script = textwrap.dedent("""
        import sys
        sys.modules["distributed"] = None  # as if not installed
        from nbflow.core.flow import Flow
        from nbflow.core.settings import FlowSettings, SettingsError
        from nbflow.executors.dask import DaskExecutor
        with Flow(executors=[DaskExecutor()]) as flow:
            flow.add("remote", "x = 1", executor="dask")
            flow.run()
            flow.wait(timeout=60, raise_on_failure=False)
            print(flow.status("remote")["remote"].error)
        try:
            FlowSettings(max_workers=1, store="x").parse(["executor=dask"])
        except SettingsError as error:
            print(error)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.returncode == 0, done.stderr
    step, setting = done.stdout.splitlines()
    assert step.startswith("DaskUnavailable: --executor dask needs dask.distributed, which is not installed here")
    assert step.endswith("; install it with: pip install 'jupyter-nbflow[dask]'")
    assert setting == ("executor: dask needs dask.distributed, which is not installed here; "
                       "install it with: pip install 'jupyter-nbflow[dask]'")
