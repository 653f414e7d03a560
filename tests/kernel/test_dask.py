"""`--executor dask` in real kernels: output under the cell, restore after a restart (with the kernel or the
worker writing the checkpoint), and the LocalCluster a kernel starts (and stops). A real LocalCluster
throughout (kernels reach it through DASK_SCHEDULER_ADDRESS). Mixed flows: test_mixed_flow.py."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
from distributed import LocalCluster

from tests.executors.clusters import poll

from .conftest import Kernel


def _kernel(cwd: Path, cluster: LocalCluster | None) -> Kernel:
    env = {"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address} if cluster is not None else {}
    kernel = Kernel(cwd, env=env)
    assert kernel.execute("%load_ext nbflow").status == "ok"
    return kernel


# `runs` is an absolute path: a worker's working directory is its own, not the notebook's.
CRUNCH = ("%%step crunch\nimport os\nprint('crunched on', os.getpid())\n"
          "open(runs, 'a').write('x\\n')\ntotal = sum(range(n))")


def test_a_dask_step_prints_under_its_cell_and_is_restored_after_a_restart(
        tmp_path: Path, cluster: LocalCluster, worker_pids: set[int]) -> None:
    """`%flow config executor=dask` makes the step a Dask one: what it printed on the worker shows under
    its cell; after a kernel restart the same cells restore it (it runs once) and show it again."""
    kernel = _kernel(tmp_path, cluster)
    try:
        assert kernel.execute("%flow config executor=dask").status == "ok"
        assert kernel.execute(f"n = 5000\nruns = {str(tmp_path / 'crunch.runs')!r}").status == "ok"
        step = kernel.execute(CRUNCH, cell_id="crunch-cell")
        assert step.status == "ok", step.error
        assert kernel.execute("%flow wait", timeout=120).status == "ok"
        text = kernel.widget_text(step.widget_ids()[0])
        pid = int(text.split("crunched on ", 1)[1].split()[0])
        assert pid in worker_pids, text
        assert "✓ crunch succeeded" in text
        assert kernel.execute("print(total)").text.strip() == str(sum(range(5000)))
    finally:
        kernel.close()
    kernel = _kernel(tmp_path, cluster)
    try:
        assert kernel.execute("%flow config executor=dask").status == "ok"
        assert kernel.execute(f"n = 5000\nruns = {str(tmp_path / 'crunch.runs')!r}").status == "ok"
        step = kernel.execute(CRUNCH, cell_id="crunch-cell")
        assert kernel.execute("%flow wait", timeout=120).status == "ok"
        text = kernel.widget_text(step.widget_ids()[0])
        assert "↺ restored" in text and f"crunched on {pid}" in text, text
        assert kernel.execute("print(total)").text.strip() == str(sum(range(5000)))
    finally:
        kernel.close()
    assert (tmp_path / "crunch.runs").read_text() == "x\n"  # computed once, on the cluster


SPY = ("from nbflow.jupyter.extension import kernel_flow\n_store = kernel_flow().store\n_adopt = _store.adopt\n"
       "adopted = []\n"
       "def _spy(*args):\n    saved = _adopt(*args)\n    adopted.append(saved.written_by)\n    return saved\n"
       "_store.adopt = _spy")
ROWS = "%%step rows\nimport os\nrows = list(range(n))\nwriter = os.getpid()\nopen(runs, 'a').write('x\\n')"


def test_with_dask_store_shared_the_worker_writes_the_checkpoint_and_a_restarted_kernel_restores_it(
        tmp_path: Path, cluster: LocalCluster, worker_pids: set[int]) -> None:
    """The kernel adopts the checkpoint a worker wrote (the writer's pid is a worker's, not the kernel's);
    after a restart the same cells restore it with the same value, and the step ran once."""
    setup = f"n = 20000\nruns = {str(tmp_path / 'rows.runs')!r}"
    kernel = _kernel(tmp_path, cluster)
    try:
        assert kernel.execute("%flow config executor=dask dask_store=shared").status == "ok"
        assert "dask_store = 'shared'" in kernel.execute("%flow config").text
        assert kernel.execute(SPY).status == "ok" and kernel.execute(setup).status == "ok"
        assert kernel.execute(ROWS).status == "ok"
        assert kernel.execute("%flow wait", timeout=120).status == "ok"
        (written_by,) = eval(kernel.execute("print(adopted)").text)
        pid = int(written_by.split()[1])
        kernel_pid = int(kernel.execute("print(os.getpid())").text)
        assert pid in worker_pids and pid != kernel_pid and kernel.execute("print(writer)").text.strip() == str(pid)
    finally:
        kernel.close()
    kernel = _kernel(tmp_path, cluster)
    try:
        assert kernel.execute("%flow config executor=dask dask_store=shared").status == "ok"
        assert kernel.execute(setup).status == "ok" and kernel.execute(ROWS).status == "ok"
        assert kernel.execute("%flow wait", timeout=120).status == "ok"
        assert "restored" in kernel.execute("%flow status").text
        assert kernel.execute("print(rows == list(range(n)), writer)").text.split() == ["True", str(pid)]
    finally:
        kernel.close()
    assert (tmp_path / "rows.runs").read_text() == "x\n"


def test_a_kernel_without_a_cluster_starts_one_says_so_once_and_stops_it_at_shutdown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    kernel = _kernel(tmp_path, None)
    try:
        first = kernel.execute("%%step first --executor dask\nimport os\nfirst_pid = os.getpid()")
        second = kernel.execute("%%step second --executor dask --after first\nimport os\nsecond_pid = os.getpid()")
        assert kernel.execute("%flow wait", timeout=120).status == "ok"
        assert "nbflow: started a local Dask cluster for --executor dask (" in kernel.widget_text(first.widget_ids()[0])
        assert "started a local Dask cluster" not in kernel.widget_text(second.widget_ids()[0])
        kernel_pid = int(kernel.execute("print(os.getpid())").text)
        workers = {int(kernel.execute(f"print({name})").text) for name in ("first_pid", "second_pid")}
        assert kernel_pid not in workers and all(psutil.pid_exists(p) for p in workers)
    finally:
        kernel.close()
    poll(lambda: not any(psutil.pid_exists(p) for p in workers), what="the kernel's cluster stopped with it")
