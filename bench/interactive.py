"""How interactive a kernel stays while nbflow steps run, and what Restart & Run All costs.

    .venv/bin/python bench/interactive.py [--quick]

In a real kernel (jupyter_client): the round trip of a trivial plain cell
(`1+1`), median and p95, when idle, while 8 I/O-bound steps run and while one
CPU-bound pure-Python step runs; the time `%load_ext nbflow` takes inside the
kernel; and the time to Run All a finished 50-step notebook after a restart
(every step restored) against running the same 50 cells without nbflow.
The last lines are `name: value` figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import jupyter_client


class Kernel:
    def __init__(self, cwd: Path) -> None:
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        chunks: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                chunks.append(msg["content"]["text"])

        reply = self.client.execute_interactive(code, timeout=300, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r} failed: {reply['content'].get('evalue')}")
        return "".join(chunks)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def round_trips(kernel: Kernel, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        kernel.run("1+1")
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def steps_notebook(count: int) -> list[str]:
    """Cells of a notebook whose steps each do ~20 ms of pure-Python work."""
    work = "total = 0\nfor i in range(400_000):\n    total += i % 7\n"
    cells = ["%load_ext nbflow"]
    for i in range(count):
        after = f" --after s{i - 1}" if i else ""
        cells.append(f"%%step s{i}{after}\n{work}v{i} = total")
    cells.append("%flow wait")
    return cells


def plain_notebook(count: int) -> list[str]:
    work = "total = 0\nfor i in range(400_000):\n    total += i % 7\n"
    return [f"{work}v{i} = total" for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    samples = 20 if args.quick else 60
    folder = Path(tempfile.mkdtemp(prefix="nbflow-bench-"))

    kernel = Kernel(folder)
    try:
        load_ms = float(kernel.run(
            "import time as _t\n_s = _t.perf_counter()\n%load_ext nbflow\nprint((_t.perf_counter() - _s) * 1000)"
        ))
        idle = round_trips(kernel, samples)
        for i in range(8):
            kernel.run(f"%%step io{i}\nimport time\nfor _ in range(400):\n    time.sleep(0.01)")
        io = round_trips(kernel, samples)
        kernel.run("%flow cancel")
        kernel.run("flag = {'stop': False}")  # shared object: the step sees the change
        kernel.run("%%step cpu\nn = 0\nwhile not flag['stop']:\n    n += 1")
        time.sleep(0.5)
        cpu = round_trips(kernel, samples)
        kernel.run("flag['stop'] = True")
        kernel.run("%flow cancel")
    finally:
        kernel.close()

    steps = 50
    first = Kernel(folder)
    try:
        for cell in steps_notebook(steps):
            first.run(cell)
    finally:
        first.close()
    restored = Kernel(folder)
    try:
        started = time.perf_counter()
        for cell in steps_notebook(steps):
            restored.run(cell)
        restored_s = time.perf_counter() - started
        states = restored.run("%flow status")
    finally:
        restored.close()
    plain = Kernel(folder)
    try:
        started = time.perf_counter()
        for cell in plain_notebook(steps):
            plain.run(cell)
        plain_s = time.perf_counter() - started
    finally:
        plain.close()
    assert states.count("restored") >= steps, states

    rows = [("idle", idle), ("8 I/O-bound steps", io), ("1 CPU-bound step", cpu)]
    print(f"{'plain cell round trip (ms)':<28}{'median':>10}{'p95':>10}")
    for label, values in rows:
        print(f"{label:<28}{statistics.median(values):>10.1f}{p95(values):>10.1f}")
    print(f"Run All of a finished {steps}-step notebook after restart: {restored_s:.2f}s "
          f"(without nbflow: {plain_s:.2f}s)")
    print(f"added_p95_ms_io: {p95(io) - p95(idle):.1f}")
    print(f"added_median_ms_cpu: {statistics.median(cpu) - statistics.median(idle):.1f}")
    print(f"load_ext_ms: {load_ms:.1f}")
    print(f"rerun_restored_vs_plain: {restored_s / plain_s:.2f}")


if __name__ == "__main__":
    main()
