"""StepSink and OutputRouter: each step's output kept as nbformat outputs and routed by thread.

The sink's flush timer is a fake `call_later` that records what it was
asked; the router runs over a stand-in shell whose display publisher records.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from nbflow.jupyter import routing
from nbflow.jupyter.output import FLUSH_SECONDS, StepSink, static_html, static_text
from nbflow.jupyter.routing import OutputRouter


class Timer:
    """A `call_later` that only records; the test runs the callbacks."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.calls.append((delay, callback))

    def fire(self) -> None:
        calls, self.calls = self.calls, []
        for _, callback in calls:
            callback()


class FakeOutput:
    """Just what StepSink touches of an ipywidgets.Output."""

    model_id = "model-1"
    outputs: tuple[dict[str, Any], ...] = ()


@pytest.fixture
def timer() -> Timer:
    return Timer()


@pytest.fixture
def sink(timer: Timer) -> StepSink:
    return StepSink("load", timer)


def test_stream_text_is_coalesced_into_one_flush(sink: StepSink, timer: Timer) -> None:
    """Many writes before the flush: one timer of FLUSH_SECONDS, one stream output, in order."""
    for i in range(100):
        sink.write("stdout", f"{i},")
    sink.write("stdout", "")  # empty writes are ignored
    assert [delay for delay, _ in timer.calls] == [FLUSH_SECONDS]
    assert sink.outputs == []  # nothing shown until the flush
    timer.fire()
    assert sink.outputs == [{"output_type": "stream", "name": "stdout", "text": "".join(f"{i}," for i in range(100))}]
    sink.write("stdout", "more")
    assert len(timer.calls) == 1  # a new flush is scheduled once the last one ran


def test_streams_alternate_and_merge_with_their_neighbour(sink: StepSink, timer: Timer) -> None:
    """stdout then stderr then stdout are three outputs; consecutive text of one stream merges across flushes."""
    sink.write("stdout", "a")
    sink.write("stderr", "b")
    sink.write("stdout", "c")
    timer.fire()
    sink.write("stdout", "d")
    timer.fire()
    assert [(o["name"], o["text"]) for o in sink.outputs] == [("stdout", "a"), ("stderr", "b"), ("stdout", "cd")]


def test_displays_notes_and_errors_keep_their_place_after_pending_text(sink: StepSink) -> None:
    """A display, note or error first drains the text written before it, so the order is what ran."""
    sink.write("stdout", "before display\n")
    sink.display({"text/plain": "42"}, {"isolated": True})
    sink.write("stderr", "before error\n")
    sink.error("ValueError", "bad", "Traceback (most recent call last):\n  File x\nValueError: bad")
    sink.note("load: attempt 1 failed <ValueError>")
    kinds = [o["output_type"] for o in sink.outputs]
    assert kinds == ["stream", "display_data", "stream", "error", "display_data"]
    assert sink.outputs[1] == {"output_type": "display_data", "data": {"text/plain": "42"},
                               "metadata": {"isolated": True}}
    assert sink.outputs[3] == {"output_type": "error", "ename": "ValueError", "evalue": "bad",
                               "traceback": ["Traceback (most recent call last):", "  File x", "ValueError: bad"]}
    note = sink.outputs[4]["data"]
    assert note["text/plain"] == "load: attempt 1 failed <ValueError>"
    assert note["text/html"] == "<pre class='nbflow-note'>load: attempt 1 failed &lt;ValueError&gt;</pre>"


def test_text_drains_pending_output_and_strips_colour(sink: StepSink) -> None:
    """text() is everything shown so far as plain text, including what is not flushed yet."""
    sink.write("stdout", "row 1\n")
    sink.error("KeyError", "'x'", "\x1b[31mKeyError\x1b[0m: 'x'")
    sink.display({"image/png": "iVBOR", "text/plain": "<Figure>"})
    sink.write("stdout", "tail")
    assert sink.text() == "row 1\nKeyError: 'x'\n<Figure>\ntail"


def test_an_attached_widget_mirrors_every_change(sink: StepSink, timer: Timer) -> None:
    """The Output widget's outputs follow the sink: appends, merged text, clear; attach starts afresh."""
    sink.write("stdout", "old")
    timer.fire()
    widget = FakeOutput()
    sink.attach(widget, display_id="d1")
    assert sink.outputs == [] and widget.outputs == ()
    sink.write("stdout", "x")
    timer.fire()
    sink.write("stdout", "y")
    timer.fire()
    assert widget.outputs == ({"output_type": "stream", "name": "stdout", "text": "xy"},)
    assert widget.outputs[0] is not sink.outputs[0]  # copies: the widget never shares the sink's dicts
    sink.note("done")
    assert len(widget.outputs) == 2
    sink.clear()
    assert widget.outputs == () and sink.outputs == []


