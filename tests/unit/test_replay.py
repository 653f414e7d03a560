"""What a step displayed, cut down for its checkpoint: JSON-ready, no widget views, within the size cap."""

from __future__ import annotations

from typing import Any

from nbflow.jupyter.replay import keep

WIDGET = "application/vnd.jupyter.widget-view+json"


def display(mime: str, value: Any) -> dict[str, Any]:
    return {"output_type": "display_data", "data": {mime: value}, "metadata": {}}


def test_text_and_displays_are_kept_in_order() -> None:
    outputs = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}, display("text/html", "<b>x</b>")]
    assert keep(outputs) == tuple(outputs)


def test_widget_views_are_dropped_and_their_text_kept() -> None:
    both = {"output_type": "display_data", "data": {WIDGET: {"model_id": "m"}, "text/plain": "Output()"},
            "metadata": {}}
    assert keep([both, display(WIDGET, {"model_id": "n"})]) == (
        {"output_type": "display_data", "data": {"text/plain": "Output()"}, "metadata": {}},)


def test_an_output_that_is_not_json_is_dropped() -> None:
    assert keep([display("text/plain", object()), display("text/plain", "ok")]) == (display("text/plain", "ok"),)


def test_over_the_cap_the_biggest_displays_go_first_and_the_text_stays() -> None:
    text = {"output_type": "stream", "name": "stdout", "text": "report\n"}
    small, big = display("image/png", "A" * 300), display("image/png", "B" * 3000)
    kept = keep([text, big, small], limit=1000)
    assert kept[:2] == (text, small)
    assert len(kept) == 3 and "1 display(s)" in kept[2]["data"]["text/plain"]
    assert "not saved" in kept[2]["data"]["text/plain"]


def test_text_alone_over_the_cap_keeps_its_head_and_tail() -> None:
    lines = "".join(f"line {i}\n" for i in range(10_000))
    (kept,) = keep([{"output_type": "stream", "name": "stdout", "text": lines}], limit=2000)
    assert kept["text"].startswith("line 0\n") and kept["text"].endswith("line 9999\n")
    assert "characters not saved" in kept["text"]
    assert len(kept["text"]) < 2000
