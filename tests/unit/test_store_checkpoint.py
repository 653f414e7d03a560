"""CheckpointStore's API on a local folder and on fsspec's memory://: round trips, refusals, listing."""

from __future__ import annotations

import os
import pickle
import stat
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbflow.core.errors import NbflowError
from nbflow.store import (
    CheckpointMissing,
    CheckpointRefused,
    CheckpointStore,
    CheckpointWriteError,
)
from nbflow.store import checkpoint as checkpoint_module
from nbflow.store import format as fmt

SECRET = b"s" * 32


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CheckpointStore]:
    if request.param == "local":
        yield CheckpointStore(tmp_path / "store", secret=SECRET)
        return
    import fsspec

    root = f"memory://nbflow-test-{uuid.uuid4().hex}"
    yield CheckpointStore(root, secret=SECRET)
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture
def local(tmp_path: Path) -> CheckpointStore:
    return CheckpointStore(tmp_path / "store", secret=SECRET)


def read_bytes(store: CheckpointStore, step: str, key: str) -> bytes:
    import fsspec

    with fsspec.open(store.path_for(step, key), "rb") as f:
        data: bytes = f.read()
    return data


def write_bytes(store: CheckpointStore, step: str, key: str, data: bytes) -> None:
    import fsspec

    with fsspec.open(store.path_for(step, key), "wb") as f:
        f.write(data)


def test_round_trip_of_mixed_outputs_keeps_values_and_sharing(store: CheckpointStore) -> None:
    """Arrays, bytes, closures and containers come back equal; shared objects stay shared."""
    arr = np.arange(300_000, dtype=np.float64)
    offset = 3
    outputs: dict[str, Any] = {
        "arr": arr,
        "alias": [arr, {"nested": (1, "two", 3.0)}],
        "fortran": np.asfortranarray(np.arange(40_000.0).reshape(200, 200)),
        "strided": arr[::2],
        "blob": b"\x00\x01" * 100_000,
        "mutable": bytearray(b"z" * 70_000),
        "small": b"tiny",
        "fn": lambda x: x + offset,
        "none": None,
    }
    result = store.write("train", "abc123", outputs)
    assert result.restorable and result.reason is None
    back = store.read("train", "abc123")
    assert set(back) == set(outputs)
    assert np.array_equal(back["arr"], arr)
    assert back["alias"][0] is back["arr"]
    assert back["alias"][1] == {"nested": (1, "two", 3.0)}
    assert np.array_equal(back["fortran"], outputs["fortran"]) and back["fortran"].flags.f_contiguous
    assert np.array_equal(back["strided"], arr[::2])
    assert back["blob"] == outputs["blob"] and type(back["blob"]) is bytes
    assert back["mutable"] == outputs["mutable"] and type(back["mutable"]) is bytearray
    assert back["small"] == b"tiny" and back["none"] is None
    assert back["fn"](4) == 7


