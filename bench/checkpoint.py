"""Checkpoint throughput beside raw disk I/O and np.save/np.load.

    python bench/checkpoint.py           # 256 MB array, 2,000,000-row DataFrame, 200,000 tuples
    python bench/checkpoint.py --quick   # an eighth of each, fewer repeats

For each case it prints write and load MB/s of:

* nbflow: `CheckpointStore.write` / `.read` (pickling, checksum, keyed-BLAKE3 signature, fsync,
  rename and folder fsync included; load verifies everything, then unpickles);
* digest+write: the checkpoint and the output's content digest, as an
  attempt saves a step: the writer hashes the buffers while writing them and
  the digest, computed when they are written, reuses those piece hashes, so
  an array is hashed once (object-heavy values are still walked or pickled
  again for their digest);
* raw: the checkpoint's own bytes written from memory with `os.write` + fsync,
  and read back with `readinto` into a buffer allocated (and touched) beforehand,
  so the raw figure does not even pay for the memory a real load must allocate;
* raw read new: the same read into memory allocated inside the timing, which
  is what any load must do (the kernel zero-fills each new page on first
  touch); the honest floor for a load;
* np.save / np.load of the same object (non-arrays are pickled inside a .npy),
  with an fsync after the save.

Every write creates a new file, as a checkpoint with a new cache key does
(the previous round's file is deleted outside the timing). Every load is cold:
the file is evicted from the page cache with posix_fadvise(DONTNEED) first, for
all methods. Raw reads are one `readinto` of the whole file without hints,
which measured fastest here; the store reads 4 MiB chunks (to hash them while
reading further) with a sequential-access hint, which helps chunked reads.

MB means the checkpoint's size for every method of a case, so figures in a
row compare times. Methods are interleaved round by round, in a shuffled
order, and each figure is the best of several rounds (as timeit does), the
same for every method: the disk and the 2 CPUs here are shared with other
work, which hurts the methods that need CPU (hashing, pickling) far more than
a raw read, so the medians' ratios are printed too. Before measuring, a few GB
of memory are touched once: on a VM whose memory the host backs lazily, the
first touch of a page is slow and would be charged to whichever method first
needs fresh page cache.

The last three lines: `write_vs_raw` and `load_vs_raw` (nbflow MB/s / raw MB/s,
256 MB array case) and `restore_vs_raw_read` (time to restore all three
checkpoints / time to raw-read the same three files one after the other, both
cold). The restore loads the three checkpoints on four threads, as a Flow's
worker threads do when restoring its steps after a restart; `read`-ing them
one by one is printed too.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbflow.core.digest import digest
from nbflow.core.digest.pieces import recording
from nbflow.store import CheckpointStore

MB = 1e6


def evict(path: str) -> None:
    """Drop a (clean, fsynced) file from the page cache so the next read hits the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def raw_write(path: str, data: memoryview) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = data
        while len(view):
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def raw_read(path: str, buffer: Any) -> None:
    with open(path, "rb", buffering=0) as f:
        view = memoryview(buffer)
        while len(view):
            got = f.readinto(view)
            if not got:
                break
            view = view[got:]


def digest_and_write(store: CheckpointStore, step: str, key: str, value: Any) -> None:
    """What an attempt does after its body: its checkpoint, and the output's digest from the writer's pieces."""
    with recording():
        store.write(step, key, {"value": value}, digests=lambda: {"value": [digest(value).hex, [], False]})


def raw_read_new(path: str, size: int) -> None:
    """A raw read into memory allocated for it, as any load must: the page faults are paid here."""
    raw_read(path, np.empty(size, dtype=np.uint8))


def np_save(path: str, value: Any) -> None:
    if not isinstance(value, np.ndarray):
        # np.save would turn a DataFrame into a 2-D object array: save the object itself.
        boxed = np.empty((), dtype=object)
        boxed[()] = value
        value = boxed
    with open(path, "wb") as f:
        np.save(f, value, allow_pickle=True)
        f.flush()
        os.fsync(f.fileno())


def np_load(path: str) -> Any:
    value = np.load(path, allow_pickle=True)
    return value[()] if value.dtype == object and value.shape == () else value


