"""The SQLite manifest: real database files, real `Flow` runs, two real writer processes."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbflow.core import events as ev
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.core.status import format_table
from nbflow.store.manifest import DEFAULT_NAME, SCHEMA_VERSION, Manifest, ManifestError
from nbflow.store.store import Store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / DEFAULT_NAME


@pytest.fixture
def manifest(db: Path) -> Iterator[Manifest]:
    m = Manifest(db, "nb")
    yield m
    m.close()


@pytest.fixture
def flow(manifest: Manifest) -> Iterator[Flow]:
    f = Flow(max_workers=4)
    f.subscribe(manifest)
    yield f
    f.close()


def query(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Read the file with a separate connection, as another process would."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def feed_run(m: Manifest, run: int, steps: dict[str, float], *, restored: tuple[str, ...] = (),
             keys: dict[str, str] | None = None) -> None:
    """Synthetic events of one run: each step succeeds in the given seconds (with a key), or is restored."""
    keys = keys or {}
    m(ev.FlowStarted(run))
    for step, seconds in steps.items():
        m(ev.StepWaiting(run, step=step))
        if step in restored:
            m(ev.StepRestored(run, step=step, outputs=(step,), key=keys.get(step)))
        else:
            m(ev.StepStarted(run, step=step))
            m(ev.StepSucceeded(run, step=step, duration=seconds, outputs=(step,), key=keys.get(step)))
    m(ev.FlowFinished(run, counts={"succeeded": len(steps)}))


def test_schema_is_created_in_wal_mode_private_and_reopens_idempotently(db: Path) -> None:
    """A new file gets WAL, synchronous=NORMAL, a schema version, mode 0600; reopening keeps the data."""
    m = Manifest(db, "nb")
    feed_run(m, 1, {"a": 0.5})
    conn_mode = m._transaction(lambda c: c.execute("PRAGMA synchronous").fetchone()[0], write=False)
    m.close()
    assert query(db, "PRAGMA journal_mode") == [("wal",)]
    assert conn_mode == 1  # NORMAL
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    again = Manifest(db.parent, "nb")  # a folder means <folder>/manifest.sqlite
    try:
        assert again.path == db
        assert [r.status.name for r in again.latest()] == ["a"]
        assert again.session != m.session
    finally:
        again.close()
    assert query(db, "SELECT COUNT(*) FROM meta") == [(1,)]


def test_a_newer_schema_version_is_refused(db: Path) -> None:
    """A file written by a newer nbflow is not used: ManifestError naming both versions."""
    Manifest(db).close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(ManifestError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Manifest(db)


def test_states_and_attempts_of_a_real_flow(flow: Flow, manifest: Manifest, db: Path) -> None:
    """Retried, failed, skipped and blocked steps: states, attempts, errors and the run's counts."""
    flow.namespace["calls"] = []
    flow.add("load", "rows = [1, 2, 3]")
    flow.add("flaky", "calls.append(1)\nif len(calls) < 3:\n    raise ValueError('flaky\\nmore')\nn = len(rows)",
             after="load", retries=3)
    flow.add("bad", "raise RuntimeError('boom')", after="load")
    flow.add("plot", "drawn = True", condition="False")
    flow.add("report", "done = True", after="bad")
    flow.run()
    flow.wait(timeout=10, raise_on_failure=False)

    steps = {r.status.name: r.status for r in manifest.latest()}
    assert {n: (s.state, s.attempts) for n, s in steps.items()} == {
        "load": (State.SUCCEEDED, 1),
        "flaky": (State.SUCCEEDED, 3),
        "bad": (State.FAILED, 1),
        "plot": (State.SKIPPED, 0),
        "report": (State.UPSTREAM_FAILED, 0),
    }
    flaky = steps["flaky"]
    assert [(a.number, a.error) for a in flaky.attempt_log] == [
        (1, "ValueError: flaky"), (2, "ValueError: flaky"), (3, None)]
    assert all(a.started is not None and a.ended is not None and a.ended >= a.started for a in flaky.attempt_log)
    assert flaky.error is None and flaky.outputs == ("n",) and flaky.source == "computed"
    assert flaky.duration is not None and flaky.duration >= 0
    bad = steps["bad"]
    assert bad.error == "RuntimeError: boom"
    assert bad.traceback is not None and "RuntimeError" in bad.traceback
    assert steps["plot"].reason is not None and "False" in steps["plot"].reason
    assert steps["plot"].started is None and steps["plot"].ended is not None
    assert steps["report"].reason == "upstream step 'bad' failed"
    (run,) = manifest.runs()
    assert run.finished is not None and run.started is not None and run.finished >= run.started
    assert dict(run.counts) == {"succeeded": 2, "failed": 1, "skipped": 1, "upstream-failed": 1}
    # Already on disk when wait() returned: another process sees it without a flush.
    assert query(db, "SELECT COUNT(*) FROM attempts") == [(5,)]
    table = format_table([r.status for r in manifest.latest()])
    assert "flaky" in table and "RuntimeError: boom" in table


