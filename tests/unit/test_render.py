"""DOT of the graph and the Graphviz layout (the real graphviz-pure executable, no `dot` needed)."""

from __future__ import annotations

import base64
import html
import re
import shutil
import struct
import subprocess

import pytest

from nbflow.core.errors import NbflowError
from nbflow.core.graph import Graph
from nbflow.core.spec import make_spec
from nbflow.core.states import State
from nbflow.core.status import StepStatus
from nbflow.render import layout
from nbflow.render.dot import LEGEND, PLACEHOLDER, flow_dot, legend_entries
from nbflow.render.layout import GraphvizNotFound, render, render_svg
from nbflow.render.palette import STATE_COLORS
from nbflow.render.static import MAX_INCHES, static_drawing


def _graph() -> Graph:
    graph = Graph()
    for spec in (make_spec("load", "raw = 1"), make_spec("clean", "rows = raw", after="load"),
                 make_spec("peek", "n = rows"),  # reads rows without --after: undeclared
                 make_spec("report", "print(rows)", after_any="clean,peek")):
        graph = graph.with_step(spec)
    return graph


def _nodes(svg: str) -> dict[str, str]:
    """{step: fill} of each node in a Graphviz SVG."""
    found = re.findall(r'class="node[^"]*">\s*<title>(\w+)</title>\s*(?:<g[^>]*><a[^>]*>\s*)?'
                       r'<(?:path|polygon)[^>]*fill="(#[0-9a-f]+)"', svg)
    return dict(found)


def test_static_drawing_colours_every_step_by_state() -> None:
    statuses = {"load": StepStatus("load", State.SUCCEEDED, attempts=1, duration=1.5),
                "clean": StepStatus("clean", State.FAILED, attempts=3, error="boom")}
    svg = render_svg(flow_dot(_graph(), statuses))
    nodes = _nodes(svg)
    assert nodes == {"load": STATE_COLORS["succeeded"][0], "clean": STATE_COLORS["failed"][0],
                     "peek": STATE_COLORS["pending"][0], "report": STATE_COLORS["pending"][0]}
    assert "3 tries" in svg and "1.5s" in svg
    assert "failed 1" in svg and "pending 2" in svg  # the legend's counts


def test_edges_declared_any_and_undeclared() -> None:
    source = flow_dot(_graph())
    assert re.search(r"load -> clean \[style=solid\]", source)
    assert re.search(r"clean -> report \[style=dotted\]", source)
    assert re.search(r'clean -> peek \[.*style=dashed', source)


def test_live_layout_reserves_a_detail_line() -> None:
    svg = render_svg(flow_dot(_graph(), live=True))
    assert svg.count(PLACEHOLDER) == 4 and svg.startswith("<svg")


def test_png_and_dot_output() -> None:
    assert render(flow_dot(_graph()), "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert render("digraph { a }", "dot") == b"digraph { a }"


def test_layout_needs_no_dot_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    layout.find_executable.cache_clear()
    try:
        assert shutil.which("dot") is None
        assert layout.find_executable().endswith("graphviz-pure")
        assert "<svg" in render_svg("digraph { a -> b }")
    finally:
        layout.find_executable.cache_clear()


def test_no_graphviz_at_all_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(layout, "CANDIDATES", ("no-such-graphviz",))
    layout.find_executable.cache_clear()
    try:
        with pytest.raises(GraphvizNotFound, match="pip install graphviz-pure"):
            render_svg("digraph { a }")
    finally:
        layout.find_executable.cache_clear()


def test_bad_dot_names_the_executable() -> None:
    with pytest.raises(NbflowError, match=r"graphviz \(graphviz-pure -Tsvg\) failed"):
        render("digraph { a -> }")


def _boxes(svg: str) -> dict[str, tuple[float, float]]:
    """{node name: (top, bottom)} in SVG coordinates (y grows downwards), from each node's outline."""
    boxes = {}
    for name, body in re.findall(r'class="node[^"]*">\s*<title>([^<]+)</title>(.*?)</g>\s*</g>', svg, re.S):
        outline = " ".join(re.findall(r'(?:points|d)="([^"]+)"', body))
        ys = [float(y) for y in re.findall(r"-?[\d.]+,(-?[\d.]+)", outline)]
        boxes[html.unescape(name)] = (min(ys), max(ys))
    return boxes


def test_legend_is_a_node_below_every_step() -> None:
    graph = _graph()
    # A second root with no dependents: its rank is the first, the legend must still be last.
    graph = graph.with_step(make_spec("lonely", "z = 1"))
    statuses = {"load": StepStatus("load", State.SUCCEEDED, attempts=1, duration=1.0, time_saved=2.0)}
    svg = render_svg(flow_dot(graph, statuses))
    boxes = _boxes(svg)
    legend_top, _ = boxes.pop(LEGEND)
    assert len(boxes) == len(graph)
    assert all(bottom < legend_top for _, bottom in boxes.values())
    assert "succeeded 1" in svg and "pending 4" in svg and "saved 2.0s" in svg
    assert legend_entries(statuses, len(graph))[-1] == ("saved", "saved 2.0s")


def test_text_is_measured_with_the_metrics_of_its_font() -> None:
    """A font Graphviz has no metrics for is measured as Times, narrower than it is drawn: text overflows."""
    result = subprocess.run([layout.find_executable(), "-Tsvg"], input=flow_dot(_graph()).encode(),
                            capture_output=True, check=True)
    assert b"<svg" in result.stdout
    assert b"metrics" not in result.stderr, result.stderr.decode()


def test_static_drawing_is_svg_and_png_of_one_layout() -> None:
    drawing = static_drawing(_graph(), {"load": StepStatus("load", State.FAILED, attempts=1, error="x")})
    png = base64.b64decode(drawing.png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and drawing.svg.startswith("<svg")
    assert "failed 1" in drawing.svg


def test_static_png_of_a_wide_graph_is_capped() -> None:
    graph = Graph()
    for layer in range(3):
        for j in range(60):
            after = f"s{layer - 1}_{j}" if layer else None
            graph = graph.with_step(make_spec(f"s{layer}_{j}", f"v{layer}_{j} = 1", after=after))
    uncapped = render(flow_dot(graph), "png")
    width = struct.unpack(">I", uncapped[16:20])[0]
    assert width > 96 * MAX_INCHES  # the cap matters for this graph
    png = base64.b64decode(static_drawing(graph).png)
    assert max(struct.unpack(">II", png[16:24])) <= 96 * MAX_INCHES


def test_a_flow_past_the_drawing_limit_is_refused_in_one_line_and_one_at_the_limit_is_drawn() -> None:
    """More than MAX_DRAWN_STEPS steps: GraphTooLarge naming both counts (callers show it), not minutes of layout."""
    from nbflow.core.spec import make_spec
    from nbflow.render.dot import MAX_DRAWN_STEPS, GraphTooLarge, flow_dot

    graph = Graph([make_spec(f"s{i}", "pass") for i in range(MAX_DRAWN_STEPS)])
    assert flow_dot(graph).count("->") == 0 and f"s{MAX_DRAWN_STEPS - 1}" in flow_dot(graph)
    bigger = graph.with_step(make_spec("extra", "pass"))
    with pytest.raises(GraphTooLarge, match=f"{MAX_DRAWN_STEPS + 1:,} steps are more than the {MAX_DRAWN_STEPS:,}"):
        flow_dot(bigger)
