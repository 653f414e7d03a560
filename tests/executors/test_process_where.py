"""Where each attempt ran: the kernel thread's name or the worker's pid, from the attempt to the manifest.

Real worker processes, a real SQLite manifest, the widget's detail data; the
pids the bodies write down are what the records must name.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbflow.core import events as ev
from nbflow.core.errors import FlowFailed
from nbflow.core.flow import Flow
from nbflow.core.status import StepStatus
from nbflow.executors.process import ProcessExecutor
from nbflow.store.manifest import DEFAULT_NAME, SCHEMA_VERSION, Manifest
from nbflow.store.manifest.readonly import ReadOnlyManifest
from nbflow.widget.widget import FlowWidget

PID = "import os, threading\nwith open({path!r}, 'a') as _f:\n    _f.write(f'{{os.getpid()}}\\n')\n" \
      "runs = len(open({path!r}).read().split())\nthread = threading.current_thread().name\n"


@pytest.fixture
def manifest(tmp_path: Path) -> Iterator[Manifest]:
    m = Manifest(tmp_path / "store" / DEFAULT_NAME, "nb")
    yield m
    m.close()


@pytest.fixture
def flow(manifest: Manifest) -> Iterator[Flow]:
    f = Flow(max_workers=2, executors=[ProcessExecutor(2)])
    f.subscribe(manifest)
    yield f
    f.close()


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


def test_each_attempt_records_where_it_ran_through_status_json_manifest_and_widget(
        flow: Flow, manifest: Manifest, tmp_path: Path) -> None:
    """A thread step ran in a named kernel thread; a process step whose worker died on attempt 1 ran in two
    workers, each attempt naming its own pid, in the live status, its JSON, the manifest and the widget."""
    pids = tmp_path / "pids"
    seen: list[ev.Event] = []
    flow.subscribe(seen.append)
    flow.add("here", "import threading\nname = threading.current_thread().name")
    flow.add("fit", PID.format(path=str(pids)) + "if runs == 1:\n    os._exit(3)\ncoef = runs",
             executor="process", retries=1)
    flow.run()
    flow.wait(timeout=60)
    first, second = _pids(pids)
    assert first != second != os.getpid()
    status = flow.status()
    assert [a.where for a in status["here"].attempt_log] == [f"thread {flow.namespace['name']}"]
    expected = [f"process pid {first}", f"process pid {second}"]
    assert [a.where for a in status["fit"].attempt_log] == expected
    failed = [e for e in seen if isinstance(e, ev.AttemptFailed)]
    succeeded = [e for e in seen if isinstance(e, ev.StepSucceeded) and e.step == "fit"]
    assert [e.where for e in failed] == [expected[0]] and [e.where for e in succeeded] == [expected[1]]

    again = StepStatus.from_json(json.loads(json.dumps(status["fit"].to_json())))
    assert [a.where for a in again.attempt_log] == expected

    manifest.flush()
    records = {r.status.name: r.status for r in manifest.latest()}
    assert [a.where for a in records["fit"].attempt_log] == expected
    assert records["here"].attempt_log[0].where.startswith("thread nbflow-worker-")

    detail = FlowWidget(flow).describe("fit")
    assert [a[5] for a in detail["attempts"]] == expected
    assert detail["attempts"][0][3] == "WorkerDied: worker process for step 'fit' died: exit code 3"


def test_a_timed_out_attempt_keeps_the_pid_it_ran_in(flow: Flow, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    flow.add("slow", PID.format(path=str(pids)) + "import time\ntime.sleep(60)", executor="process", timeout=2)
    flow.run()
    with pytest.raises(FlowFailed, match="timed out"):
        flow.wait(timeout=60)
    (attempt,) = flow.status()["slow"].attempt_log
    assert attempt.timed_out and attempt.where == f"process pid {_pids(pids)[0]}"


def test_a_version_3_manifest_is_read_and_migrated(tmp_path: Path) -> None:
    """A store written before attempts recorded where they ran: read-only readers read it as it is (where
    unknown), a writer adds the column, keeps the old rows and records where for new attempts."""
    db = tmp_path / "store" / DEFAULT_NAME
    with Manifest(db, "nb") as m:
        m(ev.FlowStarted(1))
        m(ev.StepStarted(1, step="old"))
        m(ev.StepSucceeded(1, step="old", outputs=("x",)))
        m(ev.FlowFinished(1, counts={"succeeded": 1}))
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE attempts DROP COLUMN where_ran")
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with ReadOnlyManifest(db, "nb") as reader:
        (old,) = reader.latest()
        assert [(a.number, a.where) for a in old.status.attempt_log] == [(1, "")]
    with Manifest(db, "nb") as m:
        m(ev.FlowStarted(2))
        m(ev.StepStarted(2, step="new"))
        m(ev.StepSucceeded(2, step="new", outputs=("y",), where="process pid 77"))
        m(ev.FlowFinished(2, counts={"succeeded": 1}))
        m.flush()
        found = {r.status.name: r.status.attempt_log for r in m.latest()}
    assert [a.where for a in found["old"]] == [""] and [a.where for a in found["new"]] == ["process pid 77"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    conn.close()