def test_dataframe_round_trip(store: CheckpointStore) -> None:
    """A DataFrame with numeric, datetime and categorical columns comes back equal."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "a": np.arange(50_000),
            "b": np.linspace(0, 1, 50_000),
            "when": pd.date_range("2024-01-01", periods=50_000, freq="min"),
            "kind": pd.Categorical(["x", "y"] * 25_000),
        }
    )
    store.write("frame", "k", {"df": df})
    assert store.read("frame", "k")["df"].equals(df)


def test_large_buffers_go_out_of_band_and_load_writable(store: CheckpointStore) -> None:
    """A 2 MB array is not copied into the pickle stream, and the loaded array is writable."""
    arr = np.ones(2 << 20, dtype=np.uint8)
    store.write("s", "k", {"arr": arr})
    info = store.info("s", "k")
    assert info.size > arr.nbytes
    header = fmt.Header.decode(read_bytes(store, "s", "k")[16 : 16 + _header_len(store)])
    assert header.pickle_size < 4096
    assert header.buffer_sizes == (arr.nbytes,)
    back = store.read("s", "k")["arr"]
    back[0] = 7
    assert back.flags.writeable and back[0] == 7 and back.sum() == arr.sum() + 6


def _header_len(store: CheckpointStore) -> int:
    return fmt.parse_fixed(read_bytes(store, "s", "k")[:16], 1 << 40)


def test_write_result_reports_path_size_and_time(store: CheckpointStore) -> None:
    """WriteResult's path is where the file is and its size the file's size."""
    result = store.write("s", "k", {"x": list(range(1000))})
    assert result.path == store.path_for("s", "k")
    assert result.size == len(read_bytes(store, "s", "k"))
    assert result.seconds > 0 and (result.step, result.key) == ("s", "k")


def test_load_result_has_outputs_size_and_time(store: CheckpointStore) -> None:
    """`load` gives what provenance records: outputs, file size, load time."""
    written = store.write("s", "k", {"x": 1})
    loaded = store.load("s", "k")
    assert loaded.outputs == {"x": 1}
    assert loaded.size == written.size and loaded.seconds > 0 and loaded.path == written.path


def test_rewrite_replaces_the_checkpoint(store: CheckpointStore) -> None:
    """Writing the same step and key again replaces the value."""
    store.write("s", "k", {"x": 1})
    store.write("s", "k", {"x": 2})
    assert store.read("s", "k") == {"x": 2}
    assert [e.key for e in store.list()] == ["k"]


def test_empty_outputs_round_trip(store: CheckpointStore) -> None:
    """A step with no outputs still gets a restorable checkpoint."""
    assert store.write("s", "k", {}).restorable
    assert store.read("s", "k") == {}


def test_missing_checkpoint_is_a_file_not_found_naming_the_step(store: CheckpointStore) -> None:
    """Reading an absent checkpoint raises CheckpointMissing, a FileNotFoundError and NbflowError."""
    with pytest.raises(CheckpointMissing) as caught:
        store.read("prep", "nokey")
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, NbflowError)
    assert "'prep'" in str(caught.value) and "nokey" in str(caught.value)
    with pytest.raises(CheckpointMissing):
        store.info("prep", "nokey")


def test_exists_remove_list_and_info(store: CheckpointStore) -> None:
    """exists/remove/list/info agree with what was written."""
    assert not store.exists("a", "1")
    store.write("a", "1", {"x": 1})
    store.write("a", "2", {"x": 2})
    store.write("b", "1", {"y": np.zeros(10)})
    assert store.exists("a", "1")
    assert [(e.step, e.key) for e in store.list()] == [("a", "1"), ("a", "2"), ("b", "1")]
    assert [(e.step, e.key) for e in store.list("a")] == [("a", "1"), ("a", "2")]
    assert all(e.size > 0 and e.mtime > 0 for e in store.list())
    info = store.info("b", "1")
    assert (info.step, info.key, info.outputs, info.restorable) == ("b", "1", ("y",), True)
    assert info.python.split(".")[:2] == [str(v) for v in sys.version_info[:2]]
    assert store.remove("a", "1") is True
    assert store.remove("a", "1") is False
    assert not store.exists("a", "1")
    assert [(e.step, e.key) for e in store.list()] == [("a", "2"), ("b", "1")]


def test_odd_names_stay_inside_the_root_and_round_trip(store: CheckpointStore) -> None:
    """Steps and keys with slashes, dots, spaces and unicode are encoded, listed back decoded."""
    names = [("../escape", "../../k"), (".hidden", ".k"), ("a b/c", "ключ"), ("x", "..")]
    for step, key in names:
        store.write(step, key, {"v": (step, key)})
        path = store.path_for(step, key)
        assert path.startswith(store.root)
        assert os.path.basename(os.path.dirname(path)) not in ("..", ".")
    for step, key in names:
        assert store.read(step, key) == {"v": (step, key)}
    assert sorted((e.step, e.key) for e in store.list()) == sorted(names)


def test_empty_or_absurd_names_are_rejected(store: CheckpointStore) -> None:
    """An empty step or key, or one too long for a file name, is a ValueError."""
    with pytest.raises(ValueError):
        store.write("", "k", {})
    with pytest.raises(ValueError):
        store.read("s", "")
    with pytest.raises(ValueError):
        store.path_for("s", "k" * 500)


def test_unpicklable_outputs_are_named_and_the_rest_saved(store: CheckpointStore) -> None:
    """A lock is named with the reason; the other outputs are saved; read refuses, partial read works."""
    lock = threading.Lock()
    result = store.write("fetch", "k", {"lock": lock, "rows": [1, 2, 3]})
    assert not result.restorable
    assert result.unpicklable == {"lock": "cannot pickle '_thread.lock' object"}
    assert result.reason == "lock: cannot pickle '_thread.lock' object"
    with pytest.raises(CheckpointRefused) as caught:
        store.read("fetch", "k")
    assert "not restorable: lock: cannot pickle '_thread.lock' object" in str(caught.value)
    assert "'fetch'" in str(caught.value)
    assert store.read("fetch", "k", partial=True) == {"rows": [1, 2, 3]}
    assert not store.info("fetch", "k").restorable


def test_refused_when_written_by_another_python_minor(
    store: CheckpointStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A validly signed checkpoint from Python 3.X-1 is refused, naming both versions."""
    major, minor = sys.version_info[:2]
    monkeypatch.setattr(checkpoint_module.platform, "python_version", lambda: f"{major}.{minor - 1}.9")
    store.write("s", "k", {"x": 1})
    monkeypatch.undo()
    with pytest.raises(CheckpointRefused, match=rf"written by Python {major}\.{minor - 1}\.9"):
        store.read("s", "k")


