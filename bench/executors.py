"""Executors: per-step overhead of thread, process and dask beside raw `client.submit`, and the speed-up of
CPU-bound pure-Python steps with process and dask over thread.

    .venv/bin/python bench/executors.py            # full run, under 2 minutes
    .venv/bin/python bench/executors.py --quick    # fewer repetitions

One `LocalCluster(n_workers=C, threads_per_worker=1, processes=True)` (C = the
machine's CPUs, as the LocalCluster nbflow starts would be sized) and one
`ProcessExecutor(C)` are started outside the timings and warmed up.

Overhead: 200 independent no-op code steps (`pass`), no checkpoint store, timed
from `flow.run(force=True)` to the end of `flow.wait()`, median over the
repetitions, divided by 200, for `--executor thread`, `process` and `dask`
(by default at most C Dask steps run at once: the cluster's threads, so that a
step's `--timeout` counts while it runs, not while it queues), and for dask
again with `DaskExecutor(max_workers=200)` (every step in flight). Beside them,
on the same cluster: 200 `client.submit(noop, pure=False)` then
`client.gather` (every task in flight at once: what Dask itself costs per
task), and the same with at most C tasks in flight (`as_completed`).

Speed-up: 8 independent steps, each a pure-Python loop (`sum(k * k for k in
range(N))`, about 0.5 s on one core) that holds the GIL; thread time divided by
process time and by dask time (median of the repetitions). The ideal on C
cores is C.

Checkpoints of a large output: one Dask step binding a 256 MiB numpy array,
checkpointed into a store in a temporary folder, by the kernel
(`dask_store=local`) or by the worker (`dask_store=shared`, the worker on this
machine reaches the folder): wall time of a forced run and the kernel process's
CPU time over it (every thread of the kernel: unpickling what came back, and
for `local` pickling, hashing and writing the checkpoint).

Before them, `dask_overhead_vs_bounded_submit` and `dask_all_overhead_vs_submit`
compare nbflow and raw submits at the same concurrency. Last lines:
`process_speedup: R`, `dask_speedup: R` (target >= 1.7 on 2 cores) and
`dask_overhead_vs_submit: R` (nbflow's default per-step time on dask divided by
raw `client.submit` with all tasks in flight; target <= 1.5).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distributed import Client, LocalCluster, as_completed

from nbflow.core.flow import Flow
from nbflow.core.states import State
from nbflow.executors.dask import DaskExecutor
from nbflow.executors.process import ProcessExecutor
from nbflow.store.store import Store

STEPS = 200
CPU_STEPS = 8
LOOP = 5_000_000  # about 0.5 s of pure Python on one core here
BIG = 32 << 20  # float64 elements: a 256 MiB output


def noop() -> None:
    return None


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _flow_run(flow: Flow, expect: int) -> None:
    flow.run(force=True)
    flow.wait(timeout=600)


def _check(flow: Flow, expect: int) -> None:
    states = [s.state for s in flow.status().values()]
    assert len(states) == expect and all(s is State.SUCCEEDED for s in states), flow.table()


def _raw_all(client: Client) -> None:
    client.gather([client.submit(noop, pure=False) for _ in range(STEPS)])


def _raw_bounded(client: Client, in_flight: int) -> None:
    futures = as_completed([client.submit(noop, pure=False) for _ in range(in_flight)], loop=client.loop)
    submitted = in_flight
    for _ in futures:
        if submitted < STEPS:
            futures.add(client.submit(noop, pure=False))
            submitted += 1


def _checkpoint_modes(client: Client, reps: int) -> dict[str, tuple[float, float]]:
    """(wall seconds, kernel CPU seconds) of one forced run of a step binding a BIG array, per dask_store mode."""
    found: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="nbflow-bench-") as folder:
        for mode in ("local", "shared"):
            store = Store(Path(folder) / mode, flow_name="bench")
            flow = Flow({"size": BIG}, cache=store, executors=[DaskExecutor(client=client, store=mode)])
            flow.add("big", "import numpy\narr = numpy.random.default_rng(0).random(size)", executor="dask")
            _flow_run(flow, 1)  # warm-up: numpy imported on the worker, the store's folders made
            walls, cpus = [], []
            for _ in range(reps):
                cpu = time.process_time()
                walls.append(_timed(lambda f=flow: _flow_run(f, 1)))  # type: ignore[misc]
                cpus.append(time.process_time() - cpu)
                _check(flow, 1)
                assert flow.namespace["arr"].nbytes == BIG * 8 and flow.status("big")["big"].checkpoint
            found[mode] = (statistics.median(walls), statistics.median(cpus))
            flow.close(timeout=1)
            store.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps, cpu_reps = (3, 1) if args.quick else (7, 3)
    cpus = os.cpu_count() or 1
    warnings.simplefilter("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)

    cluster = LocalCluster(n_workers=cpus, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    process, dask = ProcessExecutor(cpus), DaskExecutor(client=client)
    flows: dict[str, Flow] = {}
    for name in ("thread", "process", "dask", "dask_all"):
        executor = "dask" if name == "dask_all" else name
        # dask_all: every step in flight at once, as the raw client.submit run has them
        pool = [DaskExecutor(client=client, max_workers=STEPS)] if name == "dask_all" else [process, dask]
        flow = flows[name] = Flow(executors=pool)
        for i in range(STEPS):
            flow.add(f"s{i}", "pass", executor=executor)
        _flow_run(flow, STEPS)  # warm-up: the pool and the cluster's first tasks
        _check(flow, STEPS)
    _raw_all(client)

    per_step: dict[str, list[float]] = {k: [] for k in ("thread", "process", "dask", "dask_all", "submit",
                                                        "submit_bounded")}
    for _ in range(reps):  # interleaved: the machine is shared and noisy
        for name, flow in flows.items():
            per_step[name].append(_timed(lambda f=flow: _flow_run(f, STEPS)) / STEPS)  # type: ignore[misc]
            _check(flow, STEPS)
        per_step["submit"].append(_timed(lambda: _raw_all(client)) / STEPS)
        per_step["submit_bounded"].append(_timed(lambda: _raw_bounded(client, dask.capacity)) / STEPS)
    overhead = {k: statistics.median(v) for k, v in per_step.items()}
    for flow in flows.values():
        flow.close(timeout=1)

    cpu_flows: dict[str, Flow] = {}
    for name in ("thread", "process", "dask"):
        flow = cpu_flows[name] = Flow({"N": LOOP}, max_workers=cpus,
                                      executors=[ProcessExecutor(cpus), DaskExecutor(client=client)])
        for i in range(CPU_STEPS):
            flow.add(f"c{i}", f"r{i} = sum(k * k for k in range(N))", executor=name)
    cpu: dict[str, list[float]] = {k: [] for k in cpu_flows}
    for flow in cpu_flows.values():
        flow.namespace["N"] = 1000
        _flow_run(flow, CPU_STEPS)  # warm-up with a short loop
        flow.namespace["N"] = LOOP
    for _ in range(cpu_reps):
        for name, flow in cpu_flows.items():
            cpu[name].append(_timed(lambda f=flow: _flow_run(f, CPU_STEPS)))  # type: ignore[misc]
            _check(flow, CPU_STEPS)
            assert flow.namespace["r7"] == sum(k * k for k in range(1000)) or flow.namespace["r7"] > 0
    seconds = {k: statistics.median(v) for k, v in cpu.items()}
    for flow in cpu_flows.values():
        flow.close(timeout=1)
    stores = _checkpoint_modes(client, cpu_reps)
    client.close()
    cluster.close()

    print(f"{cpus} CPUs; LocalCluster {cpus} workers x 1 thread (processes); {reps} repetitions, medians")
    print(f"per-step overhead, {STEPS} independent no-op steps:")
    for name in ("thread", "process", "dask"):
        print(f"  nbflow --executor {name:<8} {overhead[name] * 1e3:8.3f} ms")
    print(f"  client.submit, {dask.capacity} in flight    {overhead['submit_bounded'] * 1e3:8.3f} ms")
    print(f"  nbflow --executor dask, DaskExecutor(max_workers={STEPS}): all in flight "
          f"{overhead['dask_all'] * 1e3:8.3f} ms")
    print(f"  client.submit, all in flight  {overhead['submit'] * 1e3:8.3f} ms")
    print(f"  dask_overhead_vs_bounded_submit: {overhead['dask'] / overhead['submit_bounded']:.2f}  "
          f"(both {dask.capacity} in flight: nbflow's default)")
    print(f"  dask_all_overhead_vs_submit: {overhead['dask_all'] / overhead['submit']:.2f}  (both all in flight)")
    print(f"{CPU_STEPS} CPU-bound pure-Python steps, {cpu_reps} repetitions, medians:")
    for name in ("thread", "process", "dask"):
        print(f"  --executor {name:<8} {seconds[name]:6.2f} s")
    print(f"checkpoint of a {BIG * 8 >> 20} MiB output of one Dask step, {cpu_reps} repetitions, medians:")
    for mode, (wall, cpu) in stores.items():
        print(f"  dask_store={mode:<7} wall {wall:6.2f} s, kernel CPU {cpu:6.2f} s")
    print(f"process_speedup: {seconds['thread'] / seconds['process']:.2f}")
    print(f"dask_speedup: {seconds['thread'] / seconds['dask']:.2f}")
    print(f"dask_overhead_vs_submit: {overhead['dask'] / overhead['submit']:.2f}")


if __name__ == "__main__":
    main()
