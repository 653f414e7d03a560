"""The store stays inside itself: no write, read or removal goes through a link planted in it."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from nbflow import Flow
from nbflow.core.errors import NbflowWarning
from nbflow.core.states import State
from nbflow.store.checkpoint import CheckpointStore
from nbflow.store.errors import CheckpointRefused, CheckpointWriteError
from nbflow.store.store import open_store


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_step_folder_that_is_a_link_is_refused_and_nothing_lands_outside(tmp_path: Path, outside: Path) -> None:
    store = CheckpointStore(tmp_path / "store", secret=b"s" * 32)
    store.ensure()
    (tmp_path / "store" / "fit").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    with pytest.raises(CheckpointWriteError, match="is a symbolic link"):
        store.write("fit", "k1", {"x": 1})
    assert not store.remove("other", "k1")  # a missing step folder is fine
    assert store.list() == []  # a linked folder is not listed, so cleaning never reaches into it
    with pytest.raises(OSError, match="is a symbolic link"):
        store.remove("fit", "precious")
    assert snapshot(outside) == before


def test_a_checkpoint_that_is_a_link_is_not_read_and_is_replaced_by_a_real_file(
        tmp_path: Path, outside: Path) -> None:
    store = CheckpointStore(tmp_path / "store", secret=b"s" * 32)
    store.write("fit", "k0", {"x": 0})
    real = Path(store.path_for("fit", "k0"))
    link = Path(store.path_for("fit", "k1"))
    os.replace(real, outside / "planted.ckpt")
    link.symlink_to(outside / "planted.ckpt")
    with pytest.raises(CheckpointRefused, match="cannot read"):
        store.load("fit", "k1")
    before = snapshot(outside)
    store.write("fit", "k1", {"x": 1})
    assert not link.is_symlink() and store.load("fit", "k1").outputs == {"x": 1}
    assert snapshot(outside) == before


def test_a_manifest_that_is_a_link_degrades_the_store_with_one_warning(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "nb"
    (folder / ".nbflow").mkdir(parents=True)
    (folder / ".nbflow" / "manifest.sqlite").symlink_to(outside / "precious.txt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NbflowWarning)
        store = open_store(folder, flow_name="nb")
    messages = [str(w.message) for w in caught if issubclass(w.category, NbflowWarning)]
    try:
        assert len(messages) == 1 and "is a symbolic link" in messages[0], messages
        with Flow(cache=store) as flow:
            flow.add("a", "x = 1")
            flow.run()
            flow.wait(timeout=30)
            assert flow.status()["a"].state is State.SUCCEEDED
    finally:
        store.close()
    assert (outside / "precious.txt").read_text() == "keep me"
