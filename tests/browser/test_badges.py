"""The JupyterLab extension in a real JupyterLab and chromium: live cell badges and the status-bar item."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from .conftest import PANEL, REPO, Lab, open_notebook, run_all, save_screenshot

BADGE = f"{PANEL} .jp-nbflow-badge"
#: a badge from the kernel's steps, not a greyed one from the last recorded run
LIVE = f"{BADGE}:not(.jp-nbflow-lastrun)"


def _write(path: Any, sources: list[str], ids: list[str] | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    for cell, cell_id in zip(nb.cells, ids or [], strict=False):
        cell.id = cell_id
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def notebooks(lab: Lab) -> Iterator[Lab]:
    _write(lab.root / "badges.ipynb", [
        "%load_ext nbflow",
        "%%step load\nraw = list(range(10))",
        "%%step slow --after load\nimport time\ntime.sleep(3)\nrows = [r * 2 for r in raw]",
        "%%step broken --after load\nraise ValueError('broken on purpose\\nsecond line')",
        "%%step report --after slow\ntotal = sum(rows)",
        "print('a plain cell')",
    ], ids=["c-ext", "c-load", "c-slow", "c-broken", "c-report", "c-plain"])
    _write(lab.root / "moves.ipynb", [
        "%load_ext nbflow",
        "%%step a\nx = 1",
        "%%step b\nimport time\ntime.sleep(0.5)\ny = 2",
        "%%step scratch\ns = 1",
        "import time\ntime.sleep(2)\nfrom nbflow.jupyter.extension import kernel_flow\n"
        "kernel_flow().flow.remove('scratch')",
    ], ids=["m-ext", "m-a", "m-b", "m-scratch", "m-remove"])
    _write(lab.root / "lastrun.ipynb", [
        "%load_ext nbflow",
        "%%step first\nfirst_value = 41 + 1",
        "%%step broken --after first\nraise ValueError('broken on purpose\\nsecond line')",
        "print('a plain cell')",
    ], ids=["l-ext", "l-first", "l-broken", "l-plain"])
    _write(lab.root / "plain.ipynb", ["x = 1", "print('no nbflow here, but the word nbflow')"])
    yield lab


def _badge(page: Any, cell_index: int) -> Any:
    return page.locator(f"{PANEL} .jp-Cell").nth(cell_index).locator(":scope > .jp-nbflow-badge")


def _wait_badge(page: Any, step: str, state: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "([sel, step, state]) => [...document.querySelectorAll(sel)]"
        ".some(n => n.dataset.step === step && n.dataset.state === state)",
        arg=[LIVE, step, state], timeout=timeout)


@pytest.mark.timeout(240)
def test_badges_go_running_to_succeeded_and_failed_live_and_come_back_after_a_reload(
        page: Any, notebooks: Lab) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    open_notebook(page, notebooks, "badges.ipynb")
    assert page.locator(BADGE).count() == 0  # nothing before the kernel has nbflow
    run_all(page)
    _wait_badge(page, "slow", "running", timeout=20_000)  # seen while it sleeps (3 s): the badge is live
    assert page.locator(".jp-nbflow-status").inner_text().startswith("nbflow: 1 running")
    _wait_badge(page, "slow", "succeeded")
    _wait_badge(page, "report", "succeeded")
    _wait_badge(page, "broken", "failed")
    # each badge sits on its own cell (matched by cell id); the plain cells have none
    assert _badge(page, 2).get_attribute("data-step") == "slow"
    assert _badge(page, 0).count() == 0 and _badge(page, 5).count() == 0
    broken = _badge(page, 3)
    assert broken.get_attribute("title") == "ValueError: broken on purpose"  # the first line, on hover
    assert broken.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(239, 68, 68)"  # the palette's red
    assert "s" in _badge(page, 2).inner_text() and _badge(page, 2).inner_text().startswith("succeeded · ")
    assert page.locator(".jp-nbflow-status").inner_text() == "nbflow: 1 failed · 3/4 done"
    shot = save_screenshot(page.locator(PANEL).first, "badges.png")
    if os.environ.get("NBFLOW_UPDATE_SCREENSHOT") == "1":  # the README's picture
        shutil.copy(shot, REPO / "notebooks" / "img" / "badges.png")
    # a reload asks the kernel for a snapshot: the same badges come back
    page.reload()
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="visible")
    _wait_badge(page, "broken", "failed")
    _wait_badge(page, "report", "succeeded")
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 4", arg=LIVE)
    assert page.locator(BADGE).count() == 4  # the greyed last-run badges shown meanwhile are gone
    assert errors == [], errors


def _steps_shown(page: Any) -> list[str | None]:
    """The step of each cell's badge, in cell order (None: no badge)."""
    return list(page.eval_on_selector_all(
        f"{PANEL} .jp-Cell",
        "cells => cells.map(c => { const b = c.querySelector(':scope > .jp-nbflow-badge');"
        " return b ? b.dataset.step : null; })"))


