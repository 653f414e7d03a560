"""Checkpoints written by another process (`dask_store=shared`): staged, adopted once, checked against the
receipt, dropped when nobody adopts them; the writer that travels never shows its secret."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from nbflow.store.checkpoint import CheckpointStore
from nbflow.store.shared import SharedWriter, adopt, drop

SECRET = bytes(range(32))


def test_a_staged_checkpoint_is_invisible_until_adopted_then_reads_as_any_other(tmp_path: Path) -> None:
    writer = pickle.loads(pickle.dumps(SharedWriter(str(tmp_path), SECRET)))  # as it reaches a worker
    receipt = writer("s", "k1", "tok1", {"x": [1, 2, 3]}, where="tcp://w:1")
    store = CheckpointStore(tmp_path, secret=SECRET)
    assert store.list() == [] and not store.exists("s", "k1")
    assert receipt["written_by"].endswith(" on tcp://w:1") and receipt["digests"]["x"] is not None
    written = adopt(store, "s", "k1", "tok1", receipt["size"], receipt["seconds"])
    assert written.path == store.path_for("s", "k1") and store.read("s", "k1") == {"x": [1, 2, 3]}
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["k1.ckpt"]


def test_a_staged_file_that_is_not_the_receipts_is_refused_and_can_be_dropped(tmp_path: Path) -> None:
    receipt = SharedWriter(str(tmp_path), SECRET)("s", "k1", "tok1", {"x": 1})
    store = CheckpointStore(tmp_path, secret=SECRET)
    with pytest.raises(OSError, match="is not the one the worker wrote"):
        adopt(store, "s", "k1", "tok1", receipt["size"] + 1, 0.0)
    with pytest.raises(FileNotFoundError):
        adopt(store, "s", "k1", "other", receipt["size"], 0.0)
    drop(store, "s", "k1", "tok1")
    assert list((tmp_path / "s").iterdir()) == []


def test_the_writer_never_shows_its_secret_and_tokens_are_checked(tmp_path: Path) -> None:
    writer = SharedWriter(str(tmp_path), SECRET)
    assert SECRET.hex() not in repr(writer) and repr(SECRET) not in repr(writer)
    with pytest.raises(ValueError, match="token must be letters and digits"):
        writer("s", "k", "../x", {"x": 1})


def test_the_store_adopts_only_an_intact_staged_file_for_its_step_and_key(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, secret=SECRET)
    store.write("s", "k1", {"x": "old"})
    receipt = SharedWriter(str(tmp_path), SECRET)("s", "k1", "tok1", {"x": "new"})
    staged = Path(store.staged_path("s", "k1", "tok1"))
    good = staged.read_bytes()
    elsewhere = Path(store.staged_path("s", "k2", "tok1"))
    elsewhere.write_bytes(good)  # the receipt's size, under another key's staged name
    with pytest.raises(OSError, match="is not the one the worker wrote"):
        store.adopt_staged("s", "k2", "tok1", receipt["size"])
    assert store.drop_staged("s", "k2", "tok1") is True and not elsewhere.exists()
    staged.write_bytes(b"not a checkpoint" + good[16:])
    with pytest.raises(OSError, match=r"^the staged checkpoint .*tok1\.staged\.tmp is damaged: "):
        store.adopt_staged("s", "k1", "tok1", receipt["size"])
    assert store.read("s", "k1") == {"x": "old"}  # a refused file leaves the checkpoint in place as it was
    staged.write_bytes(good)
    moved = store.adopt_staged("s", "k1", "tok1", receipt["size"])
    assert (moved.path, moved.size) == (store.path_for("s", "k1"), receipt["size"]) and moved.seconds >= 0
    assert store.read("s", "k1") == {"x": "new"} and not staged.exists()
    assert store.drop_staged("s", "k1", "tok1") is False  # adopted: nothing staged is left to drop