def test_a_timed_out_attempt_is_flagged(flow: Flow, manifest: Manifest) -> None:
    """An attempt over --timeout is recorded with timed_out and a TimeoutError line."""
    flow.add("slow", "import time\ntime.sleep(0.6)", timeout=0.1)
    flow.run()
    flow.wait(timeout=10, raise_on_failure=False)
    (record,) = manifest.latest()
    assert record.status.state is State.FAILED
    (attempt,) = record.status.attempt_log
    assert attempt.timed_out and attempt.error is not None and "TimeoutError" in attempt.error


def test_a_thousand_step_flow_is_written_in_a_few_transactions(flow: Flow, manifest: Manifest) -> None:
    """5,000 events of a 1,000-step flow cost a handful of commits (counted by SQLite's trace), not thousands."""
    assert manifest._conn is not None
    traced: list[str] = []
    manifest._conn.set_trace_callback(lambda sql: traced.append(sql) if sql.strip().upper() == "COMMIT" else None)
    events: list[ev.Event] = []
    flow.subscribe(events.append)
    for i in range(1000):
        flow.add(f"s{i}", f"v{i} = {i}")
    before = manifest.commits
    flow.run()
    flow.wait(timeout=60)
    commits = manifest.commits - before
    assert len(events) >= 4000
    assert len(traced) == commits
    assert 1 <= commits <= 20, commits
    records = manifest.latest()
    assert len(records) == 1000
    assert {r.status.state for r in records} == {State.SUCCEEDED}
    assert sum(len(r.status.attempt_log) for r in records) == 1000


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from nbflow.core.flow import Flow
    from nbflow.store.manifest import Manifest

    db, ready, go = sys.argv[1:4]
    manifest = Manifest(db, "shared")
    flow = Flow(max_workers=2)
    flow.subscribe(manifest)
    flow.add("a", "x = 1")
    flow.add("b", "y = x + 1", after="a")
    Path(ready).touch()
    deadline = time.monotonic() + 30
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.001)
    started = time.time()
    for _ in range(200):
        flow.run(force=True)
        flow.wait(timeout=30)
    ended = time.time()
    flow.close()
    manifest.close()
    print(manifest.session, manifest.commits, started, ended)
    """
)


def test_two_processes_write_400_runs_to_one_file_concurrently(tmp_path: Path, db: Path) -> None:
    """Two writer processes, 200 real runs each at the same time: 400 runs, 800 step rows, integrity ok."""
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = []
    for i in range(2):
        ready = tmp_path / f"ready{i}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, str(script), str(db), str(ready), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )))
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    sessions, spans = [], []
    for _, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        session, commits, started, ended = out.split()
        sessions.append(session)
        spans.append((float(started), float(ended)))
        assert int(commits) > 100  # one flush per finished run, each its own transaction
    assert max(s for s, _ in spans) < min(e for _, e in spans), spans  # the writers really overlapped
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT COUNT(*), COUNT(DISTINCT session) FROM runs WHERE flow = 'shared'") == [(400, 2)]
    for session in sessions:
        rows = query(db, "SELECT MIN(run), MAX(run), COUNT(*), COUNT(finished) FROM runs WHERE session = ?", session)
        assert rows == [(1, 200, 200, 200)]
    assert query(db, "SELECT state, COUNT(*) FROM steps GROUP BY state") == [("succeeded", 800)]
    assert query(db, "SELECT COUNT(*) FROM attempts") == [(800,)]


def test_sessions_keep_equal_run_numbers_apart(db: Path) -> None:
    """Run 1 of two kernels over one store is two runs, and `latest` takes each step's newest row."""
    first, second = Manifest(db, "nb"), Manifest(db, "nb")
    try:
        feed_run(first, 1, {"a": 1.0, "b": 1.0})
        time.sleep(0.01)
        feed_run(second, 1, {"a": 2.0})
        runs = first.runs()
        assert [(r.session, r.run) for r in runs] == [(second.session, 1), (first.session, 1)]
        latest = {r.status.name: r for r in first.latest()}
        assert latest["a"].session == second.session and latest["a"].status.duration == 2.0
        assert latest["b"].session == first.session
        assert first.runs(limit=1) == runs[:1]
        assert [r.status.name for r in first.run_steps(runs[1].id)] == ["a", "b"]
    finally:
        first.close()
        second.close()


