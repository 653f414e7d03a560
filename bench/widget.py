"""What the live graph widget costs: comm traffic, update time and Graphviz layout, at 100 and 1,000 steps.

    .venv/bin/python bench/widget.py                # full run, under 2 minutes
    .venv/bin/python bench/widget.py --quick        # one repetition instead of 5, fewer samples
    .venv/bin/python bench/widget.py --sleep-ms 5   # longer steps, so more updates per run

The graph is a seeded random layered DAG (100 steps: 10 layers of 10; 1,000
steps: 20 layers of 50); every node outside the first layer depends on 1-3
random nodes of earlier layers. Each step is a code step `_sleep(S)` then
`v_i = i` (S = 1 ms by default), so a run lasts long enough for a few
coalesced updates.

1. In a real kernel (jupyter_client): one execute builds a fresh `Flow` over a
   dict with the Python API; the flow is run (`f.run(); f.wait()`, timed with
   perf_counter inside the kernel) once without a widget and once with
   `flow_widget(f)` displayed in an earlier execute. The client counts the iopub
   `comm_msg` messages of that widget's comm during the run (and for a moment
   after it, so the final flush is counted), and the kernel reports
   `w.updates` - the state pushes made for the run. Median of the repetitions,
   no-widget and widget runs interleaved. `display s` is the client-side
   round trip of the `w = flow_widget(f); display(w)` execute (the widget's
   live layout plus the static SVG fallback of the display bundle).
2. Time per update: during a run an update sends the rows of the steps that
   changed since the last one (`w._push()` with 50 steps changed); at the end, a
   reload or a relayout the whole table is sent (`w._push(force=True)`: every
   status read, every row built and sent), timed on a finished flow. Measured in-process (ipywidgets
   builds the widget without a kernel; its comm is a dummy, so message
   serialisation is not included) and inside the kernel (with the real comm:
   JSON + ZeroMQ), median of N. `ms in updates` is updates x a delta update's ms (in kernel).
3. Graphviz: `render_svg(flow_dot(graph, live=True))` (what the widget lays out
   once per graph shape) and the static flavour `render_svg(flow_dot(graph,
   statuses))`, median of 3, and the size of the live SVG in KB; and the
   static drawing every display carries, `static_drawing(graph, statuses)`
   (SVG and the capped PNG from one Graphviz run), with its PNG's size in KB.

The last lines are `name: value` figures for the 1,000-step flow.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jupyter_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbflow import Flow
from nbflow.render.dot import flow_dot
from nbflow.render.layout import render_svg
from nbflow.render.static import static_drawing
from nbflow.widget import FlowWidget

SIZES = {100: (10, 10), 1000: (20, 50)}  # steps -> (layers, width)
SEED = 20240603
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

Dag = list[tuple[str, list[str]]]  # (name, dependencies), in topological order


def random_dag(layers: int, width: int, seed: int = SEED) -> Dag:
    rng = random.Random(seed)
    dag: Dag = []
    earlier: list[str] = []
    for layer in range(layers):
        names = [f"s{layer * width + j:04d}" for j in range(width)]
        for name in names:
            dag.append((name, sorted(rng.sample(earlier, rng.randint(1, 3))) if earlier else []))
        earlier.extend(names)
    return dag


def body(index: int, sleep_s: float) -> str:
    return f"_sleep({sleep_s})\nv_{index} = {index}" if sleep_s else f"v_{index} = {index}"


def build_flow(dag: Dag, sleep_s: float) -> Flow:
    flow = Flow({"_sleep": time.sleep})
    for index, (name, deps) in enumerate(dag):
        flow.add(name, body(index, sleep_s), after=deps)
    return flow


# -- a real kernel ---------------------------------------------------------------------


class Kernel:
    """An ipykernel driven over jupyter_client; counts comm_msg messages per comm id as they arrive."""

    def __init__(self, cwd: Path) -> None:
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.comm_msgs: dict[str, int] = {}

    def execute(self, code: str, timeout: float = 300) -> tuple[str, list[dict[str, Any]]]:
        """Run `code`; its stdout and its display_data outputs."""
        msg_id = self.client.execute(code)
        stdout: list[str] = []
        displays: list[dict[str, Any]] = []
        error = ""
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            self._count(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "display_data":
                displays.append(content["data"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
        shell = self.client.get_shell_msg(timeout=timeout)
        while shell["parent_header"].get("msg_id") != msg_id:
            shell = self.client.get_shell_msg(timeout=timeout)
        if shell["content"]["status"] != "ok":
            raise RuntimeError(f"kernel error in {code[:60]!r}: {error or shell['content'].get('evalue')}")
        return "".join(stdout), displays

    def value(self, code: str) -> Any:
        """Run `code`, whose last printed line is JSON, and return it."""
        stdout, _ = self.execute(code)
        return json.loads(stdout.strip().splitlines()[-1])

    def drain(self, seconds: float = 0.5) -> None:
        """Read the iopub messages that arrive while no cell runs (late widget updates)."""
        try:
            while True:
                self._count(self.client.get_iopub_msg(timeout=seconds))
        except queue.Empty:
            pass

    def _count(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "comm_msg":
            comm = msg["content"]["comm_id"]
            self.comm_msgs[comm] = self.comm_msgs.get(comm, 0) + 1

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


SETUP = """\
import json as _json, time as _time
from IPython.display import display
from nbflow import Flow
from nbflow.widget import flow_widget
"""

BUILD = """\
_dag = {dag!r}
f = Flow({{"_sleep": _time.sleep}})
for _i, (_name, _deps) in enumerate(_dag):
    f.add(_name, {body}, after=_deps)
