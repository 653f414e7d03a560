"""kill -9 of checkpoint writers at random moments: no checkpoint ever loads a wrong value."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nbflow.store import CheckpointRefused, CheckpointStore

RunPython = Callable[..., str]

SECRET = bytes(range(32))
TRIALS = 240

# Shared by the writer and the checker: the value written as number n, under key k{n % 7}.
VALUE_SRC = '''
def value(n):
    size = 500 + (n * 7919) % 30000
    return {
        "n": n,
        "arr": np.full(size, n, dtype=np.int64),
        "blob": bytes([n % 251]) * ((n * 31) % 90000),
        "text": f"value {n};" * (n % 50),
    }
'''

# A single-threaded parent forks one writer per trial and SIGKILLs it a random
# delay after the writer says it starts writing; writes use 4 KiB chunks so the threaded hashing path is hit too.
WRITER = (
    '''
import os, random, signal, sys, time
import numpy as np
from nbflow.store import CheckpointStore
'''
    + VALUE_SRC
    + '''
root, secret, trials, seed = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = CheckpointStore(root, secret=secret, chunk_size=4096)
rng = random.Random(seed)
for trial in range(trials):
    ready, say = os.pipe()
    pid = os.fork()
    if pid == 0:
        n = trial * 100_000
        try:
            os.write(say, b"w")  # about to write: the kill's random delay counts from here, whatever the load
            while True:
                store.write("s", f"k{n % 7}", value(n))
                n += 1
        finally:
            os._exit(0)
    os.read(ready, 1)
    time.sleep(rng.uniform(0.0, 0.012))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(ready)
    os.close(say)
print("done")
'''
)


def _value_fn() -> Any:
    namespace: dict[str, Any] = {"np": np}
    exec(VALUE_SRC, namespace)
    return namespace["value"]


def _is_right(outputs: dict[str, Any], key: str, value: Any) -> bool:
    n = outputs.get("n")
    if not isinstance(n, int) or key != f"k{n % 7}" or set(outputs) != {"n", "arr", "blob", "text"}:
        return False
    expected = value(n)
    return (
        outputs["arr"].dtype == np.int64
        and np.array_equal(outputs["arr"], expected["arr"])
        and outputs["blob"] == expected["blob"]
        and outputs["text"] == expected["text"]
    )


def test_kill_9_during_writes_never_gives_an_invalid_load(
    tmp_path: Path, run_python: RunPython
) -> None:
    """240 writers killed at random moments: every checkpoint loads right, every torn temp file is refused."""
    root = tmp_path / "store"
    assert run_python(WRITER, root, SECRET.hex(), TRIALS, 1234, timeout=120).strip() == "done"
    store = CheckpointStore(root, secret=SECRET)
    value = _value_fn()

    loaded, refused, invalid = 0, 0, []
    entries = store.list("s")
    for entry in entries:
        try:
            outputs = store.read("s", entry.key)
        except CheckpointRefused as exc:
            refused += 1  # allowed by the contract, not expected from atomic renames
            invalid.append(f"refused final file {entry.key}: {exc}")
            continue
        loaded += 1
        if not _is_right(outputs, entry.key, value):
            invalid.append(f"wrong value under {entry.key}: n={outputs.get('n')}")
    assert loaded >= 1 and len(entries) == loaded
    assert invalid == [], invalid[:5]

    # The temp files left by killed writers are the torn writes. Put each one
    # in place of a checkpoint: it must be refused, or be complete and right.
    leftovers = sorted((root / "s").glob(".*.tmp"))
    assert len(leftovers) >= TRIALS // 10, "too few kills landed inside a write"
    scratch = CheckpointStore(tmp_path / "scratch", secret=SECRET)
    torn_refused, torn_loaded, torn_invalid = 0, 0, []
    for temp in leftovers:
        key = temp.name[1:].split(".ckpt.")[0]
        target = Path(scratch.path_for("s", key))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(temp, target)
        try:
            outputs = scratch.read("s", key)
        except CheckpointRefused:
            torn_refused += 1
            continue
        torn_loaded += 1
        if not _is_right(outputs, key, value):
            torn_invalid.append(temp.name)
    assert torn_invalid == []
    assert torn_refused >= 1
    print(json.dumps({"final": loaded, "torn_refused": torn_refused, "torn_complete": torn_loaded}))

    assert store.sweep_temp_files(older_than=0) == len(leftovers)
    assert list((root / "s").glob(".*.tmp")) == []
    assert len(store.list("s")) == len(entries)
