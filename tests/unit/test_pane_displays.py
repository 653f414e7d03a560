"""The detail pane's displays: the richest form of each rich display, the first few within a budget."""

from __future__ import annotations

from nbflow.widget.displays import pane_displays


def _display(**data: object) -> dict[str, object]:
    return {"output_type": "display_data", "metadata": {}, "data": data}


def test_each_display_is_sent_once_in_its_richest_form_and_text_only_ones_are_left_to_the_text() -> None:
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        _display(**{"text/plain": "<Figure>", "image/png": "iVBOR\n"}),
        _display(**{"text/plain": "   a\n0  1", "text/html": ["<table>", "</table>"]}),
        _display(**{"text/plain": "just text"}),
        _display(**{"text/plain": "svg", "image/svg+xml": "<svg/>", "text/html": "<b>no</b>"}),
    ]
    shown, hidden = pane_displays(outputs)
    assert shown == [{"mime": "image/png", "data": "iVBOR\n"}, {"mime": "text/html", "data": "<table></table>"},
                     {"mime": "image/svg+xml", "data": "<svg/>"}]
    assert hidden == 0


def test_past_the_count_or_the_budget_displays_are_counted_not_sent() -> None:
    many = [_display(**{"text/html": f"<p>{i}</p>"}) for i in range(10)]
    shown, hidden = pane_displays(many, limit=3)
    assert [s["data"] for s in shown] == ["<p>0</p>", "<p>1</p>", "<p>2</p>"] and hidden == 7
    big = [_display(**{"image/png": "A" * 600}), _display(**{"image/png": "B" * 600}), _display(**{"image/png": "C"})]
    shown, hidden = pane_displays(big, budget=1000)
    assert [s["data"][0] for s in shown] == ["A", "C"] and hidden == 1
