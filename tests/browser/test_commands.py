"""The JupyterLab extension's commands in a real JupyterLab and chromium: palette, toolbar, context menu, keys.

Each command sends one request over the `nbflow` comm and the kernel makes the Flow call the `%flow`
command makes (docs/guide/jupyterlab.md, "Commands"); the steps' own side effects (files they append to)
show that the bodies really ran again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import PANEL, Lab, open_notebook, run_all, save_screenshot
from .test_badges import _wait_badge, _write

_APPEND = ("from pathlib import Path\nlog = Path({file!r})\n"
           "log.write_text((log.read_text() if log.exists() else '') + 'x')\n")


@pytest.fixture(scope="module")
def notebook(lab: Lab) -> Iterator[Lab]:
    _write(lab.root / "commands.ipynb", [
        "%load_ext nbflow",
        "%%step a\n" + _APPEND.format(file="runs_a.txt") + "x = 1",
        "%%step b --after a\ny = x + 1",
        "%%step broken\n" + _APPEND.format(file="tries.txt") + "raise ValueError('broken on purpose')",
        "%%step gate\nimport time\nfrom pathlib import Path\nwhile not Path('open.txt').exists():\n"
        "    time.sleep(0.02)\ngated = True",
    ], ids=["k-ext", "k-a", "k-b", "k-broken", "k-gate"])
    yield lab


def _palette(page: Any, label: str) -> None:
    """Run a command from the command palette, as a user: Ctrl+Shift+C, type its label, click it."""
    page.keyboard.press("Control+Shift+C")
    search = page.locator(".lm-CommandPalette-input")
    search.wait_for(state="visible")
    search.fill(label)
    item = page.locator(".lm-CommandPalette-item:not(.lm-mod-disabled)", has_text=label).first
    item.wait_for(state="visible")
    assert item.get_attribute("data-command", timeout=1000).startswith("nbflow:")
    item.click()


def _toast(page: Any, text: str) -> None:
    page.wait_for_function("text => document.body.innerText.includes(text)", arg=text)


def _file_says(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text() == text):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name}: {path.read_text() if path.exists() else 'missing'!r}, not {text!r}")
        time.sleep(0.05)  # polling a file the kernel's step writes, with a deadline


def _activate(page: Any, index: int) -> None:
    page.locator(f"{PANEL} .jp-Cell").nth(index).locator(".jp-InputPrompt").click()
    page.wait_for_function(
        "([sel, i]) => document.querySelectorAll(sel)[i]?.classList.contains('jp-mod-active')",
        arg=[f"{PANEL} .jp-Cell", index])


@pytest.mark.timeout(240)
def test_palette_toolbar_menu_and_key_commands_act_on_the_kernels_flow(page: Any, notebook: Lab) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    open_notebook(page, notebook, "commands.ipynb")
    toolbar = page.locator(f"{PANEL} .jp-Toolbar [data-jp-item-name='nbflow-run-pending']")
    toolbar.wait_for(state="visible", timeout=10_000)
    assert page.locator(f"{PANEL} .jp-Toolbar [data-jp-item-name='nbflow-cancel']").count() == 1
    run_all(page)
    _wait_badge(page, "a", "succeeded")
    _wait_badge(page, "broken", "failed")
    _wait_badge(page, "gate", "running")

    _palette(page, "Cancel steps")
    _wait_badge(page, "gate", "cancelled")
    _toast(page, "nbflow: cancelled gate")

    _palette(page, "Retry failed steps")
    _toast(page, "nbflow: retrying broken")
    _file_says(notebook.root / "tries.txt", "xx")  # broken's body ran a second time
    _wait_badge(page, "broken", "failed")

    _activate(page, 1)
    _palette(page, "Force re-run this step and its dependents")
    _toast(page, "nbflow: re-running a, restoring nothing, and downstream b")
    _file_says(notebook.root / "runs_a.txt", "xx")
    _wait_badge(page, "b", "succeeded")

    # the per-step entries of the cell context menu: enabled on a step cell, not on a plain one
    page.locator(f"{PANEL} .jp-Cell").nth(0).locator(".jp-InputPrompt").click(button="right")
    item = page.locator(".lm-Menu-item[data-command='nbflow:run-step']")
    item.wait_for(state="visible")
    assert "lm-mod-disabled" in (item.get_attribute("class") or "")
    page.keyboard.press("Escape")
    (notebook.root / "open.txt").write_text("")
    page.locator(f"{PANEL} .jp-Cell").nth(4).locator(".jp-InputPrompt").click(button="right")
    item.wait_for(state="visible")
    assert "lm-mod-disabled" not in (item.get_attribute("class") or "")
    save_screenshot(page, "commands-context-menu.png")
    item.click()  # Run this step: gate runs again, and the file it waits for is there now
    _wait_badge(page, "gate", "succeeded")

    # the toolbar's Run pending: every step not up to date, the failed one here (as `%flow run`)
    toolbar.click()
    _toast(page, "nbflow: running 1 step: broken")
    _file_says(notebook.root / "tries.txt", "xxx")
    _wait_badge(page, "broken", "failed")
    # the keyboard shortcut of Run pending (Alt+Shift+R, in command mode), the same again
    _activate(page, 0)
    page.keyboard.press("Escape")
    page.keyboard.press("Alt+Shift+R")
    _file_says(notebook.root / "tries.txt", "xxxx")
    save_screenshot(page, "commands.png")
    assert errors == [], errors
