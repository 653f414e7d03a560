"""The REST API's answers, read from real manifests recorded by real Flows (no server: see tests/browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbflow.server import flows
from nbflow.store.manifest.readonly import ReadOnlyManifest
from nbflow.store.manifest.schema import ManifestError
from tests.stores import make_root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("flows"))


def test_the_listing_has_every_notebook_with_a_store_and_nothing_else(root: Path) -> None:
    answer = flows.list_flows(root)
    assert answer["version"] == flows.API_VERSION and answer["problems"] == [] and not answer["truncated"]
    by_path = {f["path"]: f for f in answer["flows"]}
    # not plain.ipynb (no store), not the hidden folder, not the link's target outside the root
    assert sorted(by_path) == ["a.ipynb", "b.ipynb", "sub/c.ipynb"]
    a = by_path["a.ipynb"]
    assert a["flow"] == "a" and a["total"] == 2 and a["counts"] == {"succeeded": 1, "failed": 1}
    assert a["last_run"]["finished"] >= a["last_run"]["started"] and a["last_run"]["interrupted"] is False
    assert a["last_run"]["counts"]["failed"] == 1
    b = by_path["b.ipynb"]
    assert b["counts"] == {"restored": 1} and b["time_saved"] >= 0  # its second run restored the step


def test_one_notebook_has_each_steps_latest_state_attempts_errors_and_provenance(root: Path) -> None:
    answer = flows.flow_detail(root, "a.ipynb")
    steps = {s["name"]: s for s in answer["steps"]}
    assert list(steps) == ["one", "two"]
    assert steps["one"]["state"] == "succeeded" and steps["one"]["source"] == "computed"
    assert steps["one"]["cell"] == "cell-one" and steps["one"]["key"] and steps["one"]["checkpoint"]
    two = steps["two"]
    assert two["state"] == "failed" and two["attempts"] == 1 and two["cell"] == "cell-two"
    assert two["error"].startswith("ValueError: bad input") and "Traceback" in two["traceback"]
    assert two["attempt_log"][0]["error"].startswith("ValueError") and two["schema"] == 1
    restored = flows.flow_detail(root, "b.ipynb")["steps"][0]
    assert restored["state"] == "restored" and restored["computed_at"] and restored["load_seconds"] is not None
    assert flows.flow_detail(root, "sub/c.ipynb")["steps"][0]["name"] == "deep"


@pytest.mark.parametrize("path", [
    "../outside/e.ipynb", "sub/../a.ipynb", "/etc/passwd", "./a.ipynb", ".hidden/h.ipynb", "link.ipynb",
    "plain.ipynb", "missing.ipynb", "sub", "a.ipynb/", "..\\outside\\e.ipynb",
])
def test_a_path_outside_the_root_or_without_a_store_is_not_found(root: Path, path: str) -> None:
    with pytest.raises(flows.NotFound):
        flows.flow_detail(root, path)


def test_reading_writes_nothing(root: Path, tmp_path: Path) -> None:
    manifest = root / ".nbflow" / "manifest.sqlite"
    before = {p.name: p.read_bytes() for p in manifest.parent.glob("manifest.sqlite*")}
    flows.list_flows(root)
    flows.flow_detail(root, "a.ipynb")
    assert {p.name: p.read_bytes() for p in manifest.parent.glob("manifest.sqlite*")} == before
    assert not (root / "sub" / "nothing").exists()
    with pytest.raises(ManifestError, match="no manifest at"):
        ReadOnlyManifest(tmp_path / "none.sqlite")
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(ManifestError, match="cannot be read"):
        ReadOnlyManifest(tmp_path / "junk.sqlite")
    assert (tmp_path / "junk.sqlite").read_text() == "not a database"  # left where it was, unlike Manifest
