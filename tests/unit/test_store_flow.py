"""The Store as a Flow's cache: resume across processes, provenance, and the unreachable-store fallback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from nbflow.core.errors import NbflowWarning
from nbflow.store.store import DEFAULT_FOLDER, open_store

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from nbflow.core.flow import Flow
    from nbflow.store.store import Store

    root, log = Path(sys.argv[1]), Path(sys.argv[2])
    store = Store(root / "store", flow_name="five", watch_root=root)
    ns = {"log": str(log), "scale": 3}
    flow = Flow(ns, cache=store)
    flow.subscribe(store.manifest)
    body = "open(log, 'a').write('{name}\\\\n')\\n{line}"
    flow.add("a", body.format(name="a", line="a = list(range(10))"))
    flow.add("b", body.format(name="b", line="b = [x * scale for x in a]"), after="a")
    flow.add("c", body.format(name="c", line="c = {x: str(x) for x in b}"), after="b")
    flow.add("d", body.format(name="d", line="d = sum(b)"), after="b")
    flow.add("e", body.format(name="e", line="e = (len(c), d)"), after="c,d")
    flow.run()
    flow.wait(timeout=30)
    status = flow.status()
    print(json.dumps({
        "values": {n: repr(ns[n]) for n in "abcde"},
        "states": {n: s.state.value for n, s in status.items()},
        "saved": sum(s.time_saved or 0 for s in status.values()),
    }))
    flow.close()
    store.close()
    """
)


def run_in_subprocess(tmp_path: Path) -> dict[str, object]:
    script = tmp_path / "five.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path), str(tmp_path / "log.txt")],
                          capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_fresh_process_over_the_same_store_restores_all_five_steps(tmp_path: Path) -> None:
    """Five steps run in one process; a second process executes none of them and gets equal values."""
    first = run_in_subprocess(tmp_path)
    second = run_in_subprocess(tmp_path)
    assert sorted((tmp_path / "log.txt").read_text().split()) == ["a", "b", "c", "d", "e"]
    assert second["values"] == first["values"]
    assert set(first["states"].values()) == {"succeeded"}  # type: ignore[union-attr]
    assert set(second["states"].values()) == {"restored"}  # type: ignore[union-attr]


def test_unreachable_store_warns_once_and_falls_back(tmp_path: Path) -> None:
    """A store URL that cannot be reached gives one warning naming it, then the local default is used."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder should be")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = open_store(tmp_path, flow_name="nb", configured=str(blocker / "store"))
    try:
        messages = [str(w.message) for w in caught if issubclass(w.category, NbflowWarning)]
        assert len(messages) == 1
        assert str(blocker / "store") in messages[0] and "cannot be reached" in messages[0]
        assert Path(store.root) == tmp_path / DEFAULT_FOLDER
    finally:
        store.close()


def test_memory_url_store_keeps_the_manifest_local(tmp_path: Path) -> None:
    """An fsspec store (memory://) holds checkpoints; the SQLite manifest stays on local disk."""
    pytest.importorskip("fsspec")
    store = open_store(tmp_path, flow_name="nb", configured="memory://nbflow-test-store")
    try:
        assert store.root.startswith("memory://")
        assert (tmp_path / DEFAULT_FOLDER / "manifest.sqlite").exists()
    finally:
        store.close()


def test_an_output_array_is_hashed_once_for_its_digest_and_its_checkpoint(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer hashes a big output while writing it; its content digest reuses those pieces; it verifies."""
    import numpy as np

    from nbflow.core.digest import pieces
    from nbflow.core.flow import Flow
    from nbflow.store import format as fmt
    from nbflow.store.store import Store

    hashed: list[int] = []
    real_chunk, real_piece = fmt.digest, pieces._one

    def chunk(parts: list[memoryview]) -> bytes:
        hashed.append(sum(len(p) for p in parts))
        return real_chunk(parts)

    def piece(view: memoryview) -> bytes:
        hashed.append(len(view))
        return real_piece(view)

    monkeypatch.setattr(fmt, "digest", chunk)
    monkeypatch.setattr(pieces, "_one", piece)
    code = "arr = np.arange(8 << 20, dtype=np.float64)\nhalf = arr[::2]"  # 64 MB, and a 32 MB strided view
    with Flow({"np": np}, cache=Store(tmp_path / "store")) as flow:
        flow.add("a", code)
        flow.run()
        flow.wait(timeout=60)
    # arr: 64 MB once (by the writer); half: 32 MB written, and 32 MB of its contiguous copy for its digest
    assert (128 << 20) <= sum(hashed) < (129 << 20)
    ns: dict[str, object] = {"np": np}
    with Flow(ns, cache=Store(tmp_path / "store")) as flow:
        flow.add("a", code)
        flow.run()
        flow.wait(timeout=60)
        assert flow.status()["a"].state.value == "restored"
    assert np.array_equal(ns["arr"], np.arange(8 << 20, dtype=np.float64))  # type: ignore[arg-type]