print(len(f.graph))
"""

RUN = """\
_t = _time.perf_counter()
f.run()
_statuses = f.wait(timeout=300)
_wall = _time.perf_counter() - _t
assert sum(s.state.value == "succeeded" for s in _statuses.values()) == len(_dag), f.table()
print(_json.dumps(_wall))
"""

PUSH = """\
_times = []
for _ in range({count}):
    _t = _time.perf_counter()
    w._push(force=True)
    _times.append(_time.perf_counter() - _t)
_times.sort()
print(_json.dumps(_times[len(_times) // 2] * 1000))
"""

#: a run's update: the rows of DELTA_STEPS steps changed since the last one, sent as a delta
DELTA_STEPS = 50
PUSH_DELTA = """\
_times = []
_names = list(f.graph)[:{steps}]
for _ in range({count}):
    for _n in _names:
        w._sent.pop(_n, None)  # as if each had changed since the last update
    with w._changed_lock:
        w._changed = set(_names)
    _t = _time.perf_counter()
    w._push()
    _times.append(_time.perf_counter() - _t)
_times.sort()
print(_json.dumps(_times[len(_times) // 2] * 1000))
"""


def build_in_kernel(kernel: Kernel, dag: Dag, sleep_s: float) -> None:
    code = f'f"_sleep({sleep_s})\\nv_{{_i}} = {{_i}}"' if sleep_s else 'f"v_{_i} = {_i}"'
    stdout, _ = kernel.execute(BUILD.format(dag=dag, body=code))
    assert int(stdout) == len(dag), stdout


def kernel_run(kernel: Kernel, dag: Dag, sleep_s: float, widget: bool, push_samples: int = 0) -> dict[str, float]:
    """One fresh flow in the kernel, run once; with `widget`, displayed first and its traffic counted."""
    build_in_kernel(kernel, dag, sleep_s)
    result: dict[str, float] = {}
    model_id = ""
    if widget:
        started = time.perf_counter()
        _, displays = kernel.execute("w = flow_widget(f)\ndisplay(w)")
        result["display"] = time.perf_counter() - started
        model_id = next(d[WIDGET_MIME]["model_id"] for d in displays if WIDGET_MIME in d)
        kernel.drain(0.3)
        kernel.execute("_before = w.updates")
    kernel.comm_msgs.clear()
    result["wall"] = kernel.value(RUN)
    if widget:
        kernel.drain(0.5)  # the final flush may follow wait()'s return
        result["msgs"] = kernel.comm_msgs.get(model_id, 0)
        result["updates"] = kernel.value("print(w.updates - _before)")
        if push_samples:
            result["push_ms"] = kernel.value(PUSH.format(count=push_samples))
            result["delta_ms"] = kernel.value(PUSH_DELTA.format(count=push_samples, steps=DELTA_STEPS))
        kernel.execute("w.close()")
        kernel.drain(0.2)
    kernel.execute("f.close()")
    return result


# -- in-process ------------------------------------------------------------------------


def push_ms(dag: Dag, sleep_s: float, samples: int) -> float:
    """Median ms of one forced update on a finished flow, in this process (dummy comm)."""
    flow = build_flow(dag, sleep_s)
    try:
        widget = FlowWidget(flow)
        flow.run()
        flow.wait(timeout=300)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            widget._push(force=True)
            times.append(time.perf_counter() - started)
        widget.close()
        return statistics.median(times) * 1000
    finally:
        flow.close()


def layouts(dag: Dag, sleep_s: float, repeats: int) -> tuple[float, float, float, float, float, float]:
    """Median seconds of the live and static layouts and of the SVG+PNG drawing; SVG and PNG sizes in KB."""
    flow = build_flow(dag, sleep_s)
    try:
        flow.run()
        flow.wait(timeout=300)
        live_times, static_times, drawing_times = [], [], []
        live_svg = static_svg = png = ""
        for _ in range(repeats):
            started = time.perf_counter()
            live_svg = render_svg(flow_dot(flow.graph, live=True))
            live_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            static_svg = render_svg(flow_dot(flow.graph, flow.status()))
            static_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            png = static_drawing(flow.graph, flow.status()).png
            drawing_times.append(time.perf_counter() - started)
        return (statistics.median(live_times), statistics.median(static_times),
                len(live_svg.encode()) / 1024, len(static_svg.encode()) / 1024,
                statistics.median(drawing_times), len(png) * 3 / 4 / 1024)
    finally:
        flow.close()


# -- report ----------------------------------------------------------------------------

COLUMNS = [
    ("steps", "{:>6.0f}", "steps"),
    ("wall s", "{:>10.3f}", "wall_plain"),
    ("wall s", "{:>10.3f}", "wall_widget"),
    ("display", "{:>8.2f}", "display"),
    ("comm", "{:>7.0f}", "msgs"),
    ("updates", "{:>8.0f}", "updates"),
    ("ms/update", "{:>10.2f}", "push_local"),
    ("ms/update", "{:>10.2f}", "push_kernel"),
    ("ms/update", "{:>10.2f}", "delta_kernel"),
    ("ms in", "{:>8.1f}", "push_total"),
    ("layout s", "{:>9.2f}", "layout_live"),
    ("layout s", "{:>9.2f}", "layout_static"),
    ("svg KB", "{:>8.0f}", "svg_live"),
    ("svg KB", "{:>8.0f}", "svg_static"),
    ("svg+png s", "{:>10.2f}", "drawing"),
    ("png KB", "{:>8.0f}", "png"),
]
SECOND = ["", "no widget", "widget", "s", "msgs", "", "all local", "all kern", "50 kern", "updates",
          "live", "static", "live", "static", "static", "static"]


def table(rows: list[dict[str, float]]) -> str:
    widths = [len(fmt.format(0)) for _, fmt, _ in COLUMNS]
    lines = ["".join(f"{title:>{w}}" for (title, _, _), w in zip(COLUMNS, widths, strict=True)),
             "".join(f"{title:>{w}}" for title, w in zip(SECOND, widths, strict=True))]
    for row in rows:
        lines.append("".join(fmt.format(row[key]) for _, fmt, key in COLUMNS))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, fewer samples")
    parser.add_argument("--sleep-ms", type=float, default=1.0, metavar="MS",
                        help="each step sleeps this long (default 1; 0 = no sleep)")
    args = parser.parse_args()
    repetitions = 1 if args.quick else 5
    samples = 5 if args.quick else 15
    sleep_s = args.sleep_ms / 1000
    began = time.perf_counter()

    dags = {steps: random_dag(*shape) for steps, shape in SIZES.items()}
    rows = {steps: {"steps": float(steps)} for steps in dags}
    folder = Path(tempfile.mkdtemp(prefix="nbflow-bench-"))
    kernel = Kernel(folder)
    try:
        kernel.execute(SETUP)
        for steps, dag in dags.items():
            kernel_run(kernel, dag, sleep_s, widget=False)  # warm-up: imports, first thread start-ups
            plain, widget = [], []
            for rep in range(repetitions):
                plain.append(kernel_run(kernel, dag, sleep_s, widget=False))
                widget.append(kernel_run(kernel, dag, sleep_s, widget=True,
                                         push_samples=samples if rep == 0 else 0))
            row = rows[steps]
            row["wall_plain"] = statistics.median(r["wall"] for r in plain)
            row["wall_widget"] = statistics.median(r["wall"] for r in widget)
            row["display"] = statistics.median(r["display"] for r in widget)
            row["msgs"] = statistics.median(r["msgs"] for r in widget)
            row["updates"] = statistics.median(r["updates"] for r in widget)
            row["push_kernel"] = widget[0]["push_ms"]
            row["delta_kernel"] = widget[0]["delta_ms"]
    finally:
        kernel.close()

    for steps, dag in dags.items():
        row = rows[steps]
        row["push_local"] = push_ms(dag, sleep_s, samples)
        row["push_total"] = row["updates"] * row["delta_kernel"]
        (row["layout_live"], row["layout_static"], row["svg_live"], row["svg_static"], row["drawing"],
         row["png"]) = layouts(dag, sleep_s, 1 if args.quick else 3)

    print(f"Live graph widget, random layered DAG, steps sleep {args.sleep_ms:g} ms, "
          f"median of {repetitions} run(s) per flow size")
    print(table(list(rows.values())))
    print(f"total time: {time.perf_counter() - began:.1f} s")
    big = rows[1000]
    print(f"widget_msgs_1000: {big['msgs']:.0f}")
    print(f"widget_update_ms_1000: {big['delta_kernel']:.2f} ({DELTA_STEPS} rows changed; "
          f"the whole table: {big['push_kernel']:.2f})")
    print(f"layout_s_1000: {big['layout_live']:.2f}")
    print(f"static_svg_png_s_1000: {big['drawing']:.2f} (svg alone {big['layout_static']:.2f})")
    print(f"widget_overhead_ratio_1000: {big['wall_widget'] / big['wall_plain']:.2f}")


if __name__ == "__main__":
    main()
