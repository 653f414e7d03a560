"""Durations as users write them: `500ms`, `30s`, `10m`, `2h`, plain seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str | float | int) -> float:
    """Seconds for `text`; raises ValueError with the accepted forms."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _PATTERN.match(str(text))
        if not match:
            raise ValueError(f"not a duration: {text!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"not a duration: {text!r}")
    return seconds


DURATION_FORMS = "a duration such as 500ms, 30s, 10m, 2h or plain seconds"


def format_duration(seconds: float | None) -> str:
    """Short human form: `850ms`, `12.3s`, `4m05s`, `1h02m`."""
    if seconds is None:
        return ""
    # Compare the rounded text, so 0.9996 reads 1.0s (not 1000ms) and 59.97 reads 1m00s.
    millis = f"{seconds * 1000:.0f}"
    if float(millis) < 1000:
        return f"{millis}ms"
    tenths = f"{seconds:.1f}"
    if float(tenths) < 60:
        return f"{tenths}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
