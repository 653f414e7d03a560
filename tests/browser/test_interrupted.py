"""In a real JupyterLab: a kernel killed mid-run, and the next Run All's graph says that run was interrupted."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import nbformat
import pytest

from nbflow.core.states import State
from nbflow.store.manifest import Manifest
from nbflow.store.manifest.liveness import is_gone, process_start, this_writer

from .conftest import PANEL, Lab, open_notebook, run_all, save_screenshot

WIDGET = f"{PANEL} .nbflow-widget"


def _wait(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)  # polling a condition with a deadline


@pytest.mark.timeout(240)
def test_the_graph_says_the_previous_run_was_interrupted(page: Any, lab: Lab) -> None:
    pid_file, flag = lab.root / "killed.pid", lab.root / "killed.flag"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (
        "%load_ext nbflow",
        f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))",
        "%%step load\nx = 1",
        f"%%step block --after load\nimport os, time\nwhile not os.path.exists({str(flag)!r}):\n"
        "    time.sleep(0.05)\ny = x + 1",
        "%flow show",
    )]
    nbformat.write(nb, str(lab.root / "killed.ipynb"))
    db = lab.root / ".nbflow" / "manifest.sqlite"

    open_notebook(page, lab, "killed.ipynb")
    run_all(page)

    def block_running() -> bool:  # on disk, so the kill loses nothing
        if not db.exists():
            return False
        with Manifest(db, "killed") as manifest:
            return {r.status.name: r.status.state for r in manifest.latest()}.get("block") is State.RUNNING

    _wait(block_running, "block running in the manifest")
    pid = int(pid_file.read_text())
    started = process_start(pid)
    os.kill(pid, signal.SIGKILL)
    # Jupyter Server reaps its dead kernel (and starts a new one): until then the pid still exists.
    _wait(lambda: is_gone(this_writer().host, pid, started), "the killed kernel to be reaped")
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    dialog.first.wait_for(timeout=60_000)  # "The kernel appears to have died. It will restart automatically."
    dialog.first.click()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)

    flag.touch()
    run_all(page)
    previous = page.locator(f"{WIDGET} .nbflow-previous", has_text="was interrupted").first
    previous.wait_for(timeout=90_000)
    text = previous.inner_text()
    assert "previous run #1 was interrupted at " in text and "block did not finish" in text, text
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].some(n => n.getAttribute('data-nbflow-step') === 'block'"
        " && n.getAttribute('data-nbflow-state') === 'succeeded')",
        arg=f"{WIDGET} .nbflow-graph g[data-nbflow-step]", timeout=60_000)
    step_cell = page.locator(f"{PANEL} .jp-CodeCell").nth(2)
    step_cell.locator(".jp-OutputArea", has_text="previous run #1 was interrupted").first.wait_for(timeout=30_000)
    save_screenshot(page.locator(WIDGET).first, "interrupted-widget.png")
