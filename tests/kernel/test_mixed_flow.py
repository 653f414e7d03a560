"""Thread, process and Dask steps in one graph, with data passing every way between them: the same values in
a real kernel and in `nbflow run` (papermill), and a second `nbflow run` restoring every step. A real
LocalCluster (the kernels reach it through DASK_SCHEDULER_ADDRESS) and real process workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from distributed import LocalCluster

from .conftest import Kernel

# thread -> process and dask (two branches), process -> dask, dask -> process, both -> thread.
MIXED = [
    "%load_ext nbflow",
    "%%step base\nimport os\nnumbers = list(range(n))\nbase_pid = os.getpid()",
    "%%step squares --after base --executor process\nimport os\nsquares = [x * x for x in numbers]\n"
    "squares_pid = os.getpid()",
    "%%step cubes --after base --executor dask\nimport os\ncubes = {x: x ** 3 for x in numbers if x % 7 == 0}\n"
    "cubes_pid = os.getpid()",
    "%%step total --after squares --executor dask --retries 1\nimport os\ntotal = sum(squares) + offset\n"
    "total_pid = os.getpid()",
    "%%step combined --after cubes,total --executor process\nimport os\n"
    "combined = (sum(cubes.values()) - total, len(cubes))\ncombined_pid = os.getpid()",
    "%%step report --after combined,total\nimport os\n"
    "summary = {'n': n, 'count': len(squares), 'total': total, 'combined': list(combined)}\n"
    "report_pid = os.getpid()",
    "%flow wait",
    "import json, os\nprint('RESULT', json.dumps({'summary': summary, 'kernel': os.getpid(), 'pids': {"
    "s: globals()[s + '_pid'] for s in ('base', 'squares', 'cubes', 'total', 'combined', 'report')}}))",
]
PARAMETERS = "n = 3000\noffset = 7"
STEPS = ("base", "squares", "cubes", "total", "combined", "report")


def _expected(n: int = 3000, offset: int = 7) -> dict[str, object]:
    total = sum(x * x for x in range(n)) + offset
    cubes = [x ** 3 for x in range(n) if x % 7 == 0]
    return {"n": n, "count": n, "total": total, "combined": [sum(cubes) - total, len(cubes)]}


def _result(text: str) -> dict[str, object]:
    (line,) = [line for line in text.splitlines() if line.startswith("RESULT ")]
    found: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return found


def _check_placement(result: dict[str, object], worker_pids: set[int]) -> None:
    """Thread steps ran in the kernel, process steps in another process, Dask steps on the cluster."""
    pids = result["pids"]
    assert isinstance(pids, dict)
    kernel = result["kernel"]
    assert pids["base"] == pids["report"] == kernel, result
    assert pids["squares"] != kernel and pids["combined"] != kernel and pids["squares"] not in worker_pids, result
    assert pids["cubes"] in worker_pids and pids["total"] in worker_pids, result


def _batch(folder: Path, cluster: LocalCluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "nbflow"), "run", "mixed.ipynb", "out.ipynb"],
                          cwd=folder, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, DASK_SCHEDULER_ADDRESS=cluster.scheduler_address))


def _printed(path: Path) -> str:
    executed = nbformat.read(str(path), as_version=4)
    return "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))


def test_a_mixed_thread_process_dask_flow_gives_the_same_values_in_a_kernel_and_in_nbflow_run(
        tmp_path: Path, cluster: LocalCluster, worker_pids: set[int]) -> None:
    """The kernel run, then `nbflow run` on the same notebook in another folder (so it computes rather than
    restores): each step ran where it says, and both give the expected summary. A second `nbflow run`
    restores every step (process and Dask ones included) and prints the same summary again."""
    live = tmp_path / "live"
    live.mkdir()
    kernel = Kernel(live, env={"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address})
    try:
        for cell in [PARAMETERS, *MIXED]:
            reply = kernel.execute(cell, timeout=120)
            assert reply.status == "ok", (cell, reply.error)
        in_kernel = _result(reply.text)
    finally:
        kernel.close()
    assert in_kernel["summary"] == _expected()
    _check_placement(in_kernel, worker_pids)

    batch = tmp_path / "batch"
    batch.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells.append(nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}))
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in MIXED)
    nbformat.write(notebook, str(batch / "mixed.ipynb"))
    first = _batch(batch, cluster)
    assert first.returncode == 0, first.stderr
    in_batch = _result(_printed(batch / "out.ipynb"))
    assert in_batch["summary"] == in_kernel["summary"]
    _check_placement(in_batch, worker_pids)

    second = _batch(batch, cluster)
    assert second.returncode == 0, second.stderr
    again = _result(_printed(batch / "out.ipynb"))
    assert again["summary"] == in_kernel["summary"] and again["pids"] == in_batch["pids"]  # restored values
    rows = {line.split()[0]: line for line in second.stdout.splitlines() if line.split()[:1] and
            line.split()[0] in STEPS}
    assert set(rows) == set(STEPS) and all("restored" in row for row in rows.values()), second.stdout
