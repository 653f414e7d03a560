"""The graphs of an executed notebook: PNG beside SVG, and no widget view for a kernel that is gone."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat

from .conftest import run, write_notebook

SVG, PNG, WIDGET = "image/svg+xml", "image/png", "application/vnd.jupyter.widget-view+json"


def test_executed_notebook_graphs_are_images_and_never_widget_views(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "graphs.ipynb", [
        "%load_ext nbflow",
        "%%step a\nx = 1",
        "%%step b --after a\ny = x + 1",
        "%flow show",
        "from nbflow import Flow\nother = Flow({})\nother.add('p', 'q = 1')\nother",  # the Python API's display
    ])
    result = run("nbflow", "run", notebook.name, "out.ipynb", "--no-progress", cwd=tmp_path)
    assert result.code == 0, result.stderr
    nb = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    shown = [o for o in nb.cells[3].outputs if "data" in o]
    final = [o for o in nb.cells[-1].outputs if SVG in o.get("data", {})]
    api = [o for o in nb.cells[4].outputs if "data" in o]
    assert len(shown) == 1 and len(final) == 1 and len(api) == 1
    assert PNG in api[0]["data"] and ">p<" in api[0]["data"][SVG]
    for output in shown + final + api:
        assert WIDGET not in output["data"]
        assert base64.b64decode(output["data"][PNG])[:8] == b"\x89PNG\r\n\x1a\n"
    for output in shown + final:
        svg = output["data"][SVG]
        assert ">a<" in svg and ">b<" in svg
        assert "succeeded 2" in svg  # the final states: `%flow show` was refreshed at the end
    # No graph widget was made at all: its model is not in the widget state nbclient saves.
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert not [m for m in state.values() if m["model_name"] == "AnyModel"]


def test_executed_step_cells_carry_no_widget_and_a_bounded_copy_of_many_displays(tmp_path: Path) -> None:
    """A step displaying 5,000 times: its cell in the executed notebook has its static copy only (no widget
    view, no Output model in the saved widget state), with the first and last displays and the marker."""
    from nbflow.jupyter.window import HEAD_DISPLAYS, TAIL_DISPLAYS

    count = 5_000
    notebook = write_notebook(tmp_path / "many.ipynb", [
        "%load_ext nbflow",
        f"%%step many\nfrom IPython.display import HTML, display\nfor i in range({count}):\n"
        "    display(HTML(f'<i>shown {i}</i>'))",
    ])
    result = run("nbflow", "run", notebook.name, "out.ipynb", "--no-progress", cwd=tmp_path)
    assert result.code == 0, result.stderr
    nb = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    (output,) = [o for o in nb.cells[1].outputs if "data" in o]
    assert WIDGET not in output["data"]
    html = output["data"]["text/html"]
    shown = [i for i in range(count) if f"<i>shown {i}</i>" in html]
    assert shown == list(range(HEAD_DISPLAYS)) + list(range(count - TAIL_DISPLAYS, count))
    assert f"… {count - HEAD_DISPLAYS - TAIL_DISPLAYS:,} displays not shown …" in html
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    assert not [m for m in state.values() if m["model_name"] == "OutputModel"]
    assert (tmp_path / "out.ipynb").stat().st_size < 200_000
