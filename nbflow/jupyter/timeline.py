"""`%flow timeline`: a Gantt chart of the last run, as plain SVG (no plotting library)."""

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
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + row_h * len(rows) + 10}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{label_w}" y="14">0s</text>',
        f'<text x="{label_w + plot_w}" y="14" text-anchor="end">{format_duration(span)}</text>',
    ]
    for i, status in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="4" y="{y + 15}">{escape(status.name)}</text>')
        for attempt in status.attempt_log:
            x0 = label_w + (attempt.started - start) / span * plot_w
            x1 = label_w + ((attempt.ended or end) - start) / span * plot_w
            # The graph's colours: a failed attempt in the failed colour, the last one in the step's state.
            state = State.FAILED if attempt.error else status.state
            colour = STATE_COLORS[state.value][0]
            title = f"{status.name} attempt {attempt.number}: {attempt.error or 'ok'}"
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1.5):.1f}" height="{row_h - 6}" '
                f'fill="{colour}"><title>{escape(title)}</title></rect>'
            )
        parts.append(f'<text x="{width - 64}" y="{y + 15}">{format_duration(status.duration)}</text>')
    parts.append("</svg>")
    return "".join(parts)
