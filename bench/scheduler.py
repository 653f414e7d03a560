"""Scheduler overhead per no-op step: nbflow beside an asyncio floor and Dask.

    .venv/bin/python bench/scheduler.py               # full run, under 2 minutes
    .venv/bin/python bench/scheduler.py --quick       # fewer repetitions
    .venv/bin/python bench/scheduler.py --workers 8   # thread count (default 4)

Three graphs of 1,000 steps whose bodies do nothing, so the wall time is all
scheduling overhead:

* chain: step i depends on step i-1;
* fan-out: one source step and 999 steps that depend on it;
* random DAG: 20 layers of 50 (seeded); every node outside the first layer
  depends on 1-3 random nodes of earlier layers.

For each graph it times, per repetition, from the start of a run until every
step has finished, and prints the median divided by 1,000 (µs per step) for:

* nbflow: `Flow(max_workers=W)`, one function step per node (`lambda: None`,
  no parameters), timed `flow.run(force=True)` + `flow.wait()` after one
  warm-up run; the graph is built outside the timing. After each run the
  statuses are checked (every step succeeded once, never before its
  dependencies ended), outside the timing too;
* floor: the least a loop + thread-pool design can do: one asyncio task per
  step that awaits its dependencies' futures, then
  `await loop.run_in_executor(pool, noop)` on a ThreadPoolExecutor of W
  threads; task creation is timed, loop and pool creation are not;
* dask.threaded: `dask.threaded.get(graph, sinks, num_workers=W)` on the same
  graph as a dask dict (`{key: (noop, *dependency_keys)}`), asking for the
  sinks (every other step is an ancestor of one, so all run);
* dask.distributed: `LocalCluster(processes=False, n_workers=1,
  threads_per_worker=W)` + `Client`, started outside the timing;
  `client.get(graph, sinks)` with the keys renamed for every repetition so no
  result is reused. It costs about 1 ms a step (about 6 ms on a chain), so it
  gets fewer repetitions.

Methods are interleaved within a repetition, because the machine is shared and
noisy. The last three lines are ratios of median overhead per step on the
random DAG, 2 decimals: `nbflow_vs_floor` (nbflow / floor),
`dask_threaded_vs_nbflow` and `dask_distributed_vs_nbflow` (Dask / nbflow).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbflow.core.flow import Flow
from nbflow.core.states import State

N = 1000
LAYERS, WIDTH = 20, 50
SEED = 20240603

# name -> names it depends on, in topological order (dicts keep insertion order)
Dag = dict[str, list[str]]


def noop(*_: object) -> None:
    """The step body of the floor and of Dask (which passes dependency results)."""


# -- graphs ------------------------------------------------------------------------


def step_name(i: int) -> str:
    return f"s{i:04d}"


def chain(n: int = N) -> Dag:
    return {step_name(i): [step_name(i - 1)] if i else [] for i in range(n)}


def fan_out(n: int = N) -> Dag:
    return {step_name(i): [step_name(0)] if i else [] for i in range(n)}


def random_dag(layers: int = LAYERS, width: int = WIDTH, seed: int = SEED) -> Dag:
    rng = random.Random(seed)
    dag: Dag = {}
    earlier: list[str] = []
    for layer in range(layers):
        names = [step_name(layer * width + j) for j in range(width)]
        for name in names:
            dag[name] = sorted(rng.sample(earlier, rng.randint(1, 3))) if earlier else []
        earlier.extend(names)
    return dag


def sinks(dag: Dag) -> list[str]:
    needed = {dep for deps in dag.values() for dep in deps}
    return [name for name in dag if name not in needed]


def dask_graph(dag: Dag, suffix: str = "") -> dict[str, tuple[Any, ...]]:
    return {name + suffix: (noop, *(dep + suffix for dep in deps)) for name, deps in dag.items()}


# -- runners: each returns seconds for one run of the whole graph --------------------


class NbflowRunner:
    def __init__(self, dag: Dag, workers: int) -> None:
        self.dag = dag
        self.flow = Flow(max_workers=workers)
        for name, deps in dag.items():
            self.flow.add(name, lambda: None, after=deps)

    def __call__(self) -> float:
        wall = time.time()
        start = time.perf_counter()
        self.flow.run(force=True)
        self.flow.wait(timeout=120)
        elapsed = time.perf_counter() - start
        self.check(wall)
        return elapsed

    def check(self, wall: float) -> None:
        """Every step succeeded once in this run, none before its dependencies ended."""
        statuses = self.flow.status()
        problems: list[str] = []
        if set(statuses) != set(self.dag):
            problems.append(f"{len(statuses)} statuses for {len(self.dag)} steps")
        for name, status in statuses.items():
            if status.state is not State.SUCCEEDED or status.attempts != 1:
                problems.append(f"{name}: {status.state.value}, {status.attempts} attempts")
            elif status.started is None or status.ended is None or status.started < wall - 1e-3:
                problems.append(f"{name}: not run in this run (started {status.started})")
            else:
                for dep in self.dag.get(name, []):
                    ended = statuses[dep].ended
                    if ended is None or status.started < ended - 1e-3:
                        problems.append(f"{name} started before {dep} ended")
        if problems:
            raise RuntimeError(
                f"nbflow ran wrongly ({len(problems)} problems): " + "; ".join(problems[:5])
            )

    def close(self) -> None:
        self.flow.close()


class FloorRunner:
    """One asyncio task per step: await the dependencies, then one thread hop."""

    def __init__(self, dag: Dag, workers: int, loop: asyncio.AbstractEventLoop,
                 pool: ThreadPoolExecutor) -> None:
        self.dag = dag
        self.loop = loop
        self.pool = pool

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pool = self.pool
        done: dict[str, asyncio.Future[None]] = {}

        async def step(deps: list[asyncio.Future[None]]) -> None:
            for dep in deps:
                await dep
            await loop.run_in_executor(pool, noop)

        for name, deps in self.dag.items():
            done[name] = loop.create_task(step([done[d] for d in deps]))
        await asyncio.gather(*done.values())

    def __call__(self) -> float:
        start = time.perf_counter()
        self.loop.run_until_complete(self._run())
        return time.perf_counter() - start

    def close(self) -> None:
        pass


class DaskThreadedRunner:
    def __init__(self, dag: Dag, workers: int) -> None:
        import dask.threaded

        self.get = dask.threaded.get
        self.graph = dask_graph(dag)
        self.keys = sinks(dag)
        self.workers = workers

    def __call__(self) -> float:
        start = time.perf_counter()
        self.get(self.graph, self.keys, num_workers=self.workers)
        return time.perf_counter() - start

    def close(self) -> None:
        pass


class DaskDistributedRunner:
    def __init__(self, dag: Dag, client: Any) -> None:
        self.dag = dag
        self.client = client
        self.keys = sinks(dag)
        self.rep = 0

    def __call__(self) -> float:
        self.rep += 1
        suffix = f"-r{self.rep}"  # fresh keys: nothing from an earlier run is reused
        graph = dask_graph(self.dag, suffix)
        keys = [k + suffix for k in self.keys]
        start = time.perf_counter()
        self.client.get(graph, keys)
        return time.perf_counter() - start

    def close(self) -> None:
        pass


# -- driver ---------------------------------------------------------------------------

METHODS = ("nbflow", "floor", "dask.threaded", "dask.distributed")
GRAPHS: Mapping[str, Callable[[], Dag]] = {
    "chain": chain, "fan-out": fan_out, "random DAG": random_dag,
}


def measure(runners: Mapping[str, Callable[[], float]], reps: Mapping[str, int]
            ) -> dict[str, float]:
    """Median seconds per run; one warm-up run each, then methods interleaved."""
    times: dict[str, list[float]] = {m: [] for m in runners}
    for run in runners.values():
        run()
    for rep in range(max(reps.values())):
        for method, run in runners.items():
            if rep < reps[method]:
                times[method].append(run())
    return {m: statistics.median(t) for m, t in times.items()}


def table(results: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> str:
    head = f"{'µs/step':<11}" + "".join(f"{m:>18}" for m in methods)
    lines = [head, "-" * len(head)]
    for graph, row in results.items():
        lines.append(f"{graph:<11}" + "".join(f"{row[m] * 1e6 / N:>18,.1f}" for m in methods))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--workers", type=int, default=4, metavar="W",
                        help="worker threads for every method (default 4)")
    args = parser.parse_args(argv)
    workers: int = args.workers
    reps = {"nbflow": 5, "floor": 5, "dask.threaded": 5, "dask.distributed": 1} if args.quick \
        else {"nbflow": 15, "floor": 15, "dask.threaded": 15, "dask.distributed": 3}

    began = time.perf_counter()
    warnings.filterwarnings("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from distributed import Client, LocalCluster

    cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=workers,
                           dashboard_address=None)
    client = Client(cluster)
    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(max_workers=workers)
    results: dict[str, dict[str, float]] = {}
    try:
        for graph, build in GRAPHS.items():
            dag = build()
            runners: dict[str, Any] = {
                "nbflow": NbflowRunner(dag, workers),
                "floor": FloorRunner(dag, workers, loop, pool),
                "dask.threaded": DaskThreadedRunner(dag, workers),
                "dask.distributed": DaskDistributedRunner(dag, client),
            }
            try:
                results[graph] = measure(runners, reps)
            finally:
                for runner in runners.values():
                    runner.close()
    finally:
        client.close()
        cluster.close()
        pool.shutdown()
        loop.close()

    print(f"Scheduler overhead per no-op step, {N:,} steps, {workers} workers, "
          f"median of {reps['nbflow']} runs ({reps['dask.distributed']} for dask.distributed)")
    print(table(results, METHODS))
    print(f"total time: {time.perf_counter() - began:.1f} s")
    dag_row = results["random DAG"]
    print(f"nbflow_vs_floor: {dag_row['nbflow'] / dag_row['floor']:.2f}")
    print(f"dask_threaded_vs_nbflow: {dag_row['dask.threaded'] / dag_row['nbflow']:.2f}")
    print(f"dask_distributed_vs_nbflow: {dag_row['dask.distributed'] / dag_row['nbflow']:.2f}")


if __name__ == "__main__":
    main()