def test_cloudpickle_major_matters_minor_does_not(
    store: CheckpointStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another cloudpickle major is refused; another minor of the same major loads."""
    import cloudpickle

    major = int(cloudpickle.__version__.split(".")[0])
    monkeypatch.setattr(checkpoint_module.cloudpickle, "__version__", f"{major}.99.0")
    store.write("s", "minor", {"x": 1})
    monkeypatch.setattr(checkpoint_module.cloudpickle, "__version__", f"{major + 1}.0.0")
    store.write("s", "major", {"x": 1})
    monkeypatch.undo()
    assert store.read("s", "minor") == {"x": 1}
    with pytest.raises(CheckpointRefused, match=f"cloudpickle {major + 1}.0.0"):
        store.read("s", "major")


def test_many_chunks_hash_in_parallel_and_chunk_size_is_per_file(tmp_path: Path) -> None:
    """A file of many small chunks round-trips, and a store with another chunk size reads it."""
    small = CheckpointStore(tmp_path, secret=SECRET, chunk_size=4096)
    arr = np.random.default_rng(0).random(200_000)
    small.write("s", "k", {"arr": arr, "obj": {"a": list(range(5000))}})
    big = CheckpointStore(tmp_path, secret=SECRET)
    for reader in (small, big):
        back = reader.read("s", "k")
        assert np.array_equal(back["arr"], arr) and back["obj"]["a"][-1] == 4999


def test_chunk_size_is_validated(tmp_path: Path) -> None:
    """A chunk size outside the format's bounds is rejected up front."""
    with pytest.raises(ValueError):
        CheckpointStore(tmp_path, chunk_size=16)


def test_written_bytearray_can_be_resized_afterwards(store: CheckpointStore) -> None:
    """The store lets go of its views of the outputs: a bytearray output can grow after write."""
    data = bytearray(b"x" * 200_000)
    store.write("s", "k", {"data": data})
    data.extend(b"more")
    assert len(data) == 200_004


def test_concurrent_writes_from_threads_all_load(store: CheckpointStore) -> None:
    """Eight threads writing different keys at once: every checkpoint loads with its own value."""

    def work(i: int) -> None:
        store.write("s", f"k{i}", {"arr": np.full(300_000, i), "i": i})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        back = store.read("s", f"k{i}")
        assert back["i"] == i and (back["arr"] == i).all()


def test_checkpoint_refused_is_a_one_line_value_error_that_pickles(store: CheckpointStore) -> None:
    """CheckpointRefused is a ValueError and NbflowError, one line, and survives pickling."""
    store.write("s", "k", {"x": 1})
    data = bytearray(read_bytes(store, "s", "k"))
    data[-80] ^= 1
    write_bytes(store, "s", "k", bytes(data))
    with pytest.raises(CheckpointRefused) as caught:
        store.read("s", "k")
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, NbflowError)
    assert "\n" not in str(error) and error.step == "s" and error.key == "k"
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is CheckpointRefused and str(again) == str(error)


