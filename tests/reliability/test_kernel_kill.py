"""kill -9 of a real kernel mid-run, then Run All in a new kernel: the killed run reads back as interrupted.

What docs/guide/reliability.md promises: the steps that finished before the
kill are restored (not computed again), the one that was running runs again,
and `nbflow status`, the new kernel's first step cell and its graph widget
all say the earlier run was interrupted and which steps did not finish.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nbflow.core.states import State
from nbflow.store.manifest import Manifest
from tests.kernel.conftest import Kernel

REPO = Path(__file__).resolve().parents[2]


def cells(folder: Path) -> list[tuple[str, str]]:
    """(cell id, source): three steps that count their executions in a file, one blocking until a flag exists."""
    counter, flag = str(folder / "counter.txt"), str(folder / "flag")
    log = f"open({counter!r}, 'a').write('{{}}\\n')"
    return [
        ("c0", "%load_ext nbflow"),
        ("c1", f"%%step load\n{log.format('load')}\nraw = list(range(10))"),
        ("c2", f"%%step fit --after load\n{log.format('fit')}\nmodel = sum(raw)"),
        ("c3", "%%step block --after fit\nimport os, time\n"
               f"while not os.path.exists({flag!r}):\n    time.sleep(0.05)\n{log.format('block')}\nscore = model * 2"),
        ("c4", f"%%step report --after block\n{log.format('report')}\nline = f'score {{score}}'"),
        ("c5", "%flow show"),
        ("c6", "%flow wait"),
    ]


def counts(folder: Path) -> dict[str, int]:
    path = folder / "counter.txt"
    found: dict[str, int] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        found[line] = found.get(line, 0) + 1
    return found


def wait_for(condition, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling interval of a condition with a deadline, not a barrier


def nbflow_status(folder: Path, env: dict[str, str]) -> str:
    cli = subprocess.run([sys.executable, "-c", "from nbflow.cli import main; main()", "status", "nb.ipynb"],
                         capture_output=True, text=True, cwd=folder, env=env, timeout=60)
    assert cli.returncode == 0, cli.stderr
    return cli.stdout


def step_line(table: str, step: str) -> list[str]:
    return next((line.split() for line in table.splitlines() if line.split()[:1] == [step]), [])


def test_kill_9_mid_run_then_run_all_restores_the_finished_reruns_the_rest_and_says_so(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    env = {"JPY_SESSION_NAME": str(notebook), "NBFLOW_SECRET_PATH": str(tmp_path / "secret"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    db = tmp_path / ".nbflow" / "manifest.sqlite"
    source = cells(tmp_path)

    first = Kernel(tmp_path, env)
    try:
        for cell_id, code in source[:-1]:  # every cell but the final wait: the kernel stays free
            reply = first.execute(code, cell_id=cell_id)
            assert reply.status == "ok", (code, reply.text)

        def on_disk() -> bool:  # the manifest flushes within a second: wait until the kill can lose nothing
            if not db.exists():
                return False
            with Manifest(db, "nb") as manifest:
                states = {r.status.name: r.status.state for r in manifest.latest()}
            return states.get("load") is State.SUCCEEDED and states.get("fit") is State.SUCCEEDED \
                and states.get("block") is State.RUNNING

        wait_for(on_disk, "load and fit succeeded and block running, in the manifest")
        pid = first.manager.provisioner.process.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        first.manager.provisioner.process.wait(timeout=30)  # type: ignore[union-attr]  # reaped: no zombie
    finally:
        first.client.stop_channels()
        first.manager.cleanup_resources()
    assert counts(tmp_path) == {"load": 1, "fit": 1}

    full_env = {**os.environ, **env}
    before = nbflow_status(tmp_path, full_env)
    assert "interrupted (its process ended before the run did)" in before, before
    assert step_line(before, "block")[:2] == ["block", "interrupted"], before
    assert step_line(before, "report")[:2] == ["report", "interrupted"], before  # it was waiting for block
    assert step_line(before, "fit")[:2] == ["fit", "succeeded"], before

    (tmp_path / "flag").touch()  # the blocking step now finishes
    second = Kernel(tmp_path, env)
    try:
        replies = [second.execute(code, cell_id=cell_id) for cell_id, code in source]
        assert all(r.status == "ok" for r in replies), [r.text for r in replies]
        said = "previous run #1 was interrupted at "
        first_step = replies[1].text
        assert said in first_step and "(its process ended): block, report did not finish" in first_step, first_step
        assert not any(said in r.text for r in replies[2:]), "said more than once"
        (widget_id,) = replies[5].widget_ids()
        state = second.wait_widget(widget_id, lambda s: s.get("steps", {}).get("report", {}).get("state")
                                   == "succeeded")
        assert said in state["previous"] and "block, report did not finish" in state["previous"], state["previous"]
        rows = state["steps"]
        assert {n: rows[n]["state"] for n in ("load", "fit", "block", "report")} == {
            "load": "restored", "fit": "restored", "block": "succeeded", "report": "succeeded"}
        assert second.execute("print(line)").text.strip() == "score 90"
    finally:
        second.close()
    assert counts(tmp_path) == {"load": 1, "fit": 1, "block": 1, "report": 1}  # finished steps not recomputed

    after = nbflow_status(tmp_path, full_env)
    runs = [line for line in after.splitlines() if line.startswith("  #")]
    assert len(runs) == 2 and "interrupted" not in runs[0] and "interrupted" in runs[1], after
    assert step_line(after, "block")[:2] == ["block", "succeeded"], after

    third = Kernel(tmp_path, env)  # the second kernel was shut down cleanly: nothing to say now
    try:
        replies = [third.execute(code, cell_id=cell_id) for cell_id, code in source]
        assert all(r.status == "ok" for r in replies), [r.text for r in replies]
        assert not any("previous run" in r.text for r in replies), [r.text for r in replies]
        (widget_id,) = replies[5].widget_ids()
        assert third.wait_widget(widget_id, lambda s: "steps" in s).get("previous") == ""
    finally:
        third.close()
