"""A step's cell in a real kernel: retries fold into one line each, many displays stay bounded,
re-run cells leave no widgets behind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Kernel

DETAILS = "(traceback in the widget's details)"


def _shown(outputs: list[dict[str, Any]]) -> list[str]:
    """Each output of an Output widget as one string: stream text, a display's text, an error's name."""
    shown = []
    for out in outputs:
        if out["output_type"] == "stream":
            shown.append(out["text"])
        elif out["output_type"] == "error":
            shown.append(f"<error {out['ename']}>")
        else:
            shown.append(str(out.get("data", {}).get("text/plain", "")))
    return shown


def test_a_successful_retry_folds_each_failed_attempt_into_one_line(kernel: Kernel) -> None:
    """Two failed attempts then a success: the cell shows what each printed and one line per failed
    attempt, in order; no traceback is left in the cell; the widget's details hold both tracebacks."""
    reply = kernel.execute(  # the attempts are counted in a file, so no input changes in place
        "%%step flaky --retries 2\n"
        "with open('tries.txt', 'a') as _f:\n"
        "    _f.write('x')\n"
        "n = len(open('tries.txt').read())\n"
        "print('try', n)\n"
        "if n < 3:\n"
        "    raise ValueError('boom %d' % n)\n")
    (model_id,) = reply.widget_ids()
    assert kernel.execute("%flow wait", timeout=60).status == "ok"
    state = kernel.wait_widget(model_id, lambda m: any("succeeded" in s for s in _shown(m.get("outputs", []))))
    assert _shown(state["outputs"]) == [
        "try 1\n", f"flaky: attempt 1 of 3 failed: ValueError: boom 1 {DETAILS}",
        "try 2\n", f"flaky: attempt 2 of 3 failed: ValueError: boom 2 {DETAILS}",
        "try 3\n", next(s for s in _shown(state["outputs"]) if s.startswith("✓ flaky succeeded")),
    ]
    assert "after 3 attempts" in _shown(state["outputs"])[-1]
    detail = kernel.execute(
        "import json\nfrom nbflow.jupyter.extension import kernel_flow\n"
        "_w = kernel_flow().widget(); _w.selected = 'flaky'\n"
        "print(json.dumps([[a[0], a[3], a[4]] for a in _w.detail['attempts']]))")
    attempts = json.loads(detail.text)
    assert [(n, error) for n, error, _ in attempts] == [(1, "ValueError: boom 1"), (2, "ValueError: boom 2"), (3, "")]
    for n, _, traceback in attempts[:2]:
        assert 'File "<step flaky>", line 6' in traceback and f"ValueError: boom {n}" in traceback
    assert attempts[2][2] == ""


def test_a_retry_that_fails_for_good_keeps_every_traceback_in_the_cell(kernel: Kernel) -> None:
    """Nothing folds when no attempt succeeds: each traceback stays where it happened, in order."""
    reply = kernel.execute("%%step doomed --retries 1\nprint('trying')\nraise KeyError('gone')")
    (model_id,) = reply.widget_ids()
    kernel.execute("%flow wait", timeout=60)
    state = kernel.wait_widget(model_id, lambda m: any("✗ doomed failed" in s for s in _shown(m.get("outputs", []))))
    shown = _shown(state["outputs"])
    assert shown[:6] == ["trying\n", "<error KeyError>", "doomed: attempt 1 failed: KeyError: 'gone'",
                         "doomed: retrying in 0s (attempt 2)", "── doomed: attempt 2 of 2 ──", "trying\n"]
    assert shown[6:8] == ["<error KeyError>", "doomed: attempt 2 failed: KeyError: 'gone'"]