def test_bundle_is_the_widget_view_plus_a_static_copy(sink: StepSink, timer: Timer) -> None:
    """Without output it says 'waiting'; with a widget it adds the view; the static copy includes pending text."""
    assert sink.bundle() == {"text/plain": "load: waiting", "text/html": "<pre>load: waiting</pre>"}
    sink.attach(FakeOutput())
    sink.write("stdout", "<b>hi</b>")
    bundle = sink.bundle()
    assert bundle["text/plain"] == "<b>hi</b>" and bundle["text/html"] == "<pre>&lt;b&gt;hi&lt;/b&gt;</pre>"
    assert bundle["application/vnd.jupyter.widget-view+json"] == {
        "version_major": 2, "version_minor": 0, "model_id": "model-1"}


def test_publish_static_updates_its_display_only_when_it_has_one(sink: StepSink,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The static copy goes out as an update of the sink's display id; a sink never displayed sends nothing."""
    import IPython.display

    sent: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda data, raw, display_id, metadata: sent.append((data, display_id, metadata)))
    sink.publish_static()
    assert sent == []
    sink.attach(FakeOutput(), display_id="cell-7")
    sink.write("stdout", "hello")
    sink.publish_static()
    ((data, display_id, metadata),) = sent
    assert display_id == "cell-7" and data["text/plain"] == "hello"
    assert metadata == {"nbflow": {"static_fallback": True}}  # the lab extension's mark for a dead view


def test_static_html_picks_the_richest_form_and_escapes_text() -> None:
    """HTML over SVG over PNG over plain text; streams and errors are escaped, errors red and colourless."""
    outputs: list[dict[str, Any]] = [
        {"output_type": "stream", "name": "stdout", "text": "a < b"},
        {"output_type": "error", "ename": "E", "evalue": "", "traceback": ["\x1b[31mE\x1b[0m: <x>"]},
        {"output_type": "display_data", "data": {"text/html": "<i>h</i>", "image/svg+xml": "<svg/>"}},
        {"output_type": "display_data", "data": {"image/svg+xml": "<svg/>", "image/png": "P"}},
        {"output_type": "display_data", "data": {"image/png": "P", "text/plain": "p"}},
        {"output_type": "display_data", "data": {"text/plain": "<plain>"}},
    ]
    assert static_html(outputs) == (
        "<pre>a &lt; b</pre><pre style='color:#b00'>E: &lt;x&gt;</pre><i>h</i><svg/>"
        "<img src='data:image/png;base64,P'><pre>&lt;plain&gt;</pre>")
    assert static_text(outputs) == "a < bE: <x>\n\n\np\n<plain>\n"


@contextmanager
def installed() -> Iterator[tuple[OutputRouter, io.StringIO, io.StringIO, list[Any]]]:
    """A router installed over StringIO streams and a recording display publisher.

    Installed inside the test itself: pytest puts its own sys.stdout back between a fixture and the test.
    """
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err = io.StringIO(), io.StringIO()
    published: list[Any] = []
    shell = SimpleNamespace(display_pub=SimpleNamespace(publish=lambda data, metadata=None: published.append(data)))
    router = OutputRouter(shell)
    router.install()
    try:
        yield router, out, err, published
    finally:
        router.uninstall()
        sys.stdout, sys.stderr = saved


def test_a_captured_thread_writes_to_its_sink_and_others_to_the_console(sink: StepSink) -> None:
    """print, sys.stderr and display() of the capturing thread go to its sink; another thread's are untouched."""
    entered, release = threading.Event(), threading.Event()

    def step() -> None:
        with routed.capture(sink):
            print("from the step")
            print("step warning", file=sys.stderr)
            routed._shell.display_pub.publish({"text/plain": "shown"})
            entered.set()
            assert release.wait(5)

    with installed() as (routed, out, err, published):
        worker = threading.Thread(target=step)
        worker.start()
        assert entered.wait(5)
        print("from the kernel")  # while the step is still capturing
        routed._shell.display_pub.publish({"text/plain": "cell display"})
        release.set()
        worker.join(5)
    assert out.getvalue() == "from the kernel\n" and err.getvalue() == ""
    assert published == [{"text/plain": "cell display"}]
    assert [o["output_type"] for o in sink.outputs] == ["stream", "stream", "display_data"]
    assert sink.text() == "from the step\nstep warning\nshown\n"  # capture's exit flushed the text


