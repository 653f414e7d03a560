"""What a step displayed, kept with its checkpoint and shown again when the step is restored.

A restored cell should look like a computed one: its printed report, its
tables and its plots, under one short provenance line. So the outputs an
attempt sends to its sink (nbformat output dicts, see `output.py`) are cut
down to JSON-ready copies within `MAX_BYTES` and handed to the core with the
step's values; the store signs them with the rest of the checkpoint (see
docs/guide/checkpoints.md). Over the limit, the text is kept and the biggest
displays are dropped, and the restored cell says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.events import StepRestored
from ..core.protocol import TEXT_MIME, WIDGET_MIME
from ..core.status import restore_summary
from .output import StepSink

MAX_BYTES = 8 << 20
_TEXT_TYPES = ("stream", "error")


class Mark:
    """Where an attempt's outputs begin in its sink, so only they are kept (not earlier attempts', or a replay).

    The mark is the output last shown when the attempt began (that very dict:
    positions shift as the live view drops old text and displays).
    """

    def __init__(self, sink: StepSink) -> None:
        sink.flush()
        self.sink = sink
        outputs = sink.outputs
        self.last = outputs[-1] if outputs else None
        self.text = len(self.last["text"]) if self.last is not None and self.last["output_type"] == "stream" else None

    def since(self) -> list[dict[str, Any]]:
        """The outputs written since the mark (a stream coalesced into the last one counts from its tail)."""
        self.sink.flush()
        outputs = list(self.sink.outputs)
        last = self.last
        index = next((i for i in range(len(outputs) - 1, -1, -1) if outputs[i] is last), None)
        if index is None:  # no mark, or the cell was re-run meanwhile and the sink started afresh
            return outputs
        found = outputs[index + 1:]
        if last is not None and self.text is not None:
            grown = last.get("text", "")[self.text:]
            if grown:
                found.insert(0, {**last, "text": grown})
        return found


def keep(outputs: Sequence[dict[str, Any]], limit: int = MAX_BYTES) -> tuple[dict[str, Any], ...]:
    """JSON-ready copies of `outputs` within `limit` bytes: text first, then displays, smallest first.

    Widget views are left out (their model does not outlive the kernel);
    an output that does not survive JSON is dropped.
    """
    kept: list[dict[str, Any] | None] = []
    sizes: list[int] = []
    for output in outputs:
        copy = _json_ready(output)
        if copy is None:
            continue
        kept.append(copy)
        sizes.append(len(json.dumps(copy)))
    total = sum(sizes)
    dropped, dropped_bytes = 0, 0
    biggest = sorted((i for i, o in enumerate(kept) if o is not None and o["output_type"] not in _TEXT_TYPES),
                     key=lambda i: sizes[i], reverse=True)
    for index in biggest:
        if total <= limit:
            break
        kept[index] = None
        total -= sizes[index]
        dropped += 1
        dropped_bytes += sizes[index]
    result = [o for o in kept if o is not None]
    if total > limit:
        result = _clip_text(result, limit)
    if dropped:
        result.append(_note(f"… {dropped} display(s) ({_mb(dropped_bytes)}) not saved with the checkpoint: "
                            f"over the {_mb(limit)} limit"))
    return tuple(result)


def _json_ready(output: dict[str, Any]) -> dict[str, Any] | None:
    kind = output.get("output_type")
    if kind in ("display_data", "execute_result"):
        data = {k: v for k, v in output.get("data", {}).items() if k != WIDGET_MIME}
        if not data:
            return None
        output = {**output, "data": data}
    elif kind not in _TEXT_TYPES:
        return None
    try:
        copy: dict[str, Any] = json.loads(json.dumps(output))
    except (TypeError, ValueError):
        return None
    return copy


def _clip_text(outputs: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Text alone over the limit: each stream keeps its head and tail, in proportion."""
    total = sum(len(o.get("text", "")) for o in outputs if o["output_type"] == "stream") or 1
    budget = max(limit - sum(len(json.dumps(o)) for o in outputs if o["output_type"] != "stream"), limit // 2)
    clipped = []
    for output in outputs:
        text = output.get("text", "") if output["output_type"] == "stream" else ""
        share = max(budget * len(text) // total // 2 - 100, 0)  # room for the marker and the JSON keys
        if output["output_type"] == "stream" and len(text) > 2 * share:
            cut = len(text) - 2 * share
            output = {**output, "text": f"{text[:share]}\n… {cut} characters not saved …\n{text[-share:]}"}
        clipped.append(output)
    return clipped


def _note(text: str) -> dict[str, Any]:
    return {"output_type": "display_data", "data": {TEXT_MIME: text}, "metadata": {"nbflow": "note"}}


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def provenance(event: StepRestored) -> str:
    """`↺ restored: computed 2026-12-01 14:03 in 4.0s, saved 3.9s`, from the checkpoint actually loaded."""
    return "↺ restored: " + restore_summary(event.computed_at, event.original_seconds, event.time_saved,
                                            event.load_seconds)


def show_restored(sink: StepSink, event: StepRestored) -> None:
    """The provenance line, then what the step displayed when it was computed."""
    sink.note(provenance(event))
    for output in event.displays:
        kind = output["output_type"]
        if kind == "stream":
            sink.write(str(output.get("name", "stdout")), str(output.get("text", "")))
            sink.flush()
        elif kind == "error":
            sink.error(str(output.get("ename", "")), str(output.get("evalue", "")),
                       "\n".join(output.get("traceback", [])))
        else:
            sink.display(dict(output.get("data", {})), dict(output.get("metadata", {})))
