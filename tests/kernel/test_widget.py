"""The live graph widget in a real kernel: views, batched updates, final state, static fallback."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from .conftest import Kernel

WIDGET = "application/vnd.jupyter.widget-view+json"


def _widget_output(reply: object) -> dict:
    outputs = reply.outputs
    return next(o["data"] for o in outputs if WIDGET in o.get("data", {}))


def test_flow_show_is_a_widget_with_static_fallback(kernel: Kernel) -> None:
    kernel.execute("%%step load\nraw = list(range(10))")
    kernel.execute("%%step clean --after load\nrows = [r for r in raw if r % 2]")
    kernel.execute("%%step sneaky\nimport time; time.sleep(0.2); total = sum(rows)")  # reads rows undeclared
    kernel.execute("%%step broken --after clean\nraise ValueError('no good')")
    kernel.execute("%flow wait", timeout=30)
    data = _widget_output(kernel.execute("%flow show"))
    svg = data["image/svg+xml"]
    for name in ("load", "clean", "sneaky", "broken"):
        assert f">{name}<" in svg, name
    assert 'stroke-dasharray' in svg  # the undeclared clean -> sneaky edge
    assert "broken" in data["text/plain"] and "failed" in data["text/plain"]
    model = kernel.wait_widget(data[WIDGET]["model_id"], lambda m: bool(m.get("layout_svg")))  # laid out off-thread
    assert model["layout_svg"].count('class="node') == 4
    # the model's final rows equal status() in the kernel (read messages until they do, or fail)
    status = kernel.execute(
        "import json; from nbflow.jupyter.extension import kernel_flow\n"
        "print(json.dumps({n: [s.state.value, s.attempts] for n, s in kernel_flow().flow.status().items()}))"
    )
    expected = json.loads(status.text)

    def rows(m: dict[str, Any]) -> dict[str, list[Any]]:
        return {n: [row["state"], row["attempts"]] for n, row in m.get("steps", {}).items()}

    model = kernel.wait_widget(data[WIDGET]["model_id"], lambda m: rows(m) == expected)
    assert rows(model) == expected
    assert expected["broken"][0] == "failed" and expected["clean"][0] == "succeeded"


def test_two_views_share_one_model_and_selection_fills_details(kernel: Kernel) -> None:
    kernel.execute("%%step a\nx = 1")
    kernel.execute("%%step b --after a\nraise KeyError('missing thing')")
    kernel.execute("%flow wait", timeout=30)
    first = _widget_output(kernel.execute("%flow show"))[WIDGET]["model_id"]
    second = _widget_output(kernel.execute("%flow show"))[WIDGET]["model_id"]
    assert first == second
    reply = kernel.execute(
        "from nbflow.jupyter.extension import kernel_flow\nw = kernel_flow().widget()\nw.selected = 'b'\n"
        "print(w.detail['state'], '|', w.detail['error'], '|', 'KeyError' in w.detail['traceback'])"
    )
    assert reply.text.strip() == "failed | KeyError: 'missing thing' | True"
    reply = kernel.execute("w.selected = 'a'\nprint(w.detail['source'], w.detail['outputs'])")
    assert reply.text.strip() == "computed [['x', 'int: 1']]"


def test_new_step_relayouts_the_shown_graph(kernel: Kernel) -> None:
    kernel.execute("%%step a\nx = 1")
    model_id = _widget_output(kernel.execute("%flow show"))[WIDGET]["model_id"]
    kernel.execute("%%step b --after a\ny = x + 1")
    kernel.execute("%flow wait", timeout=30)

    def node_names(model: dict[str, object]) -> list[str]:
        return sorted(re.findall(r'class="node[^"]*">\s*<title>(\w+)</title>', str(model.get("layout_svg", ""))))

    # Read messages until the new layout arrives with b's final row; fails after the deadline if it never does.
    model = kernel.wait_widget(model_id, lambda m: len(node_names(m)) == 2
                               and m.get("steps", {}).get("b", {}).get("state") == "succeeded")
    nodes = node_names(model)
    assert sorted(nodes) == ["a", "b"]
    assert model["steps"]["b"]["state"] == "succeeded"


def test_thousand_steps_send_a_bounded_number_of_messages(kernel: Kernel) -> None:
    code = (
        "import time\nfrom nbflow import Flow\nfrom nbflow.widget import flow_widget\n"
        "from IPython.display import display\n"
        "f = Flow({})\n"
        "for i in range(1000):\n"
        "    f.add(f's{i}', f'v{i} = {i}', after=[f's{i // 2}'] if i else [])\n"
        "w = flow_widget(f)\ndisplay(w)\n"
        "t0 = time.monotonic()\nf.run(); f.wait()\nelapsed = time.monotonic() - t0\n"
    )
    reply = kernel.execute(code, timeout=120)
    assert reply.status == "ok", reply.error
    model_id = _widget_output(reply)[WIDGET]["model_id"]
    # The final update (sent on FlowFinished) reached the front end: nothing more will be sent.
    kernel.wait_widget(model_id, lambda m: len(m.get("steps", {})) == 1000
                       and all(r["state"] == "succeeded" for r in m["steps"].values()))
    reply = kernel.execute("print(elapsed, w.updates, w.layouts)")
    elapsed, updates, layouts = reply.text.split()
    # one update per 100 ms at most, plus the final one and the layout's
    bound = int(float(elapsed) / 0.1) + 4
    assert kernel.comm_msgs[model_id] <= bound, (kernel.comm_msgs[model_id], bound)
    assert int(updates) <= bound and int(layouts) == 1
    rows = kernel.widgets[model_id]["steps"]
    assert len(rows) == 1000 and all(row["state"] == "succeeded" for row in rows.values())
    # While it ran, an update carried only rows that changed since the view's last table and deltas.
    shown: dict[str, Any] = {}
    for kind, part in kernel.tables[model_id]:
        if kind == "delta":
            assert all(shown.get(name) != row for name, row in part.items()), part
            shown.update(part)
        else:
            shown = dict(part)
    assert shown == rows


def test_row_deltas_merged_over_the_table_give_the_final_table(kernel: Kernel) -> None:
    """What a view shows mid-run (the table it had plus every delta) is each step's latest row;
    the whole table comes when the flow finishes."""
    code = (
        "import threading\nfrom nbflow import Flow\nfrom nbflow.widget import flow_widget\n"
        "from IPython.display import display\n"
        "gate = threading.Event()\nf = Flow({'gate': gate})\n"
        "f.add('first', 'a = 1')\n"
        "f.add('hold', 'gate.wait(30)\\nb = a + 1', after=['first'])\n"
        "f.add('last', 'c = b + 1', after=['hold'])\n"
        "w = flow_widget(f)\ndisplay(w)\nw.wait_layout(30)\nf.run()\n"
    )
    reply = kernel.execute(code, timeout=60)
    assert reply.status == "ok", reply.error
    model_id = _widget_output(reply)[WIDGET]["model_id"]

    def merged() -> dict[str, Any]:
        rows = dict(kernel.widgets.get(model_id, {}).get("steps", {}))
        for delta in kernel.deltas.get(model_id, []):
            rows.update(delta)
        return rows

    kernel.wait_widget(model_id, lambda _m: merged().get("hold", {}).get("state") == "running")
    assert merged()["first"]["state"] == "succeeded" and merged()["last"]["state"] in ("pending", "waiting")
    assert kernel.widgets[model_id]["steps"]["hold"]["state"] != "running"  # it came as a delta
    kernel.execute("gate.set(); f.wait()", timeout=60)
    final = kernel.wait_widget(model_id, lambda m: m.get("steps", {}).get("last", {}).get("state") == "succeeded")
    assert sorted(final["steps"]) == ["first", "hold", "last"]
    assert all(row["state"] == "succeeded" for row in final["steps"].values())


def test_graph_draws_in_a_kernel_without_dot_on_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    kernel = Kernel(tmp_path, env={"PATH": str(empty)})
    try:
        assert kernel.execute("import shutil; print(shutil.which('dot'))").text.strip() == "None"
        kernel.execute("%load_ext nbflow")
        kernel.execute("%%step a\nx = 1")
        kernel.execute("%%step b --after a\ny = x")
        kernel.execute("%flow wait", timeout=30)
        data = _widget_output(kernel.execute("%flow show"))
        assert ">a<" in data["image/svg+xml"] and ">b<" in data["image/svg+xml"]
        # The layout is sent from the widget's layout thread: read messages until it comes.
        model = kernel.wait_widget(data[WIDGET]["model_id"], lambda m: bool(m.get("layout_svg")))
        assert model["message"] == "" and model["layout_svg"].startswith("<svg")
    finally:
        kernel.close()


def test_displaying_a_flow_shows_its_widget(kernel: Kernel) -> None:
    reply = kernel.execute("from nbflow import Flow\nf = Flow({})\nf.add('a', 'x = 1')\nf")
    data = _widget_output(reply)
    assert ">a<" in data["image/svg+xml"] and "a" in data["text/plain"]


def test_show_carries_a_png_and_the_widget_answers_a_views_hello(kernel: Kernel) -> None:
    kernel.execute("%%step a\nx = 1")
    kernel.execute("%flow wait", timeout=30)
    data = _widget_output(kernel.execute("%flow show"))
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    reply = kernel.execute(
        "from nbflow.jupyter.extension import kernel_flow\nw = kernel_flow().widget()\nsent = []\n"
        "w.send = sent.append\nw._on_message(w, {'action': 'hello'}, [])\nprint(sent)"
    )
    assert reply.text.strip() == "[{'hello': True}]"


def test_flow_wait_sends_every_widget_state_again_while_it_runs(kernel: Kernel) -> None:
    """A batch runner keeps only widget updates attributed to the cell running when they arrive;
    `%flow wait` sends the graph widget's and each step cell's final state under its own request."""
    step = kernel.execute("%%step a\nx = 1\nprint('made x')")
    output_id = step.widget_ids()[0]
    graph_id = _widget_output(kernel.execute("%flow show"))[WIDGET]["model_id"]
    kernel.execute("from nbflow.jupyter.extension import kernel_flow\nkernel_flow().flow.wait(timeout=30)")
    kernel.drain(0.5)  # every update of the run has been sent, and is attributed to earlier cells
    wait = kernel.execute("%flow wait", timeout=30)
    assert wait.states[graph_id]["steps"]["a"]["state"] == "succeeded"
    assert "layout_svg" in wait.states[graph_id]  # laid out since the last resend
    texts = str(wait.states[output_id]["outputs"])
    assert "made x" in texts and "a succeeded" in texts
    again = kernel.execute("%flow wait", timeout=30)
    assert "layout_svg" not in again.states.get(graph_id, {})  # unchanged since: not sent again
    assert output_id not in again.states
