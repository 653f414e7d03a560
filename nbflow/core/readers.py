"""Who read what: each finished step's inputs kept current as other steps rebind them.

A finished step remembers the digest of every input it read, so `stale` can
tell a value changed outside any step from one a step produced. When a step
binds a name, the scheduler re-runs that name's readers itself, so the
readers take the new digest as what they last saw; the digest table keeps
it too, so they need not hash it again (see `fingerprints.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from .digest import Digest
from .fingerprints import DigestTable


class _Reader(Protocol):
    inputs: dict[str, Digest]


class Readers:
    """Which steps read each name (an index kept loosely: a reader that stopped reading is dropped when met)."""

    def __init__(self) -> None:
        self._by_name: dict[str, set[str]] = {}

    def add(self, step: str, names: Iterable[str]) -> None:
        for name in names:
            self._by_name.setdefault(name, set()).add(step)

    def bound(self, table: DigestTable, steps: Mapping[str, _Reader], values: Mapping[str, Any],
              digests: Mapping[str, Digest | None], deleted: Iterable[str]) -> None:
        """Names a step just bound (`values`) or deleted: into the table and into every reader's inputs."""
        for name, value in values.items():
            found = digests.get(name)
            if found is not None:
                table.record(name, value, found)
            else:
                table.forget([name])
            readers = self._by_name.get(name, set())
            for reader in list(readers):
                other = steps.get(reader)
                if other is None or name not in other.inputs:
                    readers.discard(reader)
                elif found is None:
                    del other.inputs[name]
                else:
                    other.inputs[name] = found
        table.forget(deleted)
