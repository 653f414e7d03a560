"""Values known to be unhashable, refused at once instead of after a long walk.

A matplotlib Figure (or any of its artists and transforms) is a web of
objects that point at each other and at shared transforms; walked like any
other object it reaches the object limit in `feed.MAX_OBJECTS` after about
two seconds, and a plotting step that returns `fig, ax` paid that twice on
every run. The answer is the same either way (not hashable: what reads it
is not cached, see docs/guide/checkpoints.md), so it is given at once.
"""

from __future__ import annotations

import sys
from typing import Any

#: Top-level packages whose values are looked at here; any other value costs one string check.
MODULES = frozenset({"matplotlib"})


def why_not(value: Any) -> str | None:
    """Why `value` is not hashed, or None when it is not one of the known kinds."""
    transforms = sys.modules.get("matplotlib.transforms")
    artist = sys.modules.get("matplotlib.artist")
    kinds = tuple(getattr(module, name) for module, name in ((artist, "Artist"), (transforms, "TransformNode"))
                  if module is not None)
    if kinds and isinstance(value, kinds):
        return "matplotlib keeps its drawing state in cycles of shared transforms"
    return None