def timed(fn: Callable[..., Any], *args: Any) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def make_cases(scale: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    rows = 2_000_000 // scale
    return {
        f"array {256 // scale} MB": rng.random(256 * 2**20 // 8 // scale),
        f"DataFrame {rows:,} rows": pd.DataFrame(
            {
                "x": rng.random(rows),
                "y": rng.normal(size=rows),
                "n": rng.integers(0, 1 << 40, rows),
                "small": rng.integers(0, 1000, rows).astype(np.int32),
                "when": pd.date_range("2020-01-01", periods=rows, freq="s"),
                "kind": pd.Categorical(rng.choice(["a", "b", "c", "d"], rows)),
            }
        ),
        f"dict of {200_000 // scale:,} tuples": {
            i: (i, f"k{i}", i * 0.5) for i in range(200_000 // scale)
        },
    }


def bench_case(
    store: CheckpointStore, folder: Path, step: str, value: Any, rounds: int
) -> dict[str, float]:
    """Best and median MB/s of each method, write and cold load, interleaved round by round."""
    result = store.write(step, "k0", {"value": value})
    size = result.size
    with open(result.path, "rb") as f:
        same_bytes = memoryview(f.read())
    buffer = np.zeros(size, dtype=np.uint8)  # allocated and touched outside the timing
    times: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    order = random.Random(step)
    for r in range(1, rounds + 1):
        raw_path, npy_path = str(folder / f"{step}.{r}.raw"), str(folder / f"{step}.{r}.npy")
        ckpt_path = store.path_for(step, f"k{r}")
        writes: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
            ("raw write", raw_write, (raw_path, same_bytes)),
            ("nbflow write", store.write, (step, f"k{r}", {"value": value})),
            ("digest+write", digest_and_write, (store, step, f"d{r}", value)),
            ("np.save", np_save, (npy_path, value)),
        ]
        reads: list[tuple[str, str, Callable[..., Any], tuple[Any, ...]]] = [
            ("raw read", raw_path, raw_read, (raw_path, buffer)),
            ("raw read new", raw_path, raw_read_new, (raw_path, size)),
            ("nbflow load", ckpt_path, store.read, (step, f"k{r}")),
            ("np.load", npy_path, np_load, (npy_path,)),
        ]
        order.shuffle(writes)
        order.shuffle(reads)
        for name, fn, args in writes:
            add(name, timed(fn, *args))
        store.remove(step, f"k{r - 1}")
        store.remove(step, f"d{r}")
        for name, path, fn, args in reads:
            evict(path)
            add(name, timed(fn, *args))
        os.unlink(raw_path)
        os.unlink(npy_path)
    store.write(step, "k", {"value": value})
    store.remove(step, f"k{rounds}")
    loaded = store.read(step, "k")["value"]
    same = (
        np.array_equal(loaded, value)
        if isinstance(value, np.ndarray)
        else loaded.equals(value)
        if isinstance(value, pd.DataFrame)
        else loaded == value
    )
    assert same, f"{step}: loaded value differs"
    rates = {name: size / min(ts) / MB for name, ts in times.items()}
    rates.update({f"median {name}": size / statistics.median(ts) / MB for name, ts in times.items()})
    rates["size"] = size / MB
    return rates


def restore_all(store: CheckpointStore, steps: list[str]) -> None:
    """What restoring a finished flow does: each worker thread loads one step's checkpoint."""
    with ThreadPoolExecutor(4, thread_name_prefix="bench-restore") as pool:
        results = list(pool.map(lambda step: store.load(step, "k"), steps))
    assert [r.step for r in results] == steps


def read_each(store: CheckpointStore, steps: list[str]) -> None:
    for step in steps:
        store.read(step, "k")


def bench_restore(
    store: CheckpointStore, steps: list[str], rounds: int
) -> tuple[float, float, float]:
    """Best seconds, all cold: restore (concurrent), read one by one, raw read of the files."""
    paths = [store.path_for(step, "k") for step in steps]
    buffers = [np.zeros(os.path.getsize(p), dtype=np.uint8) for p in paths]

    def evict_all() -> None:
        for p in paths:
            evict(p)

    def raw_all() -> None:
        for p, b in zip(paths, buffers, strict=True):
            raw_read(p, b)

    restore, each, raw = [], [], []
    for _ in range(rounds):
        evict_all()
        raw.append(timed(raw_all))
        evict_all()
        restore.append(timed(restore_all, store, steps))
        evict_all()
        each.append(timed(read_each, store, steps))
    return min(restore), min(each), min(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="an eighth of the sizes")
    parser.add_argument("--rounds", type=int, default=None, help="repeats per figure")
    parser.add_argument("--dir", default=None, help="folder on the disk to measure")
    parser.add_argument("--chunk-mb", type=int, default=None, help="store hashing chunk size")
    args = parser.parse_args()
    warm = np.ones(3 << 30, dtype=np.uint8)  # first touch of VM memory, see above
    del warm
    scale = 8 if args.quick else 1
    rounds = args.rounds or (3 if args.quick else 7)
    folder = Path(tempfile.mkdtemp(prefix="nbflow-bench-", dir=args.dir))
    try:
        chunk = {"chunk_size": args.chunk_mb << 20} if args.chunk_mb else {}
        store = CheckpointStore(folder / "store", secret=os.urandom(32), **chunk)
        cases = make_cases(scale)
        print(f"{os.cpu_count()} CPUs, best of {rounds} rounds, MB/s (MB = checkpoint size)")
        names = ["nbflow write", "digest+write", "raw write", "np.save", "nbflow load", "raw read", "raw read new",
                 "np.load"]
        print(f"{'case':28} {'MB':>7} " + " ".join(f"{n:>12}" for n in names))
        first: dict[str, float] = {}
        steps = []
        for i, (label, value) in enumerate(cases.items()):
            step = f"case{i}"
            steps.append(step)
            rates = bench_case(store, folder, step, value, rounds)
            first = first or rates
            cells = " ".join(f"{rates[n]:>12.0f}" for n in names)
            print(f"{label:28} {rates['size']:>7.1f} {cells}", flush=True)
        restore, each, raw = bench_restore(store, steps, rounds)
        print(
            f"restore all three: {restore * 1e3:.0f} ms (read one by one: {each * 1e3:.0f} ms), "
            f"raw read of the same files: {raw * 1e3:.0f} ms"
        )
        print(
            "medians instead of best: "
            f"write_vs_raw {first['median nbflow write'] / first['median raw write']:.2f}, "
            f"load_vs_raw {first['median nbflow load'] / first['median raw read']:.2f}"
        )
        print(f"load vs a raw read into new memory (page faults paid, as any load pays them): "
              f"{first['nbflow load'] / first['raw read new']:.2f}")
        print(f"output digest + checkpoint write (one pass over the buffers) vs raw write: "
              f"{first['digest+write'] / first['raw write']:.2f}")
        print(f"write_vs_raw: {first['nbflow write'] / first['raw write']:.2f}")
        print(f"load_vs_raw: {first['nbflow load'] / first['raw read']:.2f}")
        print(f"restore_vs_raw_read: {restore / raw:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
