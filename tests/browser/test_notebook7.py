"""The same JupyterLab extension in Notebook 7 (`jupyter notebook`): live cell badges, the error on hover, a reload.

Notebook 7 is built from JupyterLab's packages, so the prebuilt extension
loads there unchanged (docs/guide/jupyterlab.md); it has no status bar, so
only the badges are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import PANEL, Lab, open_notebook, run_all, save_screenshot
from .test_badges import BADGE, _wait_badge, _write


@pytest.fixture(scope="module")
def steps_notebook(notebook7: Lab) -> Iterator[Lab]:
    _write(notebook7.root / "steps7.ipynb", [
        "%load_ext nbflow",
        "%%step load\nraw = list(range(10))",
        "%%step slow --after load\nimport time\ntime.sleep(3)\nrows = [r * 2 for r in raw]",
        "%%step broken --after load\nraise KeyError('no such column: price')",
        "%%step report --after slow\ntotal = sum(rows)",
    ], ids=["n-ext", "n-load", "n-slow", "n-broken", "n-report"])
    yield notebook7


@pytest.mark.timeout(240)
def test_notebook7_badges_go_running_to_succeeded_and_failed_show_the_error_and_come_back_after_a_reload(
        page: Any, steps_notebook: Lab) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    open_notebook(page, steps_notebook, "steps7.ipynb")
    assert page.url.startswith(f"{steps_notebook.url}/notebooks/")  # Notebook 7's page, not JupyterLab's
    assert page.locator(".jp-LabShell").count() == 0  # JupyterLab's shell is not on the page
    assert page.locator(BADGE).count() == 0  # nothing before the kernel has nbflow
    run_all(page)
    _wait_badge(page, "slow", "running", timeout=20_000)  # seen while it sleeps (3 s): the badge is live
    _wait_badge(page, "slow", "succeeded")
    _wait_badge(page, "report", "succeeded")
    _wait_badge(page, "broken", "failed")
    cells = page.locator(f"{PANEL} .jp-Cell")
    assert cells.nth(0).locator(":scope > .jp-nbflow-badge").count() == 0  # `%load_ext` is no step
    broken = cells.nth(3).locator(":scope > .jp-nbflow-badge")
    assert broken.get_attribute("data-step") == "broken"
    broken.hover()
    assert broken.get_attribute("title") == "KeyError: 'no such column: price'"
    assert broken.inner_text().startswith("failed")
    save_screenshot(page, "badges-notebook7.png")
    # a reload asks the kernel for a snapshot: the same badges come back
    page.reload()
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="visible")
    _wait_badge(page, "broken", "failed")
    _wait_badge(page, "report", "succeeded")
    assert page.locator(BADGE).count() == 4
    assert [page.locator(BADGE).nth(i).get_attribute("data-step") for i in range(4)] == [
        "load", "slow", "broken", "report"]
    assert errors == [], errors
