"""What content addressing costs: keying, mutation detection and the staleness check.

    python bench/cache.py           # the sizes below
    python bench/cache.py --quick   # an eighth of the data, fewer repeats

Keying is `nbflow.core.keys.step_key` for a step that reads one value, with
an empty digest table (the first read of a value; later reads of the same
object reuse its digest and cost a dict lookup):

* a 256 MB float64 array, beside reading the same bytes from the page cache
  (`readinto` of a file that was just written, so it is cached);
* a 2,000,000-row DataFrame with float, string and categorical columns,
  beside `pandas.util.hash_pandas_object` of the same frame (which hashes
  less: it ignores dtypes, names and column labels);
* a dict of 200,000 small tuples;
* a chain of 50 plain-cell helper functions, each calling the next and
  reading a global.

Mutation detection is the rehash of each mutable input after a step runs.
It is measured on a `Flow` with a checkpoint store, set up as the kernel
runs it (digests kept while a value stays the same object, the array's
digest known from its upstream): the time from `run()` to the end of
`wait()` for a step that reads the 256 MB array and computes its
percentiles, with detection on and off (off: the step's inputs are not
hashed again). The same ratio for a step that only
sums the array is printed as well: the shorter the step, the more the
rehash shows.

The staleness check is what the kernel runs around a plain cell: the
digests of the names the cell touches that finished steps read, before and
after (`Flow.before_change` / `Flow.after_change`), with 100 finished steps
each reading a few parameters and one shared 256 MB array, for a cell that
changes one parameter.

Last lines: `key_gbps_array`, `key_vs_pandas_hash_df` (nbflow time /
pandas time), `stale_check_ms`, `mutation_check_overhead` (percentiles step).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbflow.core import attempt as attempt_module
from nbflow.core.fingerprints import DigestTable
from nbflow.core.flow import Flow
from nbflow.core.keys import step_key
from nbflow.core.spec import make_spec
from nbflow.store.store import Store


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(best, median) seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def key_of(name: str, value: Any, namespace: dict[str, Any] | None = None) -> None:
    scope = dict(namespace or {})
    scope[name] = value
    result = step_key(make_spec("s", f"out = {name}"), scope, DigestTable())
    assert result.value is not None, result.reason


def page_cache_read(array: np.ndarray, folder: Path) -> Callable[[], None]:
    path = folder / "array.bin"
    array.tofile(path)
    target = np.empty(array.nbytes, dtype=np.uint8)
    target[:] = 0  # touched once, as the raw figures of bench/checkpoint.py do

    def read() -> None:
        with open(path, "rb", buffering=0) as handle:
            view = memoryview(target)
            while view:
                got = handle.readinto(view)
                assert got
                view = view[got:]

    read()  # now in the page cache
    return read


def helper_chain(length: int) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__", "SCALE": 3}
    source = ["def h0(x):\n    return x * SCALE\n"]
    source += [f"def h{i}(x):\n    return h{i - 1}(x) + {i}\n" for i in range(1, length)]
    exec("\n".join(source), ns)
    return ns


def mutation_overhead(array: np.ndarray, code: str, repeats: int, folder: Path) -> tuple[float, float, float]:
    """(seconds with detection, without, ratio) for one step reading `array`, best of `repeats`."""
    real = attempt_module._mutated
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(repeats):
        for detect in (True, False) if round_ % 2 else (False, True):
            attempt_module._mutated = real if detect else (lambda *args: {})  # type: ignore[assignment]
            ns: dict[str, Any] = {"a": array, "np": np}
            store = Store(folder / f"store{round_}{detect}", flow_name="bench")
            with Flow(ns, cache=store, trust_digests=True) as flow:  # as in the kernel
                flow.digests.record("a", array, flow.digests.digest("a", array, ns))  # as after its upstream
                flow.add("s", code)
                started = time.perf_counter()
                flow.run()
                flow.wait(timeout=600)
                timings[detect].append(time.perf_counter() - started)
            store.close()
    attempt_module._mutated = real
    on, off = min(timings[True]), min(timings[False])
    return on, off, on / off


def stale_check(array: np.ndarray, steps: int, repeats: int, folder: Path) -> float:
    """Median ms of before_change + after_change for a cell that changes one parameter."""
    ns: dict[str, Any] = {"big": array, **{f"p{i}": i for i in range(20)}}
    store = Store(folder / "stale", flow_name="bench")
    with Flow(ns, cache=store, trust_digests=True) as flow:  # as in the kernel
        for i in range(steps):
            flow.add(f"s{i}", f"r{i} = float(big[{i}]) + p{i % 20} + p{(i + 1) % 20}")
        flow.run()
        flow.wait(timeout=600)
        times = []
        for round_ in range(repeats):
            started = time.perf_counter()
            before = flow.before_change({"p3"})
            ns["p3"] = 1000 + round_
            stale = flow.after_change(before)
            times.append(time.perf_counter() - started)
            assert len(stale) == 10, stale
            flow.run()
            flow.wait(timeout=600)
    store.close()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="an eighth of the data, fewer repeats")
    args = parser.parse_args()
    scale = 8 if args.quick else 1
    repeats = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    array = rng.random((256 << 20) // 8 // scale)
    rows = 2_000_000 // scale
    frame = pd.DataFrame({
        "x": rng.random(rows),
        "s": rng.choice(["alpha", "beta", "gamma", "delta"], rows).astype(object),
        "c": pd.Categorical(rng.choice(["u", "v", "w"], rows)),
    })
    tuples = {i: (i, str(i), i * 0.5) for i in range(200_000 // scale)}
    chain = helper_chain(50)
    print(f"{os.cpu_count()} CPUs, best of {repeats} (median in brackets)")
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        read = page_cache_read(array, folder)
        t_read, _ = best(read, repeats)
        t_key, m_key = best(lambda: key_of("a", array), repeats)
        print(f"256 MB array:       key {t_key * 1000:7.1f} ms ({m_key * 1000:.1f})  "
              f"{array.nbytes / t_key / 1e9:5.2f} GB/s; page-cache read {t_read * 1000:.1f} ms "
              f"{array.nbytes / t_read / 1e9:5.2f} GB/s")
        t_df, m_df = best(lambda: key_of("df", frame), repeats)
        t_pd, m_pd = best(lambda: pd.util.hash_pandas_object(frame, index=True), repeats)
        print(f"DataFrame {rows:,} rows: key {t_df * 1000:7.1f} ms ({m_df * 1000:.1f}); "
              f"hash_pandas_object {t_pd * 1000:.1f} ms ({m_pd * 1000:.1f})")
        t_dict, m_dict = best(lambda: key_of("d", tuples), repeats)
        print(f"dict of {len(tuples):,} tuples: key {t_dict * 1000:7.1f} ms ({m_dict * 1000:.1f})")
        t_chain, m_chain = best(lambda: key_of("h49", chain["h49"], chain), repeats)
        print(f"50 chained helpers: key {t_chain * 1000:7.2f} ms ({m_chain * 1000:.2f})")
        on, off, ratio = mutation_overhead(array, "q = np.percentile(a, [5, 50, 95])", max(2, repeats // 2), folder)
        s_on, s_off, s_ratio = mutation_overhead(array, "q = float(a.sum())", max(2, repeats // 2), folder)
        print(f"step reading the array, percentiles: {on * 1000:.0f} ms with mutation detection, "
              f"{off * 1000:.0f} ms without ({ratio:.2f}x)")
        print(f"step reading the array, sum only:    {s_on * 1000:.0f} ms with, {s_off * 1000:.0f} ms without "
              f"({s_ratio:.2f}x)")
        stale_ms = stale_check(array, 100, 20 if args.quick else 50, folder)
        print(f"staleness check, 100 finished steps, a cell changing one parameter: {stale_ms:.2f} ms (median)")
    print(f"key_gbps_array: {array.nbytes / t_key / 1e9:.2f}")
    print(f"key_vs_pandas_hash_df: {t_df / t_pd:.2f}")
    print(f"stale_check_ms: {stale_ms:.2f}")
    print(f"mutation_check_overhead: {ratio:.2f}")


if __name__ == "__main__":
    main()
