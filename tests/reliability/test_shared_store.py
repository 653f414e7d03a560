"""Two real kernels and two Python processes on one store, at once, over many rounds: no lost or phantom run.

Every participant defines overlapping steps (the same names and code in
some, the same names with different code in others), runs them, forces a
re-run of the middle of the graph (so all of them write the same
checkpoints at the same time), and changes one step's code round by round
so that later rounds restore what earlier rounds (or other participants)
computed; the processes also start fresh sessions on the store, which
restore everything. Then the store's manifest must hold exactly the runs
the participants started, each with its end, and every finished step's
key, in a file SQLite finds intact (docs/guide/reliability.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kernel.conftest import Kernel

REPO = Path(__file__).resolve().parents[2]

#: What each participant reports: its session, the runs it started and ended, and every step it finished.
SUMMARY = textwrap.dedent('''
    def _summary(events, session, logged):
        from nbflow.core import events as ev
        out = {"session": session, "started": [], "ended": [], "finished": {}, "touched": [], "warned": [],
               "failed": [], "unrestorable": [], "restored": 0, "computed": 0, "logged": list(logged)}
        times = [e.time for e in events]
        out["span"] = [min(times), max(times)] if times else []
        for e in events:
            if isinstance(e, ev.FlowStarted):
                out["started"].append(e.run)
            elif isinstance(e, ev.FlowFinished):
                out["ended"].append(e.run)
            if not isinstance(e, ev.StepEvent):
                continue
            if not isinstance(e, (ev.StepDefined, ev.StepRemoved, ev.StepWarning, ev.StepStale)):
                out["touched"].append(f"{e.run}/{e.step}")  # events that make or change the run's own row
            if isinstance(e, (ev.StepSucceeded, ev.StepRestored)):
                out["finished"][f"{e.run}/{e.step}"] = e.key
                out["restored" if isinstance(e, ev.StepRestored) else "computed"] += 1
                if isinstance(e, ev.StepSucceeded) and e.not_restorable:
                    out["unrestorable"].append(f"{e.step}: {e.not_restorable}")
            elif isinstance(e, ev.StepWarning):
                out["warned"].append(f"{e.step}: {e.message}")
            elif isinstance(e, (ev.StepFailed, ev.StepUpstreamFailed, ev.StepCancelled)):
                out["failed"].append(f"{e.step}: {type(e).__name__} {getattr(e, 'error', '')}")
        # Restores made outside any run (a resume) are recorded under the run number of the moment.
        out["runless"] = sorted({int(t.split("/")[0]) for t in out["touched"]} - set(out["started"]))
        return out
''')

#: A plain Python process: sessions of rounds, each session a fresh Store and Flow on the shared folder.
PROCESS = SUMMARY + textwrap.dedent('''
    import json, logging, sys, warnings
    from nbflow import Flow
    from nbflow.core.spec import make_spec
    from nbflow.store.store import open_store

    import os, time
    folder, flow_name, plan_file, sessions, out_file = sys.argv[1:6]
    plan = json.loads(open(plan_file).read())
    deadline = time.monotonic() + 120
    while not all(os.path.exists(os.path.join(folder, f"{k}.ready")) for k in ("k1", "k2")):
        assert time.monotonic() < deadline, "the kernels never got ready"
        time.sleep(0.02)  # start together with the kernels: a condition polled with a deadline
    logged = []

    class Keep(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())

    logging.getLogger("nbflow").addHandler(Keep(logging.WARNING))
    reports = []
    per_session = -(-len(plan) // int(sessions))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for first in range(0, len(plan), per_session):
            store = open_store(folder, flow_name=flow_name)
            flow = Flow(cache=store)
            events = []
            flow.subscribe(store.manifest)
            flow.subscribe(events.append)
            if first:  # as `%flow resume` does: restore the shared steps under the keys the manifest has
                keys = {r.status.name: r.status.key for r in store.manifest.latest() if r.status.key}
                for name, after, code in plan[first][:2]:  # base and mid: the same code everywhere
                    if name in keys:
                        flow.restore(make_spec(name, code, after=after or None), keys[name])
            for steps in plan[first:first + per_session]:
                for name, after, code in steps:
                    flow.add(name, code, after=after or None)
                flow.run()
                flow.wait()
                flow.run("mid", force=True)
                flow.wait()
            session = store.manifest.session
            flow.close()
            store.close()
            reports.append(_summary(events, session, logged + [str(w.message) for w in caught]))
    open(out_file, "w").write(json.dumps(reports))
''')

#: Run first in each kernel: collect its flow's events and nbflow's logged warnings.
KERNEL_SETUP = SUMMARY + textwrap.dedent('''
    import json, logging
    from nbflow.jupyter.extension import kernel_flow
    _kf = kernel_flow()
    _events, _logged = [], []

    class _Keep(logging.Handler):
        def emit(self, record):
            _logged.append(record.getMessage())

    logging.getLogger("nbflow").addHandler(_Keep(logging.WARNING))
    _kf.flow.subscribe(_events.append)
''')


def plan(me: str, index: int, rounds: int) -> list[list[tuple[str, str, str]]]:
    """Each round's steps (name, --after, code): shared names and code, a shared name with two codes, an own one."""
    flip = "a" if index % 2 == 0 else "b"
    return [[
        ("base", "", "x = 1"),
        ("mid", "base", "y = x + 1"),
        ("flip", "base", f"f = {flip!r}"),  # the same name, two different bodies across participants
        ("own", "base", f"o = {me!r}\nprint({me!r})"),  # the same name, a different body in every one
        ("vary", "mid", f"v = y * {r % 3}"),  # cycles: later rounds restore what earlier ones computed
        ("join", "own,vary,flip", "import time\ntime.sleep(0.01)\nj = (o, v, f)"),
    ] for r in range(rounds)]


