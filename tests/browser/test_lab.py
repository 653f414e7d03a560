"""The live graph in a real JupyterLab, seen the way a user sees it: in chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import pytest

from .conftest import PANEL, REPO, Lab, open_notebook, run_all, save_screenshot

WIDGET = f"{PANEL} .nbflow-widget"



def _step_count(lab: Lab, name: str) -> int:
    cells = json.loads((lab.root / name).read_text())["cells"]
    return sum(1 for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith("%%step"))


def _node(page: Any, step: str) -> Any:
    return page.locator(f'{WIDGET} .nbflow-graph g[data-nbflow-step="{step}"]').first


def _state(page: Any, step: str) -> str | None:
    return _node(page, step).get_attribute("data-nbflow-state")


def _fill(page: Any, step: str) -> str:
    return _node(page, step).locator("path, polygon, ellipse").first.get_attribute("fill")


def _wait_state(page: Any, step: str, state: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "([sel, step, state]) => [...document.querySelectorAll(sel)]"
        ".some(n => n.getAttribute('data-nbflow-step') === step && n.getAttribute('data-nbflow-state') === state)",
        arg=[f"{WIDGET} .nbflow-graph g[data-nbflow-step]", step, state], timeout=timeout)


@pytest.mark.timeout(180)
def test_quickstart_graph(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "quickstart.ipynb")
    run_all(page)
    page.wait_for_selector(f"{WIDGET} .nbflow-graph svg", timeout=90_000)
    for step in ("load", "clean", "stats", "plot", "report"):
        _wait_state(page, step, "succeeded")
    widget = page.locator(WIDGET).first
    nodes = widget.locator(".nbflow-graph g[data-nbflow-step]")
    assert nodes.count() == _step_count(lab, "quickstart.ipynb") == 5
    assert widget.locator(".nbflow-count[data-state='succeeded']").inner_text() == "succeeded 5"
    assert widget.locator("progress.nbflow-progress").evaluate("p => [p.value, p.max]") == [5, 5]
    # clean needed three attempts: its node says so
    assert "3 tries" in _node(page, "clean").text_content()
    widget.scroll_into_view_if_needed()
    shot = save_screenshot(widget, "quickstart-widget.png")
    save_screenshot(page, "quickstart-page.png")
    if os.environ.get("NBFLOW_UPDATE_SCREENSHOT") == "1":
        target = REPO / "notebooks" / "img" / "quickstart-widget.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(shot, target)


@pytest.mark.timeout(180)
def test_states_progress_and_failed_detail(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "browser_check.ipynb")
    run_all(page)
    page.wait_for_selector(f"{WIDGET} .nbflow-graph svg", timeout=90_000)
    _wait_state(page, "slow", "running", timeout=30_000)
    running_fill = _fill(page, "slow")
    save_screenshot(page.locator(WIDGET).first, "check-running.png")
    assert _state(page, "after_slow") in ("waiting", "queued", "pending")
    _wait_state(page, "slow", "succeeded")
    _wait_state(page, "after_slow", "succeeded")
    _wait_state(page, "broken", "failed")
    assert _fill(page, "slow") != running_fill
    save_screenshot(page.locator(WIDGET).first, "check-done.png")

    _node(page, "broken").click()
    detail = page.locator(f"{WIDGET} .nbflow-detail").first
    detail.locator(".nbflow-error", has_text="broken on purpose").wait_for()
    detail.locator("pre.nbflow-traceback", has_text="ValueError").wait_for(timeout=30_000)
    assert "ValueError: broken on purpose" in detail.inner_text()
    save_screenshot(page.locator(WIDGET).first, "check-failed-detail.png")

    # choosing in the dropdown shows another step's provenance
    page.locator(f"{WIDGET} select.nbflow-select").first.select_option("after_slow")
    detail.locator(".nbflow-provenance", has_text="computed").wait_for(timeout=30_000)
    assert "y" in detail.locator(".nbflow-outputs").inner_text()
    assert "ran in thread nbflow-worker-" in detail.locator(".nbflow-provenance").inner_text()  # where it ran

    # the buttons reach the kernel's flow: the kernel answers what it did
    page.locator(f"{WIDGET} button.nbflow-retry").first.click()
    page.locator(f"{WIDGET} .nbflow-message", has_text="retrying broken").first.wait_for(timeout=30_000)
    _wait_state(page, "broken", "failed")
    page.locator(f"{WIDGET} button.nbflow-run").first.click()
    page.wait_for_function("sel => !document.querySelector(sel).textContent.startsWith('retrying')",
                           arg=f"{WIDGET} .nbflow-message", timeout=30_000)
    message = page.locator(f"{WIDGET} .nbflow-message").first.inner_text()
    assert message == "nothing pending", message


RESTORE_CELLS = (
    "%load_ext nbflow",
    "%%step report\nimport time\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
    "from IPython.display import display\nprint('the report: 2 rows')\ntime.sleep(1)\n"
    "table = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})\ndisplay(table)\n"
    "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\ndisplay(fig)\nplt.close(fig)\ndel fig, ax",
    "%flow wait",
    "%flow show",
)


@pytest.mark.timeout(240)
def test_a_restored_cell_shows_its_table_and_plot_after_restart_and_run_all(page: Any, lab: Lab) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in RESTORE_CELLS]
    nbformat.write(nb, str(lab.root / "restore_check.ipynb"))
    open_notebook(page, lab, "restore_check.ipynb")
    step_cell = page.locator(f"{PANEL} .jp-CodeCell").nth(1)
    run_all(page)
    step_cell.locator(".jp-OutputArea", has_text="report succeeded").first.wait_for(timeout=90_000)
    assert step_cell.locator(".jp-OutputArea table").count() >= 1
    assert step_cell.locator(".jp-OutputArea img").count() >= 1

    page.click(f"{PANEL} .jp-Cell")
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
    page.locator(".jp-Dialog .jp-mod-accept").first.click()
    step_cell.locator(".jp-OutputArea", has_text="↺ restored: computed").first.wait_for(timeout=90_000)
    output = step_cell.locator(".jp-OutputArea").first
    output.locator("table", has_text="3").first.wait_for(timeout=30_000)
    output.locator("img").first.wait_for(timeout=30_000)
    assert "the report: 2 rows" in output.inner_text()
    assert "report succeeded" not in output.inner_text()  # restored, not computed again
    assert output.locator("img").first.get_attribute("src", timeout=5_000).startswith("data:image/png")
    save_screenshot(step_cell, "restored-cell.png")

    # the widget's detail pane shows the same: the provenance line, the text, the table and the plot
    _wait_state(page, "report", "restored")
    page.locator(f"{WIDGET} select.nbflow-select").first.select_option("report")
    detail = page.locator(f"{WIDGET} .nbflow-detail").first
    detail.locator(".nbflow-provenance", has_text="restored: computed").wait_for(timeout=30_000)
    line = detail.locator(".nbflow-provenance").inner_text()
    assert re.search(r"restored: computed \d{4}-\d\d-\d\d \d\d:\d\d in \d+(\.\d)?s, saved ", line), line  # >= 1 s
    assert "the report: 2 rows" in detail.locator(".nbflow-output-text").inner_text()
    image = detail.locator("img.nbflow-display-image").first
    image.wait_for(timeout=30_000)
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")  # a real, decodable PNG
    frame = detail.locator("iframe.nbflow-display-html").first
    assert frame.get_attribute("sandbox") == ""
    assert "<table" in frame.get_attribute("srcdoc")
    save_screenshot(page.locator(WIDGET).first, "restored-detail.png")
