"""One-line summaries of output values for the widget's detail pane."""

from __future__ import annotations

import reprlib
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def summarize(value: Any) -> str:
    """`DataFrame 2000×3`, `list[5000]`, or a short repr: what a user needs to recognise it."""
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        return f"{kind} {'×'.join(str(n) for n in shape)}"
    if isinstance(value, list | tuple | dict | set | frozenset | str | bytes):
        if isinstance(value, str | bytes) and len(value) <= 60:
            return _REPR.repr(value)
        return f"{kind}[{len(value)}]: {_REPR.repr(value)}"
    try:
        return f"{kind}: {_REPR.repr(value)}"
    except Exception:
        return kind
