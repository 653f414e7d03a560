"""DOT of the graph and the Graphviz layout (the real graphviz-pure executable, no `dot` needed)."""

from __future__ import annotations

import re
import shutil

import pytest

from nbflow.core.errors import NbflowError
from nbflow.core.graph import Graph
from nbflow.core.spec import make_spec
from nbflow.core.states import State
from nbflow.core.status import StepStatus
from nbflow.render import layout
from nbflow.render.dot import PLACEHOLDER, flow_dot
from nbflow.render.layout import GraphvizNotFound, render, render_svg
from nbflow.render.palette import STATE_COLORS


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
