"""OutputWindow and OutputLog: the bounded live view of a step's text, and the whole text on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbflow.core.abandon import AttemptAbandoned, attempt_running, stop_if_abandoned
from nbflow.jupyter.output import StepSink
from nbflow.jupyter.window import OutputWindow
from nbflow.store.outputlog import OutputLog


def _lines(start: int, stop: int) -> str:
    return "".join(f"{i}\n" for i in range(start, stop))


def _texts(window: OutputWindow) -> list[str]:
    return [o["text"] if o["output_type"] == "stream" else o["data"]["text/plain"] for o in window.outputs]


def test_short_output_is_kept_whole_and_merged() -> None:
    """Under head + tail lines nothing is dropped and no marker shows; one stream stays one output."""
    window = OutputWindow(head=3, tail=4)
    for i in range(7):
        window.write("stdout", f"{i}\n")
    assert _texts(window) == ["0\n1\n2\n", "3\n4\n5\n6\n"] and window.hidden == 0


def test_long_output_keeps_head_marker_and_rolling_tail() -> None:
    """Written in pieces of any size, the view is the first lines, the count dropped, then the last lines."""
    window = OutputWindow(head=3, tail=4)
    window.write("stdout", _lines(0, 2))
    window.write("stdout", _lines(2, 10))
    for i in range(10, 50):
        window.write("stdout", f"{i}\n")
    window.write("stdout", _lines(50, 100))
    assert _texts(window) == [_lines(0, 3), "… 93 lines not shown …", _lines(96, 100)]
    assert window.hidden == 93


def test_rich_outputs_are_kept_and_streams_stay_apart() -> None:
    """A display in the dropped middle stays; stderr text in the tail is trimmed like stdout."""
    window = OutputWindow(head=2, tail=3)
    window.write("stdout", _lines(0, 4))
    window.append({"output_type": "display_data", "data": {"text/plain": "<table>"}, "metadata": {}})
    window.write("stderr", _lines(4, 10))
    assert _texts(window) == [_lines(0, 2), "… 5 lines not shown …", "<table>", _lines(7, 10)]
    assert [o.get("name") for o in window.outputs] == ["stdout", None, None, "stderr"]


def test_long_lines_are_bounded_by_characters() -> None:
    """Text without line breaks cannot grow the view past its character caps."""
    window = OutputWindow(head=5, tail=5, head_chars=10, tail_chars=20)
    for _ in range(100):
        window.write("stdout", "x" * 7)
    assert sum(len(o.get("text", "")) for o in window.outputs) <= 30
    assert window.outputs[1]["data"]["text/plain"].startswith("… ")


def test_reset_starts_afresh() -> None:
    window = OutputWindow(head=1, tail=1)
    window.write("stdout", _lines(0, 5))
    window.reset()
    window.write("stdout", "a\n")
    assert _texts(window) == ["a\n"] and window.hidden == 0


def test_output_log_keeps_everything_up_to_its_cap(tmp_path: Path) -> None:
    """The log is appended, restarted empty, and cut once at the cap with a notice; a bad cap is refused."""
    log = OutputLog(tmp_path / "step" / "output.txt", cap=10)
    assert log.read() == ""
    log.append("12345")
    log.append("67")
    assert log.read() == "1234567"
    log.append("890abc")
    log.append("more")
    assert log.read() == "1234567890\n… output cut at 10 bytes …\n"
    log.restart()
    log.append("x")
    assert log.read() == "x"
    with pytest.raises(ValueError, match="positive number of bytes"):
        OutputLog(tmp_path / "x", cap=0)


def test_sink_logs_the_whole_text_while_showing_the_window(tmp_path: Path) -> None:
    """full_text() is every line written; text() is the bounded view."""
    sink = StepSink("s", lambda delay, callback: None, log=OutputLog(tmp_path / "out.txt"),
                    window=OutputWindow(head=2, tail=2))
    for i in range(10):
        sink.write("stdout", f"{i}\n")
    sink.note("done")
    assert sink.full_text() == _lines(0, 10) + "done\n"
    assert sink.text() == "0\n1\n… 6 lines not shown …\n8\n9\ndone\n"


def test_an_abandoned_attempt_stops_at_its_next_write(tmp_path: Path) -> None:
    """Writes and displays raise AttemptAbandoned (not an Exception) once live() is false; notes still go in."""
    sink = StepSink("s", lambda delay, callback: None)
    wanted = [True]
    with attempt_running("s", 2, lambda: wanted[0]):
        sink.write("stdout", "kept\n")
        wanted[0] = False
        with pytest.raises(AttemptAbandoned, match="'s': attempt 2 was cancelled or timed out"):
            sink.write("stdout", "lost\n")
        with pytest.raises(AttemptAbandoned):
            sink.display({"text/plain": "lost"})
        sink.note("s cancelled")
    stop_if_abandoned()  # outside an attempt: nothing to stop
    assert not issubclass(AttemptAbandoned, Exception)
    assert sink.text() == "kept\ns cancelled\n"


def test_two_notebooks_sharing_a_store_keep_separate_output_logs(tmp_path: Path) -> None:
    """Notebooks in one folder share `.nbflow/`; a step name in both must not show one's text in the other."""
    from nbflow.store.store import Store

    a, b = (Store(tmp_path / ".nbflow", flow_name=name, watch_root=tmp_path) for name in ("a", "my notebook (v2)"))
    try:
        log_a, log_b = a.output_log("load"), b.output_log("load")
        assert log_a.path != log_b.path and log_a.path.parent == log_b.path.parent
        assert log_b.path.name == "output.my%20notebook%20%28v2%29.txt"
        log_a.append("printed by a\n")
        log_b.append("printed by b\n")
        assert (log_a.read(), log_b.read()) == ("printed by a\n", "printed by b\n")
        log_b.restart()
        assert (log_a.read(), log_b.read()) == ("printed by a\n", "")
        long = Store(tmp_path / ".nbflow", flow_name="x" * 500, watch_root=tmp_path)
        assert len(long.output_log("load").path.name) < 100
        long.close()
    finally:
        a.close()
        b.close()


