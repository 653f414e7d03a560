"""Degrade, never stop: stores that cannot be used give one warning, and steps still run without checkpoints."""

from __future__ import annotations

import logging
import sqlite3
import warnings
from pathlib import Path

import pytest

from nbflow import Flow
from nbflow.core.errors import NbflowWarning
from nbflow.core.states import State
from nbflow.store.store import Store, open_store
from tests.stores import check_kept_aside, manifest_in_the_way


def run_two_steps(store: Store) -> dict[str, object]:
    with Flow(cache=store) as flow:
        flow.subscribe(store.manifest)
        flow.add("a", "x = 1")
        flow.add("b", "y = x + 1", after="a")
        flow.run()
        flow.wait(timeout=30)
        statuses = flow.status()
        assert {s.state for s in statuses.values()} == {State.SUCCEEDED}
        return {"y": flow.namespace["y"], "statuses": statuses}


def open_warned(folder: Path, **kwargs: object) -> tuple[Store, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NbflowWarning)
        store = open_store(folder, flow_name="nb", **kwargs)  # type: ignore[arg-type]
    return store, [str(w.message) for w in caught if issubclass(w.category, NbflowWarning)]


@pytest.mark.parametrize("make", ["file", "unwritable"])
def test_an_unusable_default_store_warns_once_and_steps_run_without_checkpoints(tmp_path: Path, make: str) -> None:
    if make == "file":
        folder = tmp_path
        (folder / ".nbflow").write_text("not a folder")
    else:
        folder = Path("/sys/kernel")  # not writable, even by root
    store, messages = open_warned(folder)
    try:
        assert len(messages) == 1 and "steps run without checkpoints" in messages[0], messages
        assert store.disabled_reason is not None and str(folder / ".nbflow") in store.disabled_reason
        result = run_two_steps(store)
        assert result["y"] == 2
        statuses = result["statuses"]
        assert isinstance(statuses, dict)
        for status in statuses.values():
            assert status.checkpoint is None and "checkpoints are off" in (status.not_restorable or "")
        # Runs are still recorded, in this process only.
        assert [r.status.name for r in store.manifest.latest()] == ["a", "b"]
    finally:
        store.close()
    if make == "file":
        assert (folder / ".nbflow").read_text() == "not a folder"  # nothing was written over it


def test_a_store_setting_that_is_a_file_falls_back_to_the_default_with_one_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    monkeypatch.setenv("NBFLOW_STORE", str(target))
    store, messages = open_warned(tmp_path)
    try:
        assert len(messages) == 1 and "a-file" in messages[0] and "is a file" in messages[0], messages
        assert store.disabled_reason is None and Path(store.root) == tmp_path / ".nbflow"
        statuses = run_two_steps(store)["statuses"]
        assert isinstance(statuses, dict) and all(s.checkpoint for s in statuses.values())
    finally:
        store.close()
    assert target.read_text() == "x"


@pytest.mark.parametrize("kind", ["a corrupt file", "a folder"])
def test_a_manifest_in_the_way_is_moved_aside_with_one_warning_and_a_new_one_started(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    folder = tmp_path / ".nbflow"
    manifest, reason, label = manifest_in_the_way(folder, kind)
    with caplog.at_level(logging.WARNING, logger="nbflow"):
        store, messages = open_warned(tmp_path)
    try:
        (aside,) = folder.glob(f"manifest.sqlite.{label}-*")
        assert messages == [f"the manifest {manifest} {reason}; moved it to {aside.name} and started a new one"]
        assert any(f"moved it to {aside.name}" in r.getMessage() for r in caplog.records)
        check_kept_aside(aside, kind)
        assert store.disabled_reason is None and store.manifest.path == manifest
        statuses = run_two_steps(store)["statuses"]
        assert isinstance(statuses, dict) and all(s.checkpoint for s in statuses.values())
        assert [r.status.name for r in store.manifest.latest()] == ["a", "b"]
    finally:
        store.close()
    assert manifest.is_file()
    conn = sqlite3.connect(folder / "manifest.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
