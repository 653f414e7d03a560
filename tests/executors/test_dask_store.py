"""`dask_store=shared` on a real LocalCluster: the worker writes the step's checkpoint with nbflow's own writer,
the flow adopts it from a small receipt, a fresh flow restores it, and a tampered one is refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from nbflow.core import events as ev
from nbflow.core.attempt import run_attempt
from nbflow.core.cache import Receipt, Saved, Snapshot
from nbflow.core.digest import digest
from nbflow.core.fingerprints import DigestTable
from nbflow.core.flow import Flow
from nbflow.core.namespace import NamespaceHost
from nbflow.core.spec import StepSpec, make_spec
from nbflow.core.states import State
from nbflow.executors.dask import DaskExecutor
from nbflow.store.store import Store

BIG = "import os\nrows = list(range(n))\ntotal = sum(rows)\nwriter = os.getpid()\nprint('summed', total)\n" \
      "open(runs, 'a').write('x')"


@pytest.fixture(scope="module")
def worker_pids(client: Client) -> set[int]:
    return set(client.run(os.getpid).values())


class SpiedStore(Store):
    """A real store that keeps what it adopted and says whether it wrote a checkpoint itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adopted: list[Saved] = []
        self.saves: list[str] = []  # the steps whose checkpoint the kernel wrote

    def adopt(self, spec: StepSpec, key: str, receipt: Receipt) -> Saved:
        saved = super().adopt(spec, key, receipt)
        self.adopted.append(saved)
        return saved

    def save(self, spec: StepSpec, key: str, snapshot: Snapshot, live: Any = None) -> Saved:
        self.saves.append(spec.name)
        return super().save(spec, key, snapshot, live)


class Session:
    """One flow over a store: a kernel's view of it, opened afresh as after a restart."""

    def __init__(self, root: str, cluster: LocalCluster, local: Path, mode: str = "shared") -> None:
        self.store = SpiedStore(root, flow_name="shared", local_root=local)
        self.flow = Flow(cache=self.store, executors=[DaskExecutor(cluster.scheduler_address, store=mode)])
        self.flow.subscribe(self.store.manifest)
        self.warnings: list[str] = []
        self.flow.subscribe(self._seen)

    def _seen(self, event: Any) -> None:
        if isinstance(event, ev.StepWarning):
            self.warnings.append(event.message)

    def run(self, n: int, runs: Path) -> None:
        self.flow.namespace.update(n=n, runs=str(runs))
        self.flow.add("big", BIG, executor="dask")
        self.flow.add("reader", "half = total // 2", after="big")  # a thread step keyed by big's digests
        self.flow.run()
        self.flow.wait(timeout=60)

    def close(self) -> None:
        self.flow.close()
        self.store.close()