def drive_kernel(folder: Path, env: dict[str, str], me: str, index: int, rounds: int,
                 results: dict[str, Any]) -> None:
    """In a thread: start a kernel, run the plan's cells round by round, report what it saw."""
    kernel = Kernel(folder, env)
    problems: list[str] = []
    try:
        def run(code: str, cell_id: str | None = None) -> str:
            reply = kernel.execute(code, timeout=120, cell_id=cell_id)
            if reply.status != "ok" or "Traceback" in reply.text or "Warning" in reply.text:
                problems.append(f"{code.splitlines()[0]}: {reply.status} {reply.error} {reply.text}")
            return reply.text

        run("%load_ext nbflow")
        run(KERNEL_SETUP)
        (folder / f"{me}.ready").touch()  # everyone starts its rounds once both kernels are up
        deadline = time.monotonic() + 120
        while not all((folder / f"{k}.ready").exists() for k in ("k1", "k2")):
            assert time.monotonic() < deadline, "the other kernel never got ready"
            time.sleep(0.02)
        for steps in plan(me, index, rounds):
            for name, after, code in steps:
                run(f"%%step {name}" + (f" --after {after}" if after else "") + f"\n{code}", cell_id=name)
            run("%flow wait")
            run("%flow run mid --force")
            run("%flow wait")
        text = run("print(json.dumps([_summary(_events, _kf.store.manifest.session, _logged)]))")
        results[me] = {"reports": json.loads(text.strip().splitlines()[-1]) if text.strip() else [],
                       "problems": problems}
    except BaseException as error:  # reported to the test's thread, which fails with it
        results[me] = {"reports": [], "problems": [*problems, f"{type(error).__name__}: {error}"]}
    finally:
        kernel.close()


#: The processes run this many rounds per kernel round, so that they keep writing while the kernels do.
PROCESS_ROUNDS = 4