def test_provenance_and_time_saved_of_computed_and_restored_steps(tmp_path: Path, db: Path) -> None:
    """Computed (a real Flow over a real Store): key, checkpoint, size and write time from the event.
    Restored in a new session: the load, the original run time and the time saved, from the event."""
    store = Store(tmp_path / "ckpt", flow_name="nb", local_root=db.parent)
    flow = Flow(cache=store)
    flow.subscribe(store.manifest)
    seen: list[ev.Event] = []
    flow.subscribe(seen.append)
    flow.add("slow", "import time\ntime.sleep(0.2)\nresult = 42")
    flow.run()
    flow.wait(timeout=10)
    flow.close()
    (done,) = [e for e in seen if isinstance(e, ev.StepSucceeded)]
    assert done.key and done.checkpoint and done.size and done.write_seconds is not None and done.parts
    record = store.manifest.provenance("slow")
    assert record is not None
    computed = record.status
    assert computed.source == "computed" and computed.time_saved is None
    assert computed.key == done.key and computed.checkpoint == done.checkpoint and computed.size == done.size
    assert computed.write_seconds == done.write_seconds
    assert computed.duration == pytest.approx(done.duration)
    assert computed.ended is not None and computed.ended >= done.time - 1
    assert [p[0] for p in record.key_parts] == [p.kind for p in done.parts]
    assert "computed" in computed.describe_source() and done.checkpoint in computed.describe_source()
    store.close()

    second = Manifest(db, "nb")  # the kernel restarted
    try:
        feed_run(second, 1, {"slow": 0.0}, restored=("slow",))
        second(ev.FlowStarted(2))
        second(ev.StepWaiting(2, step="slow"))
        second(ev.StepRestored(2, step="slow", outputs=("result",), key=done.key, checkpoint=done.checkpoint,
                               size=done.size, load_seconds=0.05, original_seconds=3.0, time_saved=2.95,
                               computed_at=computed.ended))
        second(ev.FlowFinished(2))
        found = second.provenance("slow")
        assert found is not None
        restored = found.status
        assert restored.source == "restored" and found.run == 2
        assert restored.checkpoint == done.checkpoint and restored.key == done.key
        assert restored.size == done.size
        assert restored.computed_at == pytest.approx(computed.ended)
        assert restored.load_seconds == 0.05 and restored.original_seconds == 3.0
        assert restored.time_saved == pytest.approx(2.95)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(computed.ended))
        assert restored.describe_source() == f"restored: computed {when} in 3.0s, saved 3.0s"
        assert second.total_time_saved() == pytest.approx(2.95)
    finally:
        second.close()
    with Manifest(db, "other") as other:
        assert other.provenance("slow") is None  # another flow's step


def test_time_saved_is_the_original_run_time_minus_the_load(db: Path) -> None:
    """Without time_saved in the event, it is original minus load: never negative (0 when loading was slower)."""
    m = Manifest(db, "nb")
    try:
        feed_run(m, 1, {"a": 4.0, "b": 1.0})
        m(ev.FlowStarted(2))
        for step, load, original in (("a", 0.5, 4.0), ("b", 1.5, 1.0)):
            m(ev.StepWaiting(2, step=step))
            m(ev.StepRestored(2, step=step, key=f"k{step}", load_seconds=load, original_seconds=original))
        m(ev.FlowFinished(2))
        prov = m.provenance("a")
        assert prov is not None and prov.status.original_seconds == 4.0
        assert prov.status.time_saved == pytest.approx(3.5)
        by_step = {r.status.name: r.status for r in m.latest()}
        assert by_step["a"].time_saved == pytest.approx(3.5)
        assert by_step["b"].time_saved == 0.0
        assert m.total_time_saved(2) == pytest.approx(3.5)
        assert m.total_time_saved(1) == 0.0  # nothing restored in run 1
        assert m.total_time_saved(run_id=m.runs()[0].id) == pytest.approx(3.5)
        assert m.total_time_saved() == pytest.approx(3.5)
        assert m.total_time_saved(99) == 0.0
    finally:
        m.close()
    assert query(m.path, "SELECT original_seconds, time_saved FROM steps WHERE step = 'a' AND state = 'restored'") \
        == [(4.0, 3.5)]