@pytest.fixture
def session(cluster: LocalCluster, tmp_path: Path) -> Iterator[Session]:
    found = Session(str(tmp_path / "store"), cluster, tmp_path / "local")
    yield found
    found.close()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_the_worker_writes_the_checkpoint_and_a_fresh_flow_restores_it(
        session: Session, cluster: LocalCluster, worker_pids: set[int], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    session.run(50_000, runs)
    status = session.flow.status("big")["big"]
    assert status.state is State.SUCCEEDED and session.flow.namespace["total"] == sum(range(50_000))
    (saved,) = session.store.adopted
    assert "big" not in session.store.saves and saved.written_by is not None  # the kernel wrote nothing
    assert saved.digests is not None  # the worker's digests are the kernel's, so readers' keys agree
    for name in ("rows", "total"):
        found = saved.digests[name]
        assert found is not None and found.hex == digest(session.flow.namespace[name]).hex, name
    pid = int(saved.written_by.split()[1])
    assert pid in worker_pids and pid != os.getpid() and pid == session.flow.namespace["writer"], saved.written_by
    assert saved.written_by.split(" on ")[1] in cluster.scheduler_info["workers"]
    (checkpoint,) = _files(tmp_path / "store" / "big")  # adopted: the final file only, no staged one left
    assert str(checkpoint) == saved.path == status.checkpoint and checkpoint.suffix == ".ckpt"
    assert status.size == checkpoint.stat().st_size
    session.close()

    again = Session(str(tmp_path / "store"), cluster, tmp_path / "local")  # as after a kernel restart
    try:
        again.run(50_000, runs)
        status = again.flow.status("big")["big"]
        assert status.state is State.RESTORED and again.flow.namespace["rows"] == list(range(50_000))
        assert again.flow.status("reader")["reader"].state is State.RESTORED  # its key matched
        assert again.flow.namespace["writer"] == pid
    finally:
        again.close()
    assert runs.read_text() == "x"  # computed once, on the worker


def test_a_tampered_worker_written_checkpoint_is_refused_and_the_step_runs_again(
        session: Session, cluster: LocalCluster, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    session.run(1000, runs)
    (checkpoint,) = _files(tmp_path / "store" / "big")
    session.close()
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    again = Session(str(tmp_path / "store"), cluster, tmp_path / "local")
    try:
        again.run(1000, runs)
        assert again.flow.status("big")["big"].state is State.SUCCEEDED
        assert any("checkpoint refused" in w and "mismatch" in w for w in again.warnings), again.warnings
    finally:
        again.close()
    assert runs.read_text() == "xx"


def test_the_signing_secret_is_written_nowhere_in_the_store(session: Session, tmp_path: Path) -> None:
    session.run(1000, tmp_path / "runs")
    secret = session.store.checkpoints._secret()  # type: ignore[union-attr]
    for path in (tmp_path / "store").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert secret not in content and secret.hex().encode() not in content, path


def test_a_store_the_workers_do_not_share_is_written_by_the_kernel_and_says_why(
        cluster: LocalCluster, tmp_path: Path) -> None:
    """A `memory://` store lives in each process: the worker writes into its own, the kernel cannot adopt
    that file, so it writes the checkpoint itself and the step says so."""
    found = Session(f"memory://nbflow-shared-{os.getpid()}-{tmp_path.name}", cluster, tmp_path / "local")
    try:
        found.run(1000, tmp_path / "runs")
        status = found.flow.status("big")["big"]
        assert status.state is State.SUCCEEDED and not found.store.adopted and "big" in found.store.saves
        assert any("cannot be used here" in w and "the kernel wrote it instead" in w for w in found.warnings), \
            found.warnings
        assert found.store.checkpoints.exists("big", status.key)  # type: ignore[arg-type]
    finally:
        found.close()


def test_local_mode_keeps_writing_in_the_kernel(cluster: LocalCluster, tmp_path: Path) -> None:
    found = Session(str(tmp_path / "store"), cluster, tmp_path / "local", mode="local")
    try:
        found.run(1000, tmp_path / "runs")
        status = found.flow.status("big")["big"]
        assert status.state is State.SUCCEEDED and not found.store.adopted and "big" in found.store.saves
        assert status.checkpoint is not None and status.checkpoint.endswith(".ckpt")
    finally:
        found.close()


def test_a_worker_written_checkpoint_of_an_attempt_given_up_is_dropped(cluster: LocalCluster, tmp_path: Path) -> None:
    """The worker wrote the staged file, but the attempt was no longer the current one when it came to
    keep it (`claim()` said no, as after a timeout or cancel): no checkpoint stays, staged or final."""
    store = SpiedStore(str(tmp_path / "store"), flow_name="shared", local_root=tmp_path / "local")
    executor = DaskExecutor(cluster.scheduler_address, store="shared")
    host = NamespaceHost({"n": 10})
    host.remote["dask"] = executor
    spec = make_spec("given_up", "total = sum(range(n))", executor="dask")
    host.prepare(spec)
    try:
        result = run_attempt(host, store, spec, 1, False, DigestTable(), claim=lambda: False)
    finally:
        executor.shutdown()
        store.close()
    assert result.saved is None and result.outputs.values == {"total": 45}
    assert not store.adopted and not store.saves
    assert _files(tmp_path / "store") == []  # nothing staged, nothing final
