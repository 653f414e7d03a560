"""What printing costs in a step: time and peak memory for 1,000 / 10,000 / 100,000 lines, beside a plain cell.

    .venv/bin/python bench/output.py             # kernel only (jupyter_client), under a minute
    .venv/bin/python bench/output.py --browser   # also in JupyterLab in headless chromium, under 2 minutes
    .venv/bin/python bench/output.py --quick     # one repetition instead of 3

Each size runs `for i in range(N): print('line', i)` as a plain cell and as a
`%%step` cell, alternately, in the same kernel.

- Kernel only: a plain cell's time is from the execute request until the
  kernel is idle (every stream message has arrived by then); a step's is from
  its `%%step` execute until its Output widget's state shows the "succeeded"
  note (every flush of its text has arrived). Median of the repetitions.
- `--browser`: a real JupyterLab server (temporary config, data and runtime
  folders, as the browser tests do) and Debian's chromium via Playwright. A
  notebook with one cell per run is opened and each cell is run with
  Shift+Enter; the time is until the cell shows its last line (a plain cell)
  or the "succeeded" note (a step). One repetition.
- Memory: psutil samples the RSS of the kernel (and the server, and the
  browser's processes together) every 20 ms while each cell runs; the growth
  is the peak minus the RSS just before the cell.

The last three lines are `print_100k_vs_plain` (step time / plain time, in
the browser with `--browser`), `server_rss_mb_100k` (the server's peak RSS
during the 100,000-line step; `n/a` without `--browser`) and
`kernel_rss_growth_mb_100k` (during that step).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import jupyter_client
import psutil

REPO = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000)
#: how long the first cell may show no number before it is pressed again
FIRST_RUN_SECONDS = 10
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def loop(n: int) -> str:
    return f"for i in range({n}):\n    print('line', i)"


class Peak:
    """The peak RSS of some processes, sampled on a thread while a `with` block runs."""

    def __init__(self, processes: Callable[[], list[psutil.Process]]) -> None:
        self._processes = processes
        self.start = self.peak = 0

    def _rss(self) -> int:
        total = 0
        for process in self._processes():
            with suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    @contextmanager
    def sampling(self) -> Iterator[Peak]:
        self.start = self.peak = self._rss()
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.02):
                self.peak = max(self.peak, self._rss())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


class Client:
    """A kernel driven over jupyter_client: execute, and read one Output widget's state."""

    def __init__(self, cwd: Path) -> None:
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        env.pop("JPY_SESSION_NAME", None)
        self.manager.start_kernel(cwd=str(cwd), env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.widgets: dict[str, dict[str, Any]] = {}

    def execute(self, code: str) -> list[str]:
        """Run `code` until idle; the model ids of the widgets it displayed."""
        msg_id = self.client.execute(code)
        models = []
        while True:
            msg = self.client.get_iopub_msg(timeout=300)
            self._track(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            content = msg["content"]
            if msg["msg_type"] == "status" and content["execution_state"] == "idle":
                return models
            if msg["msg_type"] == "display_data":
                view = content["data"].get("application/vnd.jupyter.widget-view+json")
                if view:
                    models.append(view["model_id"])
            if msg["msg_type"] == "error":
                raise RuntimeError(f"{content['ename']}: {content['evalue']}")

    def wait_note(self, model_id: str, text: str) -> None:
        while not any(text in str(o.get("data", {}).get("text/plain", ""))
                      for o in self.widgets.get(model_id, {}).get("outputs", [])):
            self._track(self.client.get_iopub_msg(timeout=300))

    def _track(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] in ("comm_open", "comm_msg"):
            state = msg["content"].get("data", {}).get("state")
            if state:
                self.widgets.setdefault(msg["content"]["comm_id"], {}).update(state)

    def pid(self) -> int:
        return int(self.manager.provisioner.process.pid)  # type: ignore[union-attr]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def kernel_runs(reps: int) -> dict[tuple[str, int], dict[str, float]]:
    """Kernel only: seconds and kernel RSS growth per (plain|step, N), median of `reps`."""
    found: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        client = Client(Path(folder))
        try:
            client.execute("%load_ext nbflow")
            kernel = psutil.Process(client.pid())
            peak = Peak(lambda: [kernel])
            for rep in range(reps):
                for n in SIZES:
                    with peak.sampling():
                        began = time.perf_counter()
                        client.execute(loop(n))
                        seconds = time.perf_counter() - began
                    found.setdefault(("plain", n), []).append((seconds, peak.growth_mb))
                    with peak.sampling():
                        began = time.perf_counter()
                        (model,) = client.execute(f"%%step p{n}_{rep}\n{loop(n)}")
                        client.wait_note(model, "succeeded")
                        seconds = time.perf_counter() - began
                    found.setdefault(("step", n), []).append((seconds, peak.growth_mb))
        finally:
            client.close()
    return {key: {"seconds": statistics.median(s for s, _ in runs), "kernel_mb": statistics.median(m for _, m in runs)}
            for key, runs in found.items()}


@contextmanager
def jupyterlab(root: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A JupyterLab server over `root`, the browser tests' own (tests/browser/server.py)."""
    sys.path.insert(0, str(REPO))
    from tests.browser.server import lab_server

    extra = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with lab_server(root.parent, root, extra) as (url, token, server, _log):
        yield f"{url}/lab/tree/output.ipynb?reset&token={token}", server


def browser_runs() -> dict[tuple[str, int], dict[str, float]]:
    """In JupyterLab: seconds, kernel growth, server peak and browser growth per (plain|step, N), one run each."""
    import nbformat
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("--browser needs Debian's chromium (apt-get install chromium)")
    runs = [(kind, n) for n in SIZES for kind in ("plain", "step")]
    found: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "root"
        root.mkdir()
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell("%load_ext nbflow")] + [
            nbformat.v4.new_code_cell(loop(n) if kind == "plain" else f"%%step p{n}\n{loop(n)}") for kind, n in runs]
        nbformat.write(nb, str(root / "output.ipynb"))
        with jupyterlab(root) as (url, server), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(120_000)
                page.goto(url)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
                cells = page.locator(CELLS)
                _run_cell(page, cells, 0, "", presses=20)
                server_process = psutil.Process(server.pid)
                kernels = [p for p in server_process.children(recursive=True)
                           if any("ipykernel" in part for part in p.cmdline())]
                chromium = [p for p in psutil.process_iter() if "chromium" in p.name()]
                kernel, server_peak = Peak(lambda: kernels), Peak(lambda: [server_process])
                browser_peak = Peak(lambda: chromium)
                for index, (kind, n) in enumerate(runs, start=1):
                    wanted = f"line {n - 1}" if kind == "plain" else "succeeded"
                    with kernel.sampling(), server_peak.sampling(), browser_peak.sampling():
                        seconds = _run_cell(page, cells, index, wanted)
                    print(f"  browser {kind} {n:,}: {seconds:.2f} s", file=sys.stderr)
                    found[(kind, n)] = {"seconds": seconds, "kernel_mb": kernel.growth_mb,
                                        "server_mb": server_peak.peak_mb, "browser_mb": browser_peak.growth_mb}
            except Exception:  # show where it stuck, then fail
                shot = Path(tempfile.gettempdir()) / "nbflow-bench-output.png"
                page.screenshot(path=str(shot))
                print(f"the browser run stuck; screenshot: {shot}", file=sys.stderr)
                raise
            finally:
                browser.close()
    return found


#: the cells of the notebook on screen (Lab keeps others in hidden tabs)
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell"
#: true when cell `index` shows a numbered prompt and its output contains `wanted`. The cell is looked
#: up afresh on every poll: Lab may replace a cell's DOM node after the notebook opens (when its
#: kernel connects), and a node held from before would never change.
_DONE = """([selector, index, wanted]) => {
    const cell = document.querySelectorAll(selector)[index];
    if (!cell || !/\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').textContent)) return false;
    const out = cell.querySelector('.jp-Cell-outputArea');
    return out !== null && out.textContent.includes(wanted);
}"""


def _run_cell(page: Any, cells: Any, index: int, wanted: str, presses: int = 1) -> float:
    """Shift+Enter on cell `index`; seconds until its prompt shows a number and its output shows `wanted`.

    Right after the notebook opens, Lab may lose a run request made while its
    kernel connection is still being set up (the prompt stays `[ ]`): the first
    cell is given `presses` > 1 and is pressed again while its prompt shows no
    number after `FIRST_RUN_SECONDS` (running `%load_ext nbflow` twice is harmless).
    """
    cell = cells.nth(index)
    began = time.perf_counter()
    for press in range(presses):
        cell.locator(".jp-InputArea-editor").click()
        began = time.perf_counter()
        page.keyboard.press("Shift+Enter")
        if press == presses - 1:
            break
        try:
            page.wait_for_function(_DONE, arg=[CELLS, index, ""], polling=50, timeout=FIRST_RUN_SECONDS * 1000)
            break
        except Exception:  # playwright's TimeoutError: lost, press again
            prompt = cell.locator(".jp-InputPrompt").inner_text()
            print(f"  cell {index}: prompt {prompt!r} after {FIRST_RUN_SECONDS}s, pressing again", file=sys.stderr)
    page.wait_for_function(_DONE, arg=[CELLS, index, wanted], polling=50)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one repetition instead of 3")
    parser.add_argument("--browser", action="store_true", help="also run in JupyterLab in headless chromium")
    args = parser.parse_args()
    began = time.perf_counter()
    kernel = kernel_runs(1 if args.quick else 3)
    print("Kernel only (jupyter_client), median of", 1 if args.quick else 3)
    print(f"{'lines':>8} {'plain s':>9} {'step s':>9} {'ratio':>6} {'plain MB':>9} {'step MB':>8}")
    for n in SIZES:
        plain, step = kernel[("plain", n)], kernel[("step", n)]
        print(f"{n:>8,} {plain['seconds']:>9.3f} {step['seconds']:>9.3f} {step['seconds'] / plain['seconds']:>6.2f} "
              f"{plain['kernel_mb']:>9.1f} {step['kernel_mb']:>8.1f}")
    final, server_mb = kernel, "n/a"
    if args.browser:
        lab = browser_runs()
        print("JupyterLab in chromium, one run; MB: kernel and browser growth, server peak")
        print(f"{'lines':>8} {'plain s':>9} {'step s':>9} {'ratio':>6} {'kernel MB':>10} {'server MB':>10} "
              f"{'browser MB':>11}  (plain / step)")
        for n in SIZES:
            plain, step = lab[("plain", n)], lab[("step", n)]
            print(f"{n:>8,} {plain['seconds']:>9.3f} {step['seconds']:>9.3f} "
                  f"{step['seconds'] / plain['seconds']:>6.2f} "
                  f"{plain['kernel_mb']:>4.0f}/{step['kernel_mb']:<5.0f} {plain['server_mb']:>4.0f}/"
                  f"{step['server_mb']:<5.0f} {plain['browser_mb']:>5.0f}/{step['browser_mb']:<5.0f}")
        final, server_mb = lab, f"{lab[('step', SIZES[-1])]['server_mb']:.0f}"
    print(f"total time: {time.perf_counter() - began:.1f} s")
    big = SIZES[-1]
    print(f"print_100k_vs_plain: {final[('step', big)]['seconds'] / final[('plain', big)]['seconds']:.2f}")
    print(f"server_rss_mb_100k: {server_mb}")
    print(f"kernel_rss_growth_mb_100k: {final[('step', big)]['kernel_mb']:.1f}")


if __name__ == "__main__":
    main()