def test_referenced_keys_are_the_latest_key_of_each_step(db: Path) -> None:
    """The newest key per step (not older ones), kept when a later run failed, across every flow of the store."""
    m, other = Manifest(db, "nb"), Manifest(db, "other")
    try:
        feed_run(m, 1, {"a": 1.0, "b": 1.0}, keys={"a": "a1", "b": "b1"})
        feed_run(m, 2, {"a": 1.0}, keys={"a": "a2"})
        m(ev.FlowStarted(3))
        m(ev.StepWaiting(3, step="b"))
        m(ev.StepStarted(3, step="b"))
        m(ev.StepFailed(3, step="b", error="ValueError: x"))
        m(ev.FlowFinished(3))
        other.flush_interval = None
        other(ev.FlowStarted(1))
        other(ev.StepWaiting(1, step="a"))
        other(ev.StepSucceeded(1, step="a", key="o1"))  # no FlowFinished: still in other's memory
        assert m.referenced_keys() == {("a", "a2"), ("b", "b1")}
        other.flush()
        assert m.referenced_keys() == {("a", "a2"), ("b", "b1"), ("a", "o1")}
        assert m.referenced_keys("nb") == {("a", "a2"), ("b", "b1")}
        assert {(r.status.name, r.run, r.status.key) for r in m.latest()} == {("a", 2, "a2"), ("b", 3, None)}
    finally:
        m.close()
        other.close()


def test_the_store_writes_no_manifest_rows_of_its_own(tmp_path: Path) -> None:
    """Saving and restoring checkpoints leaves the manifest alone: its only way in is the event stream."""
    store = Store(tmp_path / "s", flow_name="nb")
    try:
        with Flow(cache=store) as flow:  # not subscribed
            flow.add("a", "x = 1")
            flow.run()
            flow.wait(timeout=10)
            assert flow.status()["a"].checkpoint is not None
        with Flow(cache=store) as again:
            again.add("a", "x = 1")
            again.run()
            again.wait(timeout=10)
            assert again.status()["a"].state is State.RESTORED
        store.manifest.flush()
        assert store.manifest.latest() == [] and store.manifest.runs() == []
        assert query(store.manifest.path, "SELECT COUNT(*) FROM steps") == [(0,)]
    finally:
        store.close()


def test_an_event_of_an_older_run_does_not_rewrite_the_newer_row(manifest: Manifest) -> None:
    """Runs do not overlap, so a late event of run 1 after run 2 began is dropped, not merged into run 2."""
    feed_run(manifest, 1, {"a": 2.0})
    feed_run(manifest, 2, {"a": 3.0})
    manifest(ev.StepFailed(1, step="a", error="late"))
    manifest.flush()
    (newest,) = manifest.latest()
    assert newest.run == 2 and newest.status.state is State.SUCCEEDED and newest.status.duration == 3.0
    old = {r.run: r.status for r in manifest.run_steps(manifest.runs()[1].id)}
    assert old[1].state is State.SUCCEEDED and old[1].duration == 2.0


def test_a_version_1_file_is_migrated(db: Path) -> None:
    """A manifest written before key parts were recorded gains the column and keeps its rows."""
    Manifest(db, "nb").close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE steps DROP COLUMN key_parts")
    conn.execute("ALTER TABLE steps DROP COLUMN computed_at")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with Manifest(db, "nb") as m:
        feed_run(m, 1, {"a": 1.0}, keys={"a": "k"})
        assert [r.status.key for r in m.latest()] == ["k"]
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]


def test_stale_steps_are_flagged_and_a_new_run_clears_it(flow: Flow, manifest: Manifest) -> None:
    """Redefining a step marks it and its dependents stale (state kept); running again records run 2."""
    flow.add("a", "x = 1")
    flow.add("b", "y = x + 1", after="a")
    flow.run()
    flow.wait(timeout=10)
    flow.add("a", "x = 2")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(r.stale for r in manifest.latest()):
        time.sleep(0.01)
    records = {r.status.name: r for r in manifest.latest()}
    assert all(r.stale and r.status.state is State.STALE for r in records.values())
    # The stored state is kept; the flag is a live condition on it.
    assert query(manifest.path, "SELECT step, state, stale FROM steps ORDER BY step") == [
        ("a", "succeeded", 1), ("b", "succeeded", 1)]
    assert records["b"].status.reason == "upstream step 'a' changed"
    flow.run()
    flow.wait(timeout=10)
    assert {(r.status.name, r.run, r.stale) for r in manifest.latest()} == {("a", 2, False), ("b", 2, False)}
    assert flow.namespace["y"] == 3


