"""A write that hits the file-size limit (RLIMIT_FSIZE): clear error, no debris, old checkpoint intact."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nbflow.store import CheckpointStore

RunPython = Callable[..., str]
SECRET = b"k" * 32

# Writes a previous checkpoint, then retries a bigger one under several
# file-size limits: before anything is written, mid-header, mid-buffer, one
# byte short of the trailer, and exactly enough (the control that succeeds).
SCRIPT = '''
import json, resource, signal, sys
import numpy as np
from nbflow.store import CheckpointStore, CheckpointWriteError

root = sys.argv[1]
store = CheckpointStore(root, secret=b"k" * 32)
store.write("train", "k1", {"weights": np.arange(1000), "epoch": 1})
big = {"weights": np.zeros(1_000_000), "epoch": 2}
size = CheckpointStore(root + "-probe", secret=b"k" * 32).write("train", "k1", big).size
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
results = []
for limit in (0, 100, 4096, size // 2, size - 1, size):
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    for key in ("k1", "k2"):
        try:
            store.write("train", key, big)
            results.append([limit, key, "written", None])
        except CheckpointWriteError as exc:
            results.append([limit, key, str(exc), exc.errno])
        if key == "k2":
            store.remove("train", "k2")
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    if results[-2][2] == "written":  # the control overwrote k1: put the old one back
        store.write("train", "k1", {"weights": np.arange(1000), "epoch": 1})
print(json.dumps({"size": size, "results": results}))
'''


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX rlimits")
def test_file_size_limit_gives_a_clear_error_and_keeps_the_previous_checkpoint(
    tmp_path: Path, run_python: RunPython
) -> None:
    """Each failing limit raises a one-line error naming the step; k1 still loads; no temp file remains."""
    root = tmp_path / "store"
    report = json.loads(run_python(SCRIPT, root))
    size, results = report["size"], report["results"]
    failing = [r for r in results if r[0] < size]
    assert len(failing) == 10
    for limit, key, message, errno in failing:
        assert message == "step 'train': checkpoint not written: [Errno 27] File too large", (
            limit,
            key,
        )
        assert errno == 27
    assert [r[2] for r in results if r[0] == size] == ["written", "written"]

    store = CheckpointStore(root, secret=SECRET)
    old = store.read("train", "k1")
    assert old["epoch"] == 1 and np.array_equal(old["weights"], np.arange(1000))
    assert not store.exists("train", "k2")
    assert sorted(p.name for p in (root / "train").iterdir()) == ["k1.ckpt"]
