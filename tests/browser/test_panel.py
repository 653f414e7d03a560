"""The JupyterLab extension's side panel in a real JupyterLab and chromium: the widget's graph, counts,
node clicks that scroll to their cell, a badge click that selects its step, and the failed step's details."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import PANEL, REPO, Lab, open_notebook, run_all, save_screenshot
from .test_badges import _wait_badge, _write

SIDE = "#jp-nbflow-panel"
NODE = f"{SIDE} .jp-nbflow-graph g.node[data-nbflow-step]"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # 1×1 PNG
FILLER = "# a tall plain cell, so the last step's cell starts below the fold\n" + "pass\n" * 60


@pytest.fixture(scope="module")
def notebook(lab: Lab) -> Iterator[Lab]:
    _write(lab.root / "panel.ipynb", [
        "%load_ext nbflow",
        "%%step load\nraw = list(range(10))",
        "%%step slow --after load\nimport time\ntime.sleep(1)\nrows = [r * 2 for r in raw]",
        "%%step broken --after load\nraise ValueError('broken on purpose')",
        FILLER,
        "%%step report --after slow\nimport base64\nfrom IPython.display import HTML, Image, display\n"
        "total = sum(rows)\ndisplay(HTML(f'<table><tr><td>total {total}</td></tr></table>'))\n"
        f"display(Image(data=base64.b64decode('{PIXEL}')))",
    ], ids=["p-ext", "p-load", "p-slow", "p-broken", "p-filler", "p-report"])
    yield lab


def _in_view(page: Any, index: int) -> bool:
    """Whether the cell at `index` is inside the notebook's visible area."""
    return bool(page.evaluate(
        "([sel, i]) => { const c = document.querySelectorAll(sel + ' .jp-Cell')[i];"
        " const v = document.querySelector(sel + ' .jp-WindowedPanel-outer') || document.querySelector(sel);"
        " const a = c.getBoundingClientRect(), b = v.getBoundingClientRect();"
        " return a.top >= b.top - 1 && a.top < b.bottom; }", [PANEL, index]))


@pytest.mark.timeout(240)
def test_the_panel_shows_the_graph_scrolls_to_cells_and_details_the_failed_step(page: Any, notebook: Lab) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    open_notebook(page, notebook, "panel.ipynb")
    page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id='jp-nbflow-panel']").click()
    page.wait_for_selector(f"{SIDE} .jp-nbflow-empty", state="visible")  # no flow yet: it says so
    run_all(page)
    _wait_badge(page, "slow", "running", timeout=20_000)  # the graph is live while slow runs
    _wait_badge(page, "report", "succeeded")
    _wait_badge(page, "broken", "failed")
    page.wait_for_function(  # the widget's layout, recoloured: four nodes, broken in the palette's red
        "sel => { const n = [...document.querySelectorAll(sel)];"
        " return n.length === 4 && n.some(g => g.dataset.nbflowStep === 'broken'"
        " && g.dataset.nbflowState === 'failed'); }", arg=NODE)
    names = page.eval_on_selector_all(NODE, "ns => ns.map(n => n.dataset.nbflowStep)")
    assert sorted(names) == ["broken", "load", "report", "slow"]
    fill = page.locator(f"{NODE}[data-nbflow-step='broken'] path, {NODE}[data-nbflow-step='broken'] polygon")
    assert fill.first.get_attribute("fill") == "#ef4444"
    assert page.locator(f"{SIDE} .jp-nbflow-done").inner_text() == "4/4 done"
    assert page.locator(f"{SIDE} .jp-nbflow-chip[data-state='failed']").inner_text() == "failed 1"
    assert page.locator(f"{SIDE} .jp-nbflow-chip[data-state='succeeded']").inner_text() == "succeeded 3"
    assert page.locator(f"{SIDE} .jp-nbflow-progress").evaluate("p => [p.value, p.max]") == [4, 4]

    # clicking a node scrolls to its cell and selects it: report's cell is below the tall one
    page.locator(f"{PANEL} .jp-Cell").nth(0).locator(".jp-InputPrompt").click()
    page.locator(f"{PANEL} .jp-WindowedPanel-outer").evaluate("n => n.scrollTo(0, 0)")
    assert not _in_view(page, 5)
    page.locator(f"{NODE}[data-nbflow-step='report']").click()
    page.wait_for_function(
        "sel => document.querySelectorAll(sel)[5]?.classList.contains('jp-mod-active')",
        arg=f"{PANEL} .jp-Cell")
    page.wait_for_function(
        "([sel]) => { const c = document.querySelectorAll(sel + ' .jp-Cell')[5];"
        " const v = document.querySelector(sel + ' .jp-WindowedPanel-outer');"
        " const a = c.getBoundingClientRect(), b = v.getBoundingClientRect();"
        " return a.top >= b.top - 1 && a.top < b.bottom; }", arg=[PANEL])
    assert page.locator(f"{NODE}.jp-nbflow-selected").get_attribute("data-nbflow-step") == "report"
    # its details show what it displayed: the table in a script-less frame, the image as an image
    image = page.locator(f"{SIDE} img.jp-nbflow-display-image").first
    image.wait_for(timeout=30_000)
    assert image.get_attribute("src") == f"data:image/png;base64,{PIXEL}"
    assert image.evaluate("img => img.complete && img.naturalWidth === 1")
    frame = page.locator(f"{SIDE} iframe.jp-nbflow-display-html").first
    assert frame.get_attribute("sandbox") == "" and "total 90" in frame.get_attribute("srcdoc")

    # the failed step's details: its error, its traceback
    page.locator(f"{NODE}[data-nbflow-step='broken']").click()
    page.wait_for_selector(f"{SIDE} .jp-nbflow-traceback")
    assert page.locator(f"{SIDE} .jp-nbflow-detail-title").inner_text() == "broken: failed"
    assert page.locator(f"{SIDE} .jp-nbflow-error").inner_text() == "ValueError: broken on purpose"
    assert "Traceback" in page.locator(f"{SIDE} .jp-nbflow-traceback").inner_text()
    assert page.locator(f"{SIDE} .jp-nbflow-provenance").inner_text().startswith("took ")
    shot = save_screenshot(page, "panel.png")
    if os.environ.get("NBFLOW_UPDATE_SCREENSHOT") == "1":  # the README's picture
        shutil.copy(shot, REPO / "notebooks" / "img" / "panel.png")

    # a badge click selects its step in the panel
    page.locator(f"{PANEL} .jp-nbflow-badge[data-step='slow']").click()
    page.wait_for_function(
        "sel => document.querySelector(sel)?.textContent === 'slow: succeeded'",
        arg=f"{SIDE} .jp-nbflow-detail-title")
    assert page.locator(f"{NODE}.jp-nbflow-selected").get_attribute("data-nbflow-step") == "slow"
    assert errors == [], errors