@pytest.mark.timeout(240)
def test_badges_follow_moved_cells_leave_with_their_step_and_say_restored_after_a_restart(
        page: Any, notebooks: Lab) -> None:
    open_notebook(page, notebooks, "moves.ipynb")
    run_all(page)
    _wait_badge(page, "scratch", "succeeded")
    page.wait_for_function(  # the last cell removes the step: its badge goes
        "sel => ![...document.querySelectorAll(sel)].some(n => n.dataset.step === 'scratch')", arg=BADGE)
    _wait_badge(page, "b", "succeeded")
    assert _steps_shown(page) == [None, "a", "b", None, None]
    # move b's cell up: the badge goes with its cell
    page.locator(f"{PANEL} .jp-Cell").nth(2).locator(".jp-InputArea-editor").click()
    page.locator(f"{PANEL} .jp-Cell").nth(2).locator("[data-command='notebook:move-cell-up']").click()
    page.wait_for_function(
        "([sel]) => { const c = document.querySelectorAll(sel);"
        " return c[1] && c[1].querySelector(':scope > .jp-nbflow-badge')?.dataset.step === 'b'; }",
        arg=[f"{PANEL} .jp-Cell"])
    assert _steps_shown(page) == [None, "b", "a", None, None]
    # restart the kernel and run all: the comm is opened again, and the badges say restored
    page.click(f"{PANEL} .jp-Cell")
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
    page.locator(".jp-Dialog .jp-mod-accept").first.click()
    _wait_badge(page, "a", "restored", timeout=90_000)
    _wait_badge(page, "b", "restored", timeout=90_000)
    text = page.locator(f"{BADGE}[data-step='b']").inner_text()
    assert text.startswith("restored · saved "), text
    save_screenshot(page, "badges-restored.png")


@pytest.mark.timeout(180)
def test_a_kernel_without_nbflow_shows_no_badge_and_logs_no_error(page: Any, notebooks: Lab) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    open_notebook(page, notebooks, "plain.ipynb")
    run_all(page)
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].some(n => n.textContent.includes('no nbflow here'))",
        arg=f"{PANEL} .jp-OutputArea-output")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    assert page.locator(BADGE).count() == 0
    assert not page.locator(".jp-nbflow-status").is_visible()
    assert errors == [], errors
    assert REPO.is_dir()


def _lastrun_badges(page: Any) -> dict[str, tuple[str, str]]:
    """Each greyed badge's step: (text, hover)."""
    found = page.eval_on_selector_all(
        f"{BADGE}.jp-nbflow-lastrun", "ns => ns.map(n => [n.dataset.step, n.textContent, n.title])")
    return {step: (text, title) for step, text, title in found}


@pytest.mark.timeout(240)
def test_a_notebook_opened_without_nbflow_shows_its_last_run_greyed_until_the_kernels_steps_come(
        page: Any, notebooks: Lab) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    open_notebook(page, notebooks, "lastrun.ipynb")
    assert page.locator(BADGE).count() == 0  # never run: nothing recorded, nothing shown
    run_all(page)
    _wait_badge(page, "broken", "failed")
    assert page.locator(f"{BADGE}.jp-nbflow-lastrun").count() == 0  # live badges are not greyed
    # shut the kernel down and open the notebook again: a new kernel, without nbflow loaded
    page.click(f"{PANEL} .jp-Cell")
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Shut Down Kernel").first.click()
    page.wait_for_function(
        "sel => ![...document.querySelectorAll(sel)].some(n => !n.classList.contains('jp-nbflow-lastrun'))"
        " || document.querySelectorAll(sel).length === 0", arg=BADGE)
    open_notebook(page, notebooks, "lastrun.ipynb")
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 2", arg=f"{BADGE}.jp-nbflow-lastrun")
    shown = _lastrun_badges(page)
    assert shown["first"][0] == "last run just now: succeeded", shown
    assert shown["broken"] == ("last run just now: failed", "ValueError: broken on purpose"), shown
    assert page.locator(f"{PANEL} .jp-Cell").nth(1).locator(":scope > .jp-nbflow-lastrun").count() == 1  # its cell
    assert page.locator(f"{PANEL} .jp-Cell").nth(3).locator(":scope > .jp-nbflow-badge").count() == 0
    opacity = page.locator(f"{BADGE}[data-step='first']").evaluate("n => getComputedStyle(n).opacity")
    assert float(opacity) < 1  # greyed
    save_screenshot(page, "badges-last-run.png")
    # Run All: the kernel's own steps replace them, live (first restored from its checkpoint)
    run_all(page)
    _wait_badge(page, "first", "restored")
    _wait_badge(page, "broken", "failed")
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=f"{BADGE}.jp-nbflow-lastrun")
    assert page.locator(BADGE).count() == 2
    assert errors == [], errors
