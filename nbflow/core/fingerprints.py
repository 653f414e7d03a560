"""Digests of namespace values, computed once and kept while the value stays the same.

Content addressing hashes every value a step reads; this table is what keeps
that from costing a rehash per read. A step's outputs are hashed once, when
the step finishes (or taken from the checkpoint when it is restored), and the
digest is kept next to the object it describes. A later read of the same
name finds the same object and reuses the digest.

An entry stops counting when the name is bound to another object, when its
digest is `volatile` (it depends on a local module's state), or when it is
`forget`-ten: the kernel forgets the names each plain cell touched, and with
them every entry whose digest reached one of those names (a function whose
global was rebound). Values are held weakly where Python allows it, so the
table never keeps a rebound DataFrame alive.

Identity says nothing about in-place changes, so the table is only
*trusted* where something watches every change made outside steps: the
kernel extension does (it sees every cell). A `Flow` used from plain Python
cannot know what the caller did to the namespace between runs, so there an
untrusted table hashes each value again when it is read, and keeps entries
only for the names they reached.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from .digest import Digest, digest

# Immutable values whose digest is cheaper to compute than to look up and keep.
_SCALARS = (type(None), bool, int, float, complex, str, bytes)


class _Entry:
    __slots__ = ("digest", "ref", "strong")

    def __init__(self, value: Any, found: Digest) -> None:
        self.digest = found
        try:
            self.ref: Any = weakref.ref(value)
            self.strong: Any = None
        except TypeError:  # lists, dicts, tuples: no weak references
            self.ref = None
            self.strong = value

    def holds(self, value: Any) -> bool:
        held = self.strong if self.ref is None else self.ref()
        return held is value


class DigestTable:
    """name -> (object, digest), safe to use from several threads."""

    def __init__(self, trusted: bool = False) -> None:
        self.trusted = trusted
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str, value: Any) -> Digest | None:
        """The kept digest of `value` under `name`, if it still describes it."""
        with self._lock:
            entry = self._entries.get(name)
        if self.trusted and entry is not None and not entry.digest.volatile and entry.holds(value):
            return entry.digest
        return None

    def digest(self, name: str, value: Any, namespace: Mapping[str, Any] | None,
               also: Mapping[str, Any] | None = None) -> Digest:
        """The digest of `value` (read from `name`): kept, or computed and kept. Raises Unhashable."""
        found = self.lookup(name, value)
        if found is None:
            found = digest(value, namespace, also)
            self.record(name, value, found)
        return found

    def record(self, name: str, value: Any, found: Digest) -> None:
        """Keep the digest of the value just bound to `name` (an output, a restore, a mutation)."""
        if isinstance(value, _SCALARS):
            with self._lock:
                self._entries.pop(name, None)
            return
        entry = _Entry(value, found)
        with self._lock:
            self._entries[name] = entry

    def forget(self, names: Iterable[str]) -> None:
        """Drop the entries of `names` and every entry whose digest reached one of them."""
        gone = set(names)
        if not gone:
            return
        with self._lock:
            for name in [n for n, e in self._entries.items() if n in gone or e.digest.reached & gone]:
                del self._entries[name]

    def reached(self, name: str) -> frozenset[str]:
        """The namespace names the kept digest of `name` depends on (empty if none is kept)."""
        with self._lock:
            entry = self._entries.get(name)
        return entry.digest.reached if entry is not None else frozenset()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