def soak(folder: Path, rounds: int, sessions: int) -> dict[str, Any]:
    secret = folder / "secret"
    env = {"NBFLOW_SECRET_PATH": str(secret), "JPY_SESSION_NAME": str(folder / "shared.ipynb"),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    began = time.monotonic()
    processes = {}
    for index, (me, flow_name) in enumerate([("p1", "shared"), ("p2", "other")]):
        plan_file = folder / f"{me}.plan.json"
        plan_file.write_text(json.dumps(plan(me, index, rounds * PROCESS_ROUNDS)))
        processes[me] = (subprocess.Popen(
            [sys.executable, "-c", PROCESS, str(folder), flow_name, str(plan_file), str(sessions),
             str(folder / f"{me}.json")], env={**os.environ, **env}, cwd=folder,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), flow_name)
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=drive_kernel, args=(folder, env, me, index, rounds, results))
               for index, me in ((2, "k1"), (3, "k2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
        assert not thread.is_alive(), "a kernel did not finish its rounds"
    flows = {"k1": "shared", "k2": "shared"}
    for me, (proc, flow_name) in processes.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{me} failed:\n{err}"
        results[me] = {"reports": json.loads((folder / f"{me}.json").read_text()), "problems": []}
        flows[me] = flow_name
    wall = time.monotonic() - began
    return {"results": results, "flows": flows, "wall": wall}


def check(folder: Path, outcome: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Every assertion the promise makes; returns the figures."""
    results, flows = outcome["results"], outcome["flows"]
    for me, result in results.items():
        assert not result["problems"], (me, result["problems"])
        assert result["reports"], f"{me} reported nothing"
        for report in result["reports"]:
            assert not report["failed"], (me, report["failed"])
            assert not report["warned"], (me, report["warned"])  # a refused checkpoint is a StepWarning
            assert not report["unrestorable"], (me, report["unrestorable"])
            assert not report["logged"], (me, report["logged"])
            assert sorted(report["started"]) == sorted(report["ended"]), (me, "a run without its FlowFinished")
    db = folder / ".nbflow" / "manifest.sqlite"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {(f, s, r): (started, finished) for f, s, r, started, finished in
                  conn.execute("SELECT flow, session, run, started, finished FROM runs")}
        expected = {(flows[me], report["session"], run) for me, result in results.items()
                    for report in result["reports"] for run in report["started"] + report["runless"]}
        assert not stored.keys() - expected, f"phantom runs: {sorted(stored.keys() - expected)}"
        assert not expected - stored.keys(), f"runs missing from the manifest: {sorted(expected - stored.keys())}"
        assert all(s is not None and f is not None for s, f in stored.values()), "a run without a start or an end"
        orphans = conn.execute("SELECT COUNT(*) FROM steps WHERE run_id NOT IN (SELECT id FROM runs)").fetchone()[0]
        assert orphans == 0
        steps = 0
        for me, result in results.items():
            for report in result["reports"]:
                rows = {f"{run}/{step}": key for run, step, key in conn.execute(
                    "SELECT r.run, s.step, s.cache_key FROM steps s JOIN runs r ON r.id = s.run_id "
                    "WHERE r.flow = ? AND r.session = ?", (flows[me], report["session"]))}
                assert not rows.keys() - set(report["touched"]), (me, "step rows no event of it made")
                for where, key in report["finished"].items():
                    assert key is not None, (me, where, "finished without a key")
                    assert rows.get(where) == key, (me, where, rows.get(where), key)
                    steps += 1
    finally:
        conn.close()
    reports = [report for result in results.values() for report in result["reports"]]
    restored = sum(r["restored"] for r in reports)
    resumed = sum(len(r["runless"]) for r in reports)
    assert resumed, "the processes' later sessions must restore outside a run, as a resume does"
    computed = sum(r["computed"] for r in reports)
    assert restored and computed, "the soak must both restore and compute"
    spans = {me: (min(r["span"][0] for r in result["reports"]), max(r["span"][1] for r in result["reports"]))
             for me, result in results.items()}
    # Seconds during which a kernel and a process were both running steps (said, not asserted: no timing).
    together = max(0.0, min(spans["k1"][1], spans["k2"][1], max(spans["p1"][1], spans["p2"][1]))
                   - max(spans["k1"][0], spans["k2"][0], min(spans["p1"][0], spans["p2"][0])))
    return {"participants": len(results), "kernel_rounds": rounds, "process_rounds": rounds * PROCESS_ROUNDS,
            "runs": len(stored), "steps": steps, "restored": restored, "computed": computed, "resumes": resumed,
            "overlap_s": round(together, 2), "wall_s": round(outcome["wall"], 1)}


def test_two_kernels_and_two_processes_share_one_store(tmp_path: Path) -> None:
    rounds = 3
    figures = check(tmp_path, soak(tmp_path, rounds=rounds, sessions=2), rounds)
    print("shared store:", " ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.mark.long
def test_two_kernels_and_two_processes_share_one_store_for_many_rounds(tmp_path: Path) -> None:
    rounds = 150
    figures = check(tmp_path, soak(tmp_path, rounds=rounds, sessions=30), rounds)
    print("shared store (long):", " ".join(f"{k}={v}" for k, v in figures.items()))
