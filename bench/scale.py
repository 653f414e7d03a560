"""Large flows: define, run and widget-update time and peak RSS, from 1,000 to 50,000 no-op steps.

    .venv/bin/python bench/scale.py            # default, under 2 minutes
    .venv/bin/python bench/scale.py --quick    # 1,000 and 10,000 steps only
    .venv/bin/python bench/scale.py --full     # also 50,000 steps with a store (several minutes)

Each case runs in a fresh Python process (so peak RSS is its own): a `Flow`
of N code steps whose body is `pass`, shaped as

* chain: step i depends on step i-1;
* dag: a seeded random DAG, each step after the first depending on 1-3 of
  the 50 steps defined just before it;

without a store, or with a real store in a temporary folder (checkpoints
written and fsynced, and the manifest subscribed, as in a kernel). It times

* define: `flow.add(...)` for every step, the median of three fresh flows
  (after a warm-up flow of 200 steps);
* run: `flow.run(); flow.wait()`, then checks every step succeeded once;
* widget: one forced update of `FlowWidget(flow)` (rows built and sent over
  ipywidgets' dummy comm, as bench/widget.py measures), median of 3;

and reports the process's peak RSS. As a reference for the run with a
store, the same process does directly what a new step's first checkpoint
costs the disk, N times: make a folder and fsync its parent, then write a
small file, fsync it, rename it into place and fsync the folder ("raw
disk"). With a store, a no-op step's run is bound by those three fsyncs.

The last lines are the headline figures for the 10,000-step chain with a
store: `define_10k_s`, `run_10k_s`, `define_growth` (define time for 10,000
÷ 10 × define time for 1,000: 1.0 is linear) and `rss_mb_10k`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import gc, json, os, random, resource, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.store.store import open_store

shape, n, with_store = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "store"
rng = random.Random(7)
deps = []
for i in range(n):
    if i == 0:
        deps.append(None)
    elif shape == "chain":
        deps.append([f"s{i - 1}"])
    else:
        pool = range(max(0, i - 50), i)
        deps.append([f"s{j}" for j in rng.sample(pool, min(len(pool), rng.randint(1, 3)))])


def build(count, tag):
    folder = tempfile.mkdtemp(prefix="nbflow-scale-")
    store = open_store(folder, flow_name="scale") if with_store else None
    flow = Flow(cache=store)
    if store is not None:
        flow.subscribe(store.manifest)
    started = time.perf_counter()
    for i in range(count):
        flow.add(f"s{i}", f"pass  # {tag} {i}", after=deps[i])  # new code each flow: no analysis cached
    return flow, store, folder, time.perf_counter() - started


warm, warm_store, _, _ = build(min(n, 200), "warm-up")  # first calls (imports, caches) are not what is measured
warm.close()
defines = []
for attempt in range(3):  # the median of three fresh flows; the last one is run
    if attempt:
        flow.close()
        if store is not None:
            store.close()
        del flow, store
        gc.collect()
    flow, store, folder, seconds = build(n, f"flow {attempt}")
    defines.append(seconds)
define_s = statistics.median(defines)
started = time.perf_counter()
flow.run()
flow.wait(timeout=1800)
run_s = time.perf_counter() - started
statuses = flow.status()
bad = [name for name, s in statuses.items() if s.state is not State.SUCCEEDED or s.attempts != 1]
assert len(statuses) == n and not bad, f"{len(bad)} steps did not succeed exactly once: {bad[:5]}"
from nbflow.widget import FlowWidget
widget = FlowWidget(flow)
times = []
for _ in range(3):
    t = time.perf_counter()
    widget._push(force=True)
    times.append(time.perf_counter() - t)
widget_ms = statistics.median(times) * 1000
widget.close()
raw_s = None
if with_store:
    # The reference: what a checkpoint's durability costs on this disk, done directly: a new folder per
    # file (made, its parent fsynced), then write, fsync, rename and fsync the folder.
    raw = Path(folder) / "raw"
    raw.mkdir()
    started = time.perf_counter()
    for i in range(n):
        sub = raw / f"d{i}"
        sub.mkdir()
        pfd = os.open(raw, os.O_RDONLY)
        os.fsync(pfd)
        os.close(pfd)
        tmp, final = sub / ".f.tmp", sub / "f"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"x" * 200)
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, final)
        dfd = os.open(sub, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    raw_s = time.perf_counter() - started
flow.close()
if store is not None:
    store.close()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"define_s": define_s, "run_s": run_s, "widget_ms": widget_ms, "rss_mb": rss, "raw_s": raw_s}))
"""


def measure(shape: str, n: int, store: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, NBFLOW_SECRET_PATH=str(Path(home) / "secret"))
        done = subprocess.run([sys.executable, "-c", CHILD, str(REPO), shape, str(n), "store" if store else "none"],
                              capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{shape} {n} {'store' if store else 'no store'} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 steps only")
    parser.add_argument("--full", action="store_true", help="also 50,000 steps with a store")
    args = parser.parse_args()
    cases = [(shape, n, store) for n in (1_000, 10_000) for shape in ("chain", "dag") for store in (False, True)]
    if not args.quick:
        cases += [("chain", 50_000, False), ("dag", 50_000, False)]
        if args.full:
            cases += [("chain", 50_000, True), ("dag", 50_000, True)]
    print(f"{'steps':>7} {'shape':<6} {'store':<6} {'define s':>9} {'run s':>8} {'raw disk s':>10} "
          f"{'widget ms':>10} {'peak RSS MB':>12}")
    results: dict[tuple[str, int, bool], dict[str, float]] = {}
    for shape, n, store in cases:
        r = results[shape, n, store] = measure(shape, n, store)
        raw = "" if r["raw_s"] is None else f"{r['raw_s']:.2f}"
        print(f"{n:>7,} {shape:<6} {'yes' if store else 'no':<6} {r['define_s']:>9.2f} {r['run_s']:>8.2f} "
              f"{raw:>10} {r['widget_ms']:>10.1f} {r['rss_mb']:>12.0f}", flush=True)
    head, small = results["chain", 10_000, True], results["chain", 1_000, True]
    print(f"define_10k_nostore_s: {results['chain', 10_000, False]['define_s']:.2f}")
    print(f"run_10k_nostore_s: {results['chain', 10_000, False]['run_s']:.2f}")
    print(f"raw_disk_10k_s: {head['raw_s']:.2f}")
    print(f"define_10k_s: {head['define_s']:.2f}")
    print(f"run_10k_s: {head['run_s']:.2f}")
    print(f"define_growth: {head['define_s'] / (10 * small['define_s']):.2f}")
    print(f"rss_mb_10k: {head['rss_mb']:.0f}")


if __name__ == "__main__":
    main()