def test_specs_round_trip_and_rebuild_a_runnable_flow(db: Path) -> None:
    """Saved %%step headers and bodies come back in cell order in a new session and build the same flow."""
    m = Manifest(db, "nb")
    m.save_spec("report", "report --after stats", "out = total * 2", "cell-3", 3)
    m.save_spec("load", "load", "rows = [1, 2, 3]", "cell-1", 1)
    m.save_spec("stats", "stats --after load --retries 2", "total = 0", "cell-2", 2)
    m.save_spec("stats", "stats --after load --retries 2", "total = sum(rows)", "cell-2", 2)  # the cell re-ran
    m.save_spec("gone", "gone", "pass", "cell-4", 4)
    assert m.remove_spec("gone") and not m.remove_spec("gone")
    with Manifest(db, "other") as other:
        other.save_spec("load", "load --no-cache", None, None, 0)
    m.close()

    fresh = Manifest(db, "nb")
    try:
        specs = fresh.load_specs()
        assert [(s.name, s.header, s.code, s.cell, s.order) for s in specs] == [
            ("load", "load", "rows = [1, 2, 3]", "cell-1", 1),
            ("stats", "stats --after load --retries 2", "total = sum(rows)", "cell-2", 2),
            ("report", "report --after stats", "out = total * 2", "cell-3", 3),
        ]
        assert [(s.name, s.code) for s in fresh.load_specs("other")] == [("load", None)]
        with Flow() as flow:
            for record in specs:
                flow.add(record.spec())
            assert flow.steps["stats"].retries == 2 and flow.steps["stats"].cell == "cell-2"
            flow.run()
            flow.wait(timeout=10)
            assert flow.namespace["out"] == 12
    finally:
        fresh.close()


def test_the_background_writer_and_close_write_pending_rows(db: Path) -> None:
    """Without FlowFinished, rows reach the file within the flush interval, and the rest on close()."""
    m = Manifest(db, "nb", flush_interval=0.05)
    m(ev.FlowStarted(1))
    m(ev.StepWaiting(1, step="a"))
    m(ev.StepStarted(1, step="a"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not query(db, "SELECT state FROM steps"):
        time.sleep(0.01)
    assert query(db, "SELECT state FROM steps") == [("running",)]
    m.flush_interval = None
    commits = m.commits
    m(ev.StepSucceeded(1, step="a", duration=1.0))
    # Without an interval nothing but a flush writes: the row waits in memory.
    assert m._recorder.dirty() and m.commits == commits
    assert query(db, "SELECT state FROM steps") == [("running",)]
    m.close()
    assert query(db, "SELECT state, attempts FROM steps") == [("succeeded", 1)]
    m(ev.StepStarted(1, step="a"))  # after close: ignored, never raises
    with pytest.raises(ManifestError, match="closed"):
        m.latest()


def test_a_locked_file_keeps_rows_pending_until_they_can_be_written(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While another connection holds the write lock, nothing is lost: one warning, then written once free."""
    m = Manifest(db, "nb", busy_timeout=0.05, retries=1, flush_interval=None)
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.WARNING, logger="nbflow"):
            feed_run(m, 1, {"a": 1.0})
        assert any("could not write the manifest" in r.getMessage() for r in caplog.records)
        with pytest.raises(ManifestError, match="locked"):
            m.flush()
        blocker.execute("ROLLBACK")
        m.flush()
        assert query(db, "SELECT step, state FROM steps") == [("a", "succeeded")]
        assert query(db, "SELECT finished IS NOT NULL FROM runs") == [(1,)]
    finally:
        blocker.close()
        m.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_records_under_its_own_session(db: Path) -> None:
    """After a fork, the child opens its own connection and session; the parent's pending rows stay the parent's."""
    m = Manifest(db, "nb", flush_interval=None)
    m(ev.FlowStarted(1))
    m(ev.StepWaiting(1, step="parent"))  # not yet written when the process forks
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            feed_run(m, 1, {"child": 1.0})
            m.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    m(ev.FlowFinished(1))
    try:
        rows = query(db, "SELECT s.step, r.session FROM steps s JOIN runs r ON r.id = s.run_id ORDER BY s.step")
        assert [step for step, _ in rows] == ["child", "parent"]
        assert rows[1][1] == m.session and rows[0][1] != m.session
    finally:
        m.close()
