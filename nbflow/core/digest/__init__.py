"""Content digests of Python values: what a cache key is made of.

`digest(value, namespace)` hashes what a value *is*, not where it lives:
equal values give equal digests in any process, and values a step could tell
apart give different ones (`1`, `1.0`, `True` and `"1"`; dict order; a
DataFrame's column names and dtypes; a function's code, defaults, closure and
the globals it reads). A value that cannot be hashed reliably raises
`Unhashable`, naming its type and where it sits; callers turn caching off
for that step rather than guess. See docs/guide/checkpoints.md for what a key
covers and what it cannot see.

Functions from the namespace are hashed with everything they reach, so the
result also says which namespace names went into it (`Digest.reached`): a
plain cell that rebinds one of those makes the digest out of date even
though the function object did not change. `Digest.volatile` marks digests
that depend on state outside the namespace (a local module's globals) and
must be recomputed every time rather than cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .feed import Digest, Feeder, Unhashable

__all__ = ["Digest", "Unhashable", "digest", "hex_digest"]


def digest(value: Any, namespace: Mapping[str, Any] | None = None,
           also: Mapping[str, Any] | None = None) -> Digest:
    """The digest of `value`; `namespace` (and `also`, a copy of it) is the dict whose names count as `reached`."""
    return Feeder(namespace, also).run(value)


def hex_digest(value: Any) -> str:
    """`digest(value)` as hex text, for values that come from no namespace."""
    return digest(value).hex