def test_capture_nests_and_restores_the_previous_sink(timer: Timer) -> None:
    """An inner capture routes to the inner sink, then the outer one again; outside, the console."""
    outer, inner = StepSink("outer", timer), StepSink("inner", timer)
    with installed() as (routed, out, _, _):
        with routed.capture(outer):
            print("1")
            with routed.capture(inner):
                print("2")
            print("3")
        print("4")
        assert routed.current() is None
    assert (outer.text(), inner.text(), out.getvalue()) == ("1\n3\n", "2\n", "4\n")


def test_install_wraps_once_and_uninstall_restores_streams_and_publisher() -> None:
    """install() twice wraps once; uninstall() puts back the very objects it replaced."""
    with installed() as (routed, out, err, _):
        shell = routed._shell
        routed.uninstall()
        assert sys.stdout is out and sys.stderr is err
        publish = shell.display_pub.publish
        routed.install()
        routed.install()
        assert isinstance(sys.stdout, routing._Stream) and sys.stdout.original is out
        assert isinstance(sys.stderr, routing._Stream) and sys.stderr.original is err
        assert sys.stdout.encoding == out.encoding  # anything else is the real stream's
        assert shell.display_pub.publish is not publish
        routed.uninstall()
        assert sys.stdout is out and sys.stderr is err and shell.display_pub.publish is publish


class ClosingOutput(FakeOutput):
    """An Output stand-in that records being closed, with a Layout that does too."""

    def __init__(self) -> None:
        self.closed = False
        self.layout = SimpleNamespace(closed=False)
        self.layout.close = lambda: setattr(self.layout, "closed", True)

    def close(self) -> None:
        self.closed = True


def test_attaching_a_new_widget_closes_the_one_it_replaces(sink: StepSink) -> None:
    """A re-run cell gets a new Output; the old one and its Layout are closed, the new one stays open."""
    first, second = ClosingOutput(), ClosingOutput()
    sink.attach(first)
    sink.attach(second)
    assert first.closed and first.layout.closed and not second.closed
    sink.close()
    assert second.closed and second.layout.closed


def test_a_successful_retry_folds_each_failed_attempt_into_one_line(sink: StepSink) -> None:
    """Traceback, 'failed' and 'retrying' lines and the next label become the summary; printed text stays."""
    sink.new_run()
    sink.write("stdout", "try 1\n")
    sink.error("ValueError", "boom", "Traceback ...\nValueError: boom", attempt=1)
    sink.note("s: attempt 1 failed: ValueError: boom", attempt=1)
    sink.failed_attempt(1, "s: attempt 1 of 2 failed: ValueError: boom (details)")
    sink.note("s: retrying in 0s (attempt 2)", attempt=1)
    sink.note("── s: attempt 2 of 2 ──", attempt=1)
    sink.write("stdout", "try 2\n")
    sink.note("✓ s succeeded")
    sink.collapse_attempts()
    assert sink.text() == "try 1\ns: attempt 1 of 2 failed: ValueError: boom (details)\ntry 2\n✓ s succeeded\n"
    assert sink.tracebacks() == {1: "Traceback ...\nValueError: boom"}
    sink.new_run()
    assert sink.tracebacks() == {}


def test_displays_are_sent_with_the_next_flush(sink: StepSink, timer: Timer) -> None:
    """Many displays in a row cost one widget update per flush, not one each."""
    widget = FakeOutput()
    sink.attach(widget)
    for i in range(500):
        sink.display({"text/plain": str(i)})
    assert widget.outputs == () and [d for d, _ in timer.calls] == [FLUSH_SECONDS]
    timer.fire()
    assert len(widget.outputs) == len(sink.outputs) < 300 and sink.hidden_displays > 0


class SendingOutput(FakeOutput):
    """An Output that records explicit state sends, as a comm would carry them."""

    comm = object()

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[dict[str, Any], ...]]] = []

    def send_state(self, key: str) -> None:
        self.sent.append((key, self.outputs))

    def close(self) -> None:
        pass


def test_resend_sends_a_changed_state_once_and_flushes_pending_text_first(sink: StepSink) -> None:
    """`%flow wait` re-sends each changed step widget: a batch runner that dropped an
    update sent between two cells still records the final state."""
    widget = SendingOutput()
    sink.attach(widget)
    sink.resend()
    assert widget.sent == []  # nothing changed since attach
    sink.note("✓ load succeeded")
    sink.write("stdout", "tail")  # pending until the next flush
    sink.resend()
    assert [key for key, _ in widget.sent] == ["outputs"]
    assert [o.get("text") for o in widget.sent[0][1]][-1] == "tail"
    sink.resend()
    assert len(widget.sent) == 1  # unchanged since the last resend: not sent again
