"""A real JupyterLab (or Notebook 7) server and headless Debian chromium, started and stopped by the fixtures.

The browser must be Debian's `chromium` (Playwright downloads nothing here);
without it these tests fail, they do not skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .server import lab_server

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
#: the notebook on screen (others may be open in hidden tabs)
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path
    #: "lab" (JupyterLab) or "notebook" (Notebook 7): which front end the server serves
    app: str = "lab"

    def notebook_url(self, name: str) -> str:
        """Where `name` opens; for JupyterLab `reset`: a fresh workspace, so notebooks opened by earlier tests
        stay closed (Notebook 7 opens one notebook per page anyway)."""
        if self.app == "notebook":
            return f"{self.url}/notebooks/{name}?token={self.token}"
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"


def _browser_check_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (
        "%load_ext nbflow",
        "%%step slow\nimport time\ntime.sleep(4)\nx = 1",
        "%%step after_slow --after slow\ny = x + 1",
        "%%step broken\nraise ValueError('broken on purpose')",
        "%flow show",
    )]
    nbformat.write(nb, str(path))


def _serve(tmp_path_factory: pytest.TempPathFactory, app: str) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp(app)
    root = base / "root"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    _browser_check_notebook(root / "browser_check.ipynb")
    with lab_server(base, root, app=app) as (url, token, _server, log):
        yield Lab(url, token, root, log, app)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from _serve(tmp_path_factory, "lab")


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The same server setup as `lab`, serving Notebook 7 (`jupyter notebook`, package `notebook>=7`)."""
    yield from _serve(tmp_path_factory, "notebook")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module scope: Playwright's sync API keeps an event loop running on the main
    thread until it stops, which would break later tests that call asyncio.run."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium not found: apt-get install chromium (the browser tests need Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open `name` in JupyterLab (or Notebook 7) and wait until its kernel is idle."""
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


#: how long the first code cell may keep an empty prompt after Run All before it is chosen again
RUN_ALL_SECONDS = 10


def run_all(page: Any, tries: int = 5) -> None:
    """Run > Run All Cells, from the menu bar like a user.

    Right after a notebook opens, Lab may lose the run requests made while
    its kernel connection is still being set up: the first code cell's prompt
    stays `[ ]` (bench/output.py saw it in 3 runs of 4). Nothing was queued
    then, so Run All is chosen again, up to `tries` times.
    """
    for _ in range(tries):
        page.click(f"{PANEL} .jp-Cell")  # focus the notebook
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "sel => { const p = document.querySelector(sel); "
                "return p !== null && !p.textContent.includes('[ ]'); }",
                arg=f"{PANEL} .jp-CodeCell .jp-InputPrompt", polling=100, timeout=RUN_ALL_SECONDS * 1000)
            return
        except Exception:  # playwright's TimeoutError: the requests were lost
            continue
    raise AssertionError(f"Run All Cells: no cell ran after {tries} tries")


def save_screenshot(target: Any, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    target.screenshot(path=str(path))
    return path
