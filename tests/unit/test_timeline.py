"""`%flow timeline`: restored steps stand out, and a legend names every colour used."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from nbflow.core.states import State
from nbflow.core.status import AttemptInfo, StepStatus
from nbflow.jupyter.timeline import timeline_svg
from nbflow.render.palette import STATE_COLORS

SVG = "{http://www.w3.org/2000/svg}"


def test_restored_bars_are_dashed_and_the_legend_names_each_colour() -> None:
    statuses = [
        StepStatus("load", State.RESTORED, 1, duration=4.0, attempt_log=(AttemptInfo(1, 10.0, 10.1),)),
        StepStatus("fit", State.SUCCEEDED, 2, duration=2.0,
                   attempt_log=(AttemptInfo(1, 10.1, 11.0, "boom"), AttemptInfo(2, 11.0, 12.0))),
    ]
    root = ET.fromstring(timeline_svg(statuses))
    bars = {rect.findtext(f"{SVG}title"): rect for rect in root.iter(f"{SVG}rect")}
    assert set(bars) == {"load attempt 1: restored from its checkpoint", "fit attempt 1: boom", "fit attempt 2: ok"}
    restored = bars["load attempt 1: restored from its checkpoint"]
    assert restored.get("fill") == STATE_COLORS["restored"][0] and restored.get("stroke-dasharray")
    assert bars["fit attempt 2: ok"].get("stroke-dasharray") is None
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "↺ load" in texts
    swatches = {p.get("fill") for p in root.iter(f"{SVG}path")}
    assert swatches == {STATE_COLORS[s][0] for s in ("restored", "failed", "succeeded")}
    assert {"computed", "failed attempt", "↺ restored (loading its checkpoint)"} <= set(texts)
