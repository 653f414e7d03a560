"""One colour per state, shared by the widget (JS gets the same table) and static SVGs."""

from __future__ import annotations

from ..core.states import State

#: state -> (fill, text colour). Chosen so neighbouring states differ in hue
#: and lightness, and failure reads as red in any theme.
STATE_COLORS: dict[str, tuple[str, str]] = {
    State.PENDING.value: ("#e5e7eb", "#111827"),
    State.WAITING.value: ("#dbeafe", "#1e3a8a"),
    State.QUEUED.value: ("#bfdbfe", "#1e3a8a"),
    State.RUNNING.value: ("#3b82f6", "#ffffff"),
    State.RETRYING.value: ("#f59e0b", "#111827"),
    State.SUCCEEDED.value: ("#22c55e", "#052e16"),
    State.RESTORED.value: ("#a7f3d0", "#064e3b"),
    State.FAILED.value: ("#ef4444", "#ffffff"),
    State.UPSTREAM_FAILED.value: ("#fecaca", "#7f1d1d"),
    State.SKIPPED.value: ("#f3f4f6", "#6b7280"),
    State.CANCELLED.value: ("#9ca3af", "#111827"),
    State.STALE.value: ("#fef08a", "#713f12"),
    State.INTERRUPTED.value: ("#e9d5ff", "#3b0764"),
}

