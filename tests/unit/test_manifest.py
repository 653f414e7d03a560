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


def feed_run(m: Manifest, run: int, steps: dict[str, float], *, restored: tuple[str, ...] = ()) -> None:
    """Synthetic events of one run: each step succeeds in the given seconds, or is restored."""
    m(ev.FlowStarted(run))
    for step, seconds in steps.items():
        m(ev.StepWaiting(run, step=step))
        if step in restored:
            m(ev.StepRestored(run, step=step, outputs=(step,)))
        else:
            m(ev.StepStarted(run, step=step))
            m(ev.StepSucceeded(run, step=step, duration=seconds, outputs=(step,)))
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
        assert [r.step for r in again.latest()] == ["a"]
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

    steps = {r.step: r for r in manifest.latest()}
    assert {n: (r.state, r.attempts) for n, r in steps.items()} == {
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
    table = format_table([r.status() for r in manifest.latest()])
    assert "flaky" in table and "RuntimeError: boom" in table


def test_a_timed_out_attempt_is_flagged(flow: Flow, manifest: Manifest) -> None:
    """An attempt over --timeout is recorded with timed_out and a TimeoutError line."""
    flow.add("slow", "import time\ntime.sleep(0.6)", timeout=0.1)
    flow.run()
    flow.wait(timeout=10, raise_on_failure=False)
    (record,) = manifest.latest()
    assert record.state is State.FAILED
    (attempt,) = record.attempt_log
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
    assert {r.state for r in records} == {State.SUCCEEDED}
    assert sum(len(r.attempt_log) for r in records) == 1000


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
        latest = {r.step: r for r in first.latest()}
        assert latest["a"].session == second.session and latest["a"].duration == 2.0
        assert latest["b"].session == first.session
        assert first.runs(limit=1) == runs[:1]
        assert [r.step for r in first.run_steps(runs[1].id)] == ["a", "b"]
    finally:
        first.close()
        second.close()


def test_provenance_and_time_saved_of_computed_and_restored_steps(db: Path) -> None:
    """Computed: when, checkpoint, 0 saved. Restored in a new session: load time, original minus load."""
    first = Manifest(db, "nb")
    flow = Flow()
    flow.subscribe(first)
    seen: list[ev.Event] = []
    flow.subscribe(seen.append)
    flow.add("slow", "import time\ntime.sleep(0.2)\nresult = 42")
    flow.run()
    flow.wait(timeout=10)
    flow.close()
    (done,) = [e for e in seen if isinstance(e, ev.StepSucceeded)]
    first.record_checkpoint("slow", "k1", "/store/slow/k1.ckpt", 1234, 0.01, run=done.run)
    computed = first.provenance("slow")
    first.close()
    assert computed is not None
    assert computed.source == "computed" and computed.time_saved == 0.0
    assert computed.key == "k1" and computed.checkpoint == "/store/slow/k1.ckpt" and computed.size == 1234
    assert computed.original_seconds == pytest.approx(done.duration)
    assert computed.when is not None and computed.when >= done.time - 1

    second = Manifest(db, "nb")  # the kernel restarted
    try:
        feed_run(second, 1, {"slow": 0.0}, restored=("slow",))
        second.record_restore("slow", "k1", "/store/slow/k1.ckpt", 0.05, original_seconds=3.0)
        restored = second.provenance("slow")
        assert restored is not None
        assert restored.source == "restored"
        assert restored.checkpoint == "/store/slow/k1.ckpt" and restored.key == "k1"
        assert restored.size == 1234  # from the run that computed it
        assert restored.computed_at == pytest.approx(computed.when)
        assert restored.load_seconds == 0.05 and restored.original_seconds == 3.0
        assert restored.time_saved == pytest.approx(2.95)
        assert "restored" in restored.describe() and "(saved 3.0s)" in restored.describe()
        assert second.total_time_saved() == pytest.approx(2.95)
    finally:
        second.close()
    with Manifest(db, "other") as other:
        assert other.provenance("slow") is None  # another flow's step


def test_time_saved_falls_back_to_the_computed_duration(db: Path) -> None:
    """Without original_seconds, time saved is the duration of the run that computed that key minus the load."""
    m = Manifest(db, "nb")
    try:
        feed_run(m, 1, {"a": 4.0, "b": 1.0})
        m.record_checkpoint("a", "ka", "/s/a/ka", 10, 0.1, run=1)
        m.record_checkpoint("b", "kb", "/s/b/kb", 10, 0.1, run=1)
        feed_run(m, 2, {"a": 0.0, "b": 0.0}, restored=("a", "b"))
        m.record_restore("a", "ka", "/s/a/ka", 0.5, run=2)
        m.record_restore("b", "kb", "/s/b/kb", 1.5, run=2)  # slower than running it: a negative saving
        prov = m.provenance("a")
        assert prov is not None and prov.original_seconds == 4.0 and prov.time_saved == pytest.approx(3.5)
        by_step = {r.step: r for r in m.latest()}
        assert by_step["a"].time_saved == pytest.approx(3.5)
        assert by_step["b"].time_saved == pytest.approx(-0.5)
        assert m.total_time_saved(2) == pytest.approx(3.0)
        assert m.total_time_saved(1) == 0.0  # nothing restored in run 1
        assert m.total_time_saved(run_id=m.runs()[0].id) == pytest.approx(3.0)
        assert m.total_time_saved() == pytest.approx(3.0)
        assert m.total_time_saved(99) == 0.0
    finally:
        m.close()
    # The resolved original time was written, not only computed on read.
    assert query(m.path, "SELECT original_seconds, time_saved FROM steps WHERE step = 'a' AND state = 'restored'") \
        == [(4.0, 3.5)]


def test_referenced_keys_are_the_latest_key_of_each_step(db: Path) -> None:
    """The newest key per step (not older ones), kept when a later run failed, across every flow of the store."""
    m, other = Manifest(db, "nb"), Manifest(db, "other")
    try:
        feed_run(m, 1, {"a": 1.0, "b": 1.0})
        m.record_checkpoint("a", "a1", "/s/a/a1", 1, 0.1, run=1)
        m.record_checkpoint("b", "b1", "/s/b/b1", 1, 0.1, run=1)
        feed_run(m, 2, {"a": 1.0})
        m.record_checkpoint("a", "a2", "/s/a/a2", 1, 0.1)  # no run: the step's newest run (2)
        m(ev.FlowStarted(3))
        m(ev.StepWaiting(3, step="b"))
        m(ev.StepStarted(3, step="b"))
        m(ev.StepFailed(3, step="b", error="ValueError: x"))
        m(ev.FlowFinished(3))
        feed_run(other, 1, {"a": 1.0})
        other.record_checkpoint("a", "o1", "/s/a/o1", 1, 0.1, run=1)
        assert m.referenced_keys() == {("a", "a2"), ("b", "b1")}  # other's record is still in its memory
        other.flush()
        assert m.referenced_keys() == {("a", "a2"), ("b", "b1"), ("a", "o1")}
        assert m.referenced_keys("nb") == {("a", "a2"), ("b", "b1")}
        assert {(r.step, r.run, r.key) for r in m.latest()} == {("a", 2, "a2"), ("b", 3, None)}
    finally:
        m.close()
        other.close()


def test_records_may_arrive_before_their_events_and_for_older_runs(manifest: Manifest) -> None:
    """A checkpoint record that overtakes its run's events is kept; one for an old run merges into that row."""
    manifest.record_checkpoint("a", "k1", "/s/a/k1", 5, 0.1, run=1)
    feed_run(manifest, 1, {"a": 2.0})
    (row,) = manifest.latest()
    assert (row.run, row.state, row.key, row.source, row.duration) == (1, State.SUCCEEDED, "k1", "computed", 2.0)
    feed_run(manifest, 2, {"a": 3.0})
    manifest.flush()
    manifest.record_checkpoint("a", "k-late", "/s/a/late", 7, 0.1, run=1)
    rows = {r.run: r for r in manifest.run_steps(manifest.runs()[1].id)}
    assert rows[1].key == "k-late" and rows[1].size == 7 and rows[1].duration == 2.0
    assert rows[1].state is State.SUCCEEDED
    (newest,) = manifest.latest()
    assert newest.run == 2 and newest.key is None and newest.duration == 3.0


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
    records = {r.step: r for r in manifest.latest()}
    assert all(r.stale and r.state is State.SUCCEEDED for r in records.values())
    assert records["b"].status().state is State.STALE
    assert records["b"].reason == "upstream step 'a' changed"
    flow.run()
    flow.wait(timeout=10)
    assert {(r.step, r.run, r.stale) for r in manifest.latest()} == {("a", 2, False), ("b", 2, False)}
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
    m(ev.StepSucceeded(1, step="a", duration=1.0))
    time.sleep(0.2)
    assert query(db, "SELECT state FROM steps") == [("running",)]  # still buffered
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