def test_a_step_displaying_many_times_keeps_a_bounded_view(kernel: Kernel) -> None:
    """20,000 display() calls: the widget holds the first and last displays and a marker with the count;
    a handful of updates; kernel RSS stays flat."""
    from nbflow.jupyter.window import HEAD_DISPLAYS, TAIL_DISPLAYS

    count = 20_000
    kernel.execute("import psutil; _rss0 = psutil.Process().memory_info().rss")
    reply = kernel.execute(f"%%step many\nfrom IPython.display import display, HTML\n"
                           f"for i in range({count}):\n    display(HTML('<b>%d</b>' % i))\n")
    (model_id,) = reply.widget_ids()
    assert kernel.execute("%flow wait", timeout=120).status == "ok"
    state = kernel.wait_widget(model_id, lambda m: any("succeeded" in s for s in _shown(m.get("outputs", []))))
    html = [o["data"].get("text/html", "") for o in state["outputs"] if o["output_type"] == "display_data"]
    shown = [h for h in html if h.startswith("<b>")]
    assert shown == [f"<b>{i}</b>" for i in range(HEAD_DISPLAYS)] + \
        [f"<b>{i}</b>" for i in range(count - TAIL_DISPLAYS, count)]
    assert f"… {count - HEAD_DISPLAYS - TAIL_DISPLAYS:,} displays not shown …" in _shown(state["outputs"])
    assert kernel.comm_msgs[model_id] < 400
    growth = kernel.execute("print((psutil.Process().memory_info().rss - _rss0) / 2**20)")
    assert float(growth.text) < 100, f"kernel RSS grew {growth.text.strip()} MB"


def _live_widgets(kernel: Kernel) -> tuple[int, float]:
    reply = kernel.execute("import gc, psutil, ipywidgets.widgets.widget as _wm\ngc.collect()\n"
                           "print(len(_wm._instances), psutil.Process().memory_info().rss / 2**20)")
    count, rss = reply.text.split()
    return int(count), float(rss)


def _rerun_cells(kernel: Kernel, cells: int, rounds: int) -> None:
    """Run `cells` step cells (each with its own cell id, as JupyterLab sends) `rounds` times; print the figures."""
    figures = []
    kernel.execute("%flow show", cell_id="graph-cell")
    for round_ in range(rounds):
        for i in range(cells):
            reply = kernel.execute(f"%%step s{i}\nv{i} = {i} + 1", cell_id=f"cell-{i}")
            assert reply.status == "ok", reply.error
        kernel.execute("%flow show", cell_id="graph-cell")  # the same cell re-run: its display replaced
        assert kernel.execute("%flow wait", timeout=300).status == "ok"
        figures.append(_live_widgets(kernel))
        print(f"round {round_ + 1}: {figures[-1][0]} live widgets, kernel RSS {figures[-1][1]:.1f} MB")
    kernel.drain(0.2)
    first, last = figures[0], figures[-1]
    # One Output and its Layout per step cell, the graph widget and its layout: the same after every round.
    assert all(count == first[0] for count, _ in figures), figures
    assert first[0] <= 2 * cells + 10
    assert last[1] - first[1] < max(20.0, cells * rounds * 0.005), figures
    graphs = kernel.execute("from nbflow.jupyter.extension import kernel_flow\n"
                            "print(len(kernel_flow().graph_displays))")
    assert graphs.text.strip() == "1"  # the re-run `%flow show` cell keeps one display to refresh


def test_rerunning_step_cells_leaves_no_widgets_behind(kernel: Kernel) -> None:
    _rerun_cells(kernel, cells=100, rounds=3)


@pytest.mark.long
@pytest.mark.timeout(1800)
def test_rerunning_1000_step_cells_10_times_leaves_no_widgets_behind(kernel: Kernel) -> None:
    _rerun_cells(kernel, cells=1000, rounds=10)


def test_a_second_flow_show_stays_live_when_the_first_cell_is_rerun(kernel: Kernel) -> None:
    """Re-running one `%flow show` cell leaves the other cell's view refreshed at `%flow wait`."""
    kernel.execute("%%step a\nx = 1")
    kernel.execute("%flow show", cell_id="first")
    kernel.execute("%flow show", cell_id="second")
    kernel.execute("%flow show", cell_id="first")
    reply = kernel.execute("from nbflow.jupyter.extension import kernel_flow\n_w = kernel_flow().widget()\n"
                           "print(len(kernel_flow().graph_displays), _w.comm is not None)")
    assert reply.text.split() == ["2", "True"]