def _display(i: int) -> dict[str, object]:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/plain": f"d{i}"}}


def test_many_displays_keep_the_first_and_last_with_a_marker_between() -> None:
    """Past head + tail displays, the oldest of the tail goes; one marker counts them, where they were."""
    window = OutputWindow(head_displays=2, tail_displays=3)
    window.write("stdout", "before\n")
    for i in range(100):
        window.display(_display(i))
    window.append({"output_type": "display_data", "metadata": {}, "data": {"text/plain": "a note"}})
    assert _texts(window) == ["before\n", "d0", "d1", "… 95 displays not shown …", "d97", "d98", "d99", "a note"]
    assert window.hidden_displays == 95


def test_displays_are_bounded_by_size_too_and_text_keeps_its_own_window() -> None:
    """A few big displays are dropped by size (the newest always shown); text interleaved keeps its head and tail."""
    window = OutputWindow(head=2, tail=2, head_displays=1, tail_displays=100,
                          head_display_chars=10, tail_display_chars=25)
    for i in range(10):
        window.write("stdout", f"{i}\n")
        window.display({"output_type": "display_data", "metadata": {}, "data": {"text/plain": f"{i}" * 10}})
    shown = _texts(window)
    assert shown[0] == "0\n" and shown[1] == "0" * 10  # the heads
    assert shown[-2:] == ["9\n", "9" * 10] and shown[-4:-2] == ["8\n", "8" * 10]
    assert window.hidden_displays == 7 and shown.count("… 7 displays not shown …") == 1
    assert window.hidden == 6 and shown.count("… 6 lines not shown …") == 1
    assert len(window.outputs) < 12


def test_replace_folds_a_group_of_outputs_into_one() -> None:
    window = OutputWindow()
    a, b, c = _display(1), _display(2), _display(3)
    for output in (a, b, c):
        window.append(output)
    window.replace([a, c], _display(9))
    assert _texts(window) == ["d9", "d2"]
