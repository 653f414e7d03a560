"""`%flow timeline`: a Gantt chart of the last run, as plain SVG (no plotting library).

Bars use the graph's state colours; a restored step's bar (the load, not a
run) is outlined dashed and its label marked ↺, and a legend under the chart
names every colour and mark it uses.
"""

from __future__ import annotations

from html import escape

from ..core.durations import format_duration
from ..core.states import State
from ..core.status import StepStatus
from ..render.palette import STATE_COLORS


def timeline_svg(statuses: list[StepStatus], width: int = 720) -> str:
    """One row per step that ran, one bar per attempt, on a shared time axis."""
    rows = [s for s in statuses if s.attempt_log]
    if not rows:
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="30">'
                '<text x="8" y="20" font-family="sans-serif" font-size="12">no step has run yet</text></svg>')
    start = min(a.started for s in rows for a in s.attempt_log)
    end = max((a.ended or a.started) for s in rows for a in s.attempt_log)
    span = max(end - start, 1e-3)
    label_w, row_h, top = 140, 22, 24
    plot_w = width - label_w - 70
    legend_y = top + row_h * len(rows) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{legend_y + 24}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{label_w}" y="14">0s</text>',
        f'<text x="{label_w + plot_w}" y="14" text-anchor="end">{format_duration(span)}</text>',
    ]
    used: dict[str, str] = {}  # legend entries in order of appearance: state -> label
    for i, status in enumerate(rows):
        y = top + i * row_h
        restored = status.state is State.RESTORED
        mark = "↺ " if restored else ""
        parts.append(f'<text x="4" y="{y + 15}">{mark}{escape(status.name)}</text>')
        for attempt in status.attempt_log:
            x0 = label_w + (attempt.started - start) / span * plot_w
            x1 = label_w + ((attempt.ended or end) - start) / span * plot_w
            # The graph's colours: a failed attempt in the failed colour, the last one in the step's state.
            state = State.FAILED if attempt.error else status.state
            colour = STATE_COLORS[state.value][0]
            outcome = attempt.error or ("restored from its checkpoint" if restored else "ok")
            title = f"{status.name} attempt {attempt.number}: {outcome}"
            outline = f' stroke="{STATE_COLORS[state.value][1]}" stroke-dasharray="3,2"' if restored else ""
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1.5):.1f}" height="{row_h - 6}" '
                f'fill="{colour}"{outline}><title>{escape(title)}</title></rect>'
            )
            used.setdefault(state.value, _LABELS.get(state.value, state.value))
        parts.append(f'<text x="{width - 64}" y="{y + 15}">{mark}{format_duration(status.duration)}</text>')
    parts.extend(_legend(used, legend_y))
    parts.append("</svg>")
    return "".join(parts)


_LABELS = {State.SUCCEEDED.value: "computed", State.FAILED.value: "failed attempt",
           State.RESTORED.value: "↺ restored (loading its checkpoint)"}


def _legend(used: dict[str, str], y: int) -> list[str]:
    """One swatch and label per colour used (paths, not rects: the bars are the chart's only rects)."""
    parts, x = [], 4
    for state, label in used.items():
        fill, ink = STATE_COLORS[state]
        dashed = ' stroke-dasharray="3,2"' if state == State.RESTORED.value else ""
        parts.append(f'<path d="M{x} {y + 2}h12v12h-12z" fill="{fill}" stroke="{ink}"{dashed}/>')
        parts.append(f'<text x="{x + 17}" y="{y + 13}">{escape(label)}</text>')
        x += 17 + 7 * len(label) + 18
    return parts