def test_write_error_names_the_step_and_keeps_the_old_checkpoint(
    local: CheckpointStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError mid-write becomes CheckpointWriteError; no temp file remains; the old file loads."""
    local.write("train", "k", {"x": "old"})
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(CheckpointWriteError) as caught:
        local.write("train", "k", {"x": "new", "arr": np.zeros(100_000)})
    monkeypatch.undo()
    assert str(caught.value) == (
        "step 'train': checkpoint not written: [Errno 28] No space left on device"
    )
    assert caught.value.errno == 28 and isinstance(caught.value, OSError)
    folder = Path(local.path_for("train", "k")).parent
    assert sorted(p.name for p in folder.iterdir()) == ["k.ckpt"]
    assert local.read("train", "k") == {"x": "old"}


def test_local_modes_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """Folders created by the store are 0700 and checkpoint files 0600, even with umask 0."""
    old = os.umask(0)
    try:
        store = CheckpointStore(tmp_path / "a" / "b" / "store", secret=SECRET)
        store.write("s", "k", {"x": 1})
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "store"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    path = Path(store.path_for("s", "k"))
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_sweep_removes_only_old_temp_files(local: CheckpointStore) -> None:
    """Temp files older than the threshold go; fresh ones and checkpoints stay; list ignores them."""
    local.write("s", "k", {"x": 1})
    folder = Path(local.path_for("s", "k")).parent
    old = folder / ".k.ckpt.123.dead.tmp"
    fresh = folder / ".k.ckpt.456.live.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert [e.key for e in local.list()] == ["k"]
    assert local.sweep_temp_files(older_than=3600) == 1
    assert not old.exists() and fresh.exists()
    assert local.read("s", "k") == {"x": 1}


def test_file_url_uses_the_local_backend(tmp_path: Path) -> None:
    """A file:// URL is a plain local path (fsync, modes)."""
    store = CheckpointStore(f"file://{tmp_path}/st", secret=SECRET)
    store.write("s", "k", {"x": 1})
    assert store.path_for("s", "k") == str(tmp_path / "st" / "s" / "k.ckpt")
    assert CheckpointStore(tmp_path / "st", secret=SECRET).read("s", "k") == {"x": 1}


def test_memory_store_leaves_no_temp_files(tmp_path: Path) -> None:
    """On memory://, a write ends with the checkpoint alone in its folder."""
    import fsspec

    root = f"memory://nbflow-test-{uuid.uuid4().hex}"
    store = CheckpointStore(root, secret=SECRET)
    store.write("s", "k", {"arr": np.zeros(100_000)})
    fs = fsspec.filesystem("memory")
    names = [os.path.basename(p) for p in fs.ls(root + "/s", detail=False)]
    assert names == ["k.ckpt"]
    assert store.path_for("s", "k").startswith("memory://")
    fs.rm(root, recursive=True)


def test_default_secret_comes_from_the_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `secret=`, the store signs with NBFLOW_SECRET_PATH's secret, created on first write."""
    from nbflow.store import secret as secret_module

    path = tmp_path / "cfg" / "secret"
    monkeypatch.setenv("NBFLOW_SECRET_PATH", str(path))
    secret_module.forget_cached_secrets()
    try:
        store = CheckpointStore(tmp_path / "st")
        assert not path.exists()
        store.write("s", "k", {"x": 1})
        assert path.exists()
        explicit = CheckpointStore(tmp_path / "st", secret=secret_module.load_secret(path))
        assert explicit.read("s", "k") == {"x": 1}
        with pytest.raises(CheckpointRefused, match="signature"):
            CheckpointStore(tmp_path / "st", secret=b"other" * 8).read("s", "k")
    finally:
        secret_module.forget_cached_secrets()


def test_info_of_a_damaged_header_is_refused(store: CheckpointStore) -> None:
    """info() reads only the header, and a header that does not parse is refused."""
    store.write("s", "k", {"x": 1})
    data = bytearray(read_bytes(store, "s", "k"))
    data[20] = ord("{")  # breaks the JSON
    write_bytes(store, "s", "k", bytes(data))
    with pytest.raises(CheckpointRefused, match="damaged header"):
        store.info("s", "k")


def test_a_checkpoint_of_the_previous_format_is_refused_as_older(local: CheckpointStore) -> None:
    """A format-1 file (keys before content addressing) is never loaded: one line says it is older."""
    local.write("s", "k", {"x": 1})
    path = Path(local.path_for("s", "k"))
    data = bytearray(path.read_bytes())
    data[8:12] = (1).to_bytes(4, "little")  # the format version in the fixed part
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointRefused, match=r"written by an older nbflow; recomputing$"):
        local.read("s", "k")


def test_the_header_keeps_what_a_restore_and_why_need(local: CheckpointStore) -> None:
    """Deletions, in-place changes, digests, key parts and the run's duration survive the round trip."""
    parts = [("input", "rows", "ab" * 32, "list of 3")]
    digests = {"rows": ["cd" * 32, ["SCALE"], False], "model": None}
    local.write("s", "k", {"rows": [1, 2, 3], "model": 1}, deleted=("tmp",), mutated=("rows",),
                digests=digests, parts=parts, duration=4.0)
    header = local.load("s", "k").header
    assert header is not None
    assert (header.deleted, header.mutated, header.duration) == (("tmp",), ("rows",), 4.0)
    assert header.digests == digests and header.parts == tuple(tuple(p) for p in parts)
    assert local.info("s", "k").parts == tuple(tuple(p) for p in parts)
