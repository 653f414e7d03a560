"""A run whose process is killed mid-run reads back as interrupted, never as running forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from nbflow.core.states import State
from nbflow.store.manifest import Manifest
from nbflow.store.manifest.liveness import is_gone, process_start, process_state, this_writer

RunPython = Callable[..., str]

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from nbflow import Flow
    from nbflow.store.manifest import Manifest

    db, ready = sys.argv[1:3]
    manifest = Manifest(db, "nb")
    flow = Flow()
    flow.subscribe(manifest)
    flow.add("quick", "x = 1")
    flow.add("forever", "import time\\nwhile True: time.sleep(0.05)", after="quick")
    flow.run()
    while flow.status()["forever"].state.value != "running":
        time.sleep(0.01)
    manifest.flush()
    Path(ready).touch()
    time.sleep(600)
""")


def test_a_killed_run_is_interrupted_and_its_finished_steps_stay_finished(tmp_path: Path) -> None:
    db, ready = tmp_path / ".nbflow" / "manifest.sqlite", tmp_path / "ready"
    (tmp_path / "nb.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "NBFLOW_SECRET_PATH": str(tmp_path / "secret")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(ready)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():  # the child says when its rows are on disk
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "the child never got its step running"
            time.sleep(0.02)
        with Manifest(db, "nb") as alive:  # while it lives, the run is running
            states = {r.status.name: r.status.state for r in alive.latest()}
            assert states == {"quick": State.SUCCEEDED, "forever": State.RUNNING}
            assert [r.interrupted for r in alive.runs()] == [False]
    finally:
        child.send_signal(signal.SIGKILL)
    try:  # read back while the killed child is a zombie (not reaped yet): it must already count as gone
        wait_for_zombie(child.pid)
        with Manifest(db, "nb") as after:
            records = {r.status.name: r.status for r in after.latest()}
            assert records["quick"].state is State.SUCCEEDED
            assert records["forever"].state is State.INTERRUPTED
            assert "process" in (records["forever"].reason or "")
            (run,) = after.runs()
            assert run.interrupted and run.finished is None
            found = after.interruption()
            assert found is not None and found.run.id == run.id and found.unfinished == ("forever",)
            assert found.text().startswith(f"previous run #{run.id} was interrupted at ")
    finally:
        child.wait(timeout=30)
    cli = subprocess.run([sys.executable, "-c", "from nbflow.cli import main; main()", "status", "nb.ipynb"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert cli.returncode == 0, cli.stderr
    assert "interrupted (its process ended before the run did)" in cli.stdout, cli.stdout
    assert any(line.split()[:2] == ["forever", "interrupted"] for line in cli.stdout.splitlines()), cli.stdout


def wait_for_zombie(pid: int) -> None:
    """Block until the child `pid` has exited, without reaping it (WNOWAIT): it is then a zombie."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    assert process_state(pid) == "Z", process_state(pid)


def test_a_killed_process_not_yet_reaped_is_gone() -> None:
    """A zombie still answers kill(pid, 0); its run must not read as running for as long as its parent lives."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        host, started = this_writer().host, process_start(child.pid)
        assert started is not None and not is_gone(host, child.pid, started)  # alive: not gone
        child.send_signal(signal.SIGKILL)
        wait_for_zombie(child.pid)
        assert is_gone(host, child.pid, started)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert is_gone(host, child.pid, started)  # reaped: no such process (or another one with a new start time)


SESSIONS = textwrap.dedent("""
    import sys
    from nbflow import Flow
    from nbflow.core.header import parse_header
    from nbflow.store.store import open_store

    folder, mode = sys.argv[1:3]
    store = open_store(folder, flow_name="nb")
    flow = Flow(cache=store)
    flow.subscribe(store.manifest)
    spec = parse_header("a", "x = 1\\n")
    if mode == "run":
        flow.define(spec)
        flow.run()
        flow.wait()
        print(flow.status()["a"].key)
    else:
        assert flow.restore(spec, mode), "no checkpoint to restore"
    flow.close()
    store.close()
""")


def test_a_resume_session_that_ended_is_no_interrupted_run(tmp_path: Path, run_python: RunPython) -> None:
    """Restores made outside any run (`%flow resume`) end their run: the process exiting leaves no open run."""
    key = run_python(SESSIONS, tmp_path, "run").strip()
    run_python(SESSIONS, tmp_path, key)
    with Manifest(tmp_path / ".nbflow" / "manifest.sqlite", "nb") as manifest:
        runs = manifest.runs()
        assert len(runs) == 2 and all(r.finished is not None and not r.interrupted for r in runs), runs
        assert runs[0].counts == {"restored": 1}
        assert manifest.interruption() is None
