"""Graphs in notebooks whose kernel is gone, in a real JupyterLab and chromium.

An executed notebook (`nbflow run`) is not signed, so JupyterLab opens it
untrusted and renders no SVG: its graphs must show as PNG images. A notebook
saved with its widget state and reopened later has a widget model but no
kernel behind it: the view must say so instead of offering buttons that do
nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import PANEL, Lab, open_notebook, run_all, save_screenshot

BIN = Path(sys.executable).parent
CELLS = ["%load_ext nbflow", "%%step first\nx = 1", "%%step second --after first\ny = x + 1", "%flow show"]


def _notebook(path: Path, cells: list[str] = CELLS) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(path))
    return path


def _run(lab: Lab, *args: str) -> None:
    env = {**os.environ, "JUPYTER_DATA_DIR": str(lab.root.parent / "data")}
    env.pop("JPY_SESSION_NAME", None)
    done = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=lab.root, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr


def _fallbacks(page: Any, cell: int) -> Any:
    """The static forms the JupyterLab extension put in place of a cell's dead widget views."""
    return page.locator(f"{PANEL} .jp-Cell").nth(cell).locator(".jp-nbflow-static-fallback")


def _outputs(page: Any, cell: int) -> Any:
    return page.locator(f"{PANEL} .jp-Cell").nth(cell).locator(".jp-OutputArea-output")


@pytest.mark.timeout(240)
def test_executed_notebook_opened_untrusted_shows_its_graphs_as_images(page: Any, lab: Lab) -> None:
    _notebook(lab.root / "graph_in.ipynb")
    _run(lab, "nbflow", "run", "graph_in.ipynb", "graph_out.ipynb", "--no-progress")
    open_notebook(page, lab, "graph_out.ipynb")
    cells = page.locator(f"{PANEL} .jp-Cell")
    cells.nth(len(CELLS)).wait_for()  # the appended `%flow wait`
    assert cells.count() == len(CELLS) + 1
    for index in (3, len(CELLS)):  # `%flow show`, and the final graph
        image = cells.nth(index).locator(".jp-RenderedImage img").first
        image.wait_for(timeout=30_000)
        assert image.get_attribute("src").startswith("data:image/png;base64,")
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert cells.nth(index).locator(".jp-RenderedSVG, .nbflow-widget").count() == 0
    text = page.locator(PANEL).inner_text()
    assert "Error displaying widget" not in text and "Loading widget" not in text
    save_screenshot(cells.nth(len(CELLS)), "executed-untrusted-graph.png")


@pytest.mark.timeout(240)
def test_saved_notebook_reopened_without_its_kernel_shows_no_dead_widget(page: Any, lab: Lab) -> None:
    # Executed interactively (not a batch run: the widget is made) and saved with its widget
    # state, as nbclient does; then signed, so JupyterLab trusts it and renders the widget view.
    _notebook(lab.root / "saved_in.ipynb", [*CELLS, "%flow wait"])
    _run(lab, "jupyter", "nbconvert", "--to", "notebook", "--execute", "saved_in.ipynb", "--output", "saved.ipynb")
    saved = nbformat.read(str(lab.root / "saved.ipynb"), as_version=4)
    state = saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert [m for m in state.values() if m["model_name"] == "AnyModel"]
    assert len([m for m in state.values() if m["model_name"] == "OutputModel"]) == 2  # one per step cell
    _run(lab, "jupyter", "trust", "saved.ipynb")
    open_notebook(page, lab, "saved.ipynb")
    widget = _outputs(page, 3).locator(".nbflow-widget").first
    widget.wait_for(timeout=30_000)
    page.wait_for_selector(f"{PANEL} .nbflow-widget.nbflow-offline", timeout=30_000)
    # The graph as saved is drawn; the buttons are gone; a line says why.
    assert widget.locator(".nbflow-graph g[data-nbflow-step]").count() == 2
    assert not widget.locator("button.nbflow-run").is_visible()
    assert "not connected to a kernel" in widget.locator(".nbflow-message").inner_text()
    save_screenshot(widget, "saved-reopened-offline.png")
    # Each step cell shows its output from the Output widget's saved state, not a dead widget
    # (computed, or restored from the store an earlier test of this module left beside it).
    for index, step in ((1, "first"), (2, "second")):
        said = re.compile(rf"✓ {step} succeeded|↺ restored")
        _outputs(page, index).filter(has_text=said).first.wait_for(timeout=30_000)
    text = page.locator(PANEL).inner_text()
    assert "Error displaying widget" not in text and "Loading widget" not in text


@pytest.mark.timeout(240)
def test_live_widget_is_answered_by_its_kernel_and_keeps_its_buttons(page: Any, lab: Lab) -> None:
    _notebook(lab.root / "live.ipynb")
    open_notebook(page, lab, "live.ipynb")
    run_all(page)
    widget = page.locator(f"{PANEL} .nbflow-widget").first
    page.wait_for_selector(f"{PANEL} .nbflow-widget[data-nbflow-live='1']", timeout=90_000)
    assert "nbflow-offline" not in (widget.get_attribute("class") or "")
    assert widget.locator("button.nbflow-run").is_visible()
    assert "not connected" not in widget.locator(".nbflow-message").inner_text()


@pytest.mark.timeout(240)
def test_notebook_saved_without_widget_state_shows_static_forms_not_model_not_found(page: Any, lab: Lab) -> None:
    # JupyterLab saves no widget state by default: every widget view in the notebook is dead on reopening.
    _notebook(lab.root / "nostate_in.ipynb", [*CELLS, "%flow wait"])
    _run(lab, "jupyter", "nbconvert", "--to", "notebook", "--execute", "nostate_in.ipynb", "--output", "nostate.ipynb")
    saved = nbformat.read(str(lab.root / "nostate.ipynb"), as_version=4)
    del saved.metadata["widgets"]
    nbformat.write(saved, str(lab.root / "nostate.ipynb"))
    _run(lab, "jupyter", "trust", "nostate.ipynb")
    open_notebook(page, lab, "nostate.ipynb")
    for index, step in ((1, "first"), (2, "second")):
        said = re.compile(rf"✓ {step} succeeded|↺ restored")
        _fallbacks(page, index).filter(has_text=said).first.wait_for(timeout=60_000)
    graph = _fallbacks(page, 3).first
    graph.wait_for(timeout=30_000)
    assert graph.locator("svg, img").count() >= 1
    text = page.locator(PANEL).inner_text()
    assert "model not found" not in text
    save_screenshot(_outputs(page, 3).first, "saved-without-widget-state.png")
