"""Is a finished step still what its inputs say? The check behind `stale` in a live kernel.

Each finished step keeps the digests of the values it read, as it left them
(an input it changed in place counts with its new content).

Around a plain cell the kernel takes the digests of the names the cell
touches (reads, binds or deletes, and the globals the functions among them
reach) that some finished step reads, before and after the cell: a name
whose digest differs was changed by the cell, and its readers are stale.
Only those names are hashed (and the "before" digests mostly come from the
table), so the check costs microseconds per step, whatever the notebook's
data weighs. `changed_input` compares a step's record with the namespace
directly, for a re-run of an unchanged `%%step` cell and the Python API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .digest import Digest, Unhashable
from .fingerprints import DigestTable
from .keys import describe


def changed_input(recorded: Mapping[str, Digest], namespace: Mapping[str, Any], table: DigestTable,
                  touched: set[str] | None = None) -> str | None:
    """Why `recorded` no longer matches `namespace` (first input in name order), or None.

    `touched=None` checks every input by content; a set limits re-hashing to
    those names (and inputs whose object changed or whose digest reached them).
    """
    for name in sorted(recorded):
        before = recorded[name]
        if name not in namespace:
            return f"input {name!r} was deleted"
        value = namespace[name]
        if (touched is not None and name not in touched and not (before.reached & touched)
                and table.lookup(name, value) is not None):
            continue
        try:
            now = table.digest(name, value, namespace)
        except Unhashable:
            return f"input {name!r} ({describe(value)}) can no longer be hashed"
        if now.value != before.value:
            return f"input {name!r} changed ({describe(value)})"
    return None


def watched_names(records: Mapping[str, Mapping[str, Digest]]) -> dict[str, set[str]]:
    """name -> the steps whose recorded inputs read it, directly or through a function's globals."""
    found: dict[str, set[str]] = {}
    for step, inputs in records.items():
        for name, recorded in inputs.items():
            for each in (name, *recorded.reached):
                found.setdefault(each, set()).add(step)
    return found


def digests_of(names: set[str], namespace: Mapping[str, Any], table: DigestTable) -> dict[str, bytes | None]:
    """The current digest of each name (None when unbound or unhashable)."""
    found: dict[str, bytes | None] = {}
    for name in names:
        if name not in namespace:
            found[name] = None
            continue
        try:
            found[name] = table.digest(name, namespace[name], namespace).value
        except Unhashable:
            found[name] = None
    return found
