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

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .analysis import analyze
from .digest import Digest, Unhashable
from .errors import StateError
from .fingerprints import DigestTable
from .keys import describe
from .why import Explanation

if TYPE_CHECKING:
    from .scheduler import Scheduler


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


class Freshness:
    """The staleness checks and `why` of one scheduler, over its namespace and digest table."""

    def __init__(self, scheduler: Scheduler, namespace: Mapping[str, Any]) -> None:
        self._scheduler = scheduler
        self._namespace = namespace

    def refresh(self, touched: Iterable[str] | None = None, names: Iterable[str] | None = None) -> dict[str, str]:
        """Mark stale each finished step whose inputs no longer match the namespace: {step: reason}.

        `touched` names what changed; None compares every input by content.
        `names` limits the check to those steps.
        """
        table = self._scheduler.digests
        changed = None if touched is None else set(touched)
        if changed:
            table.forget(changed)
        wanted = None if names is None else set(names)
        found = []
        for name, inputs in self._scheduler.records().items():
            if wanted is None or name in wanted:
                if changed is None:  # by content: no kept digest is taken on trust
                    table.forget(inputs)
                reason = changed_input(inputs, self._namespace, table, changed)
                if reason is not None:
                    found.append((name, inputs, reason))
        return self._scheduler.mark_stale(found)

    def touched_by(self, code: str) -> set[str]:
        """The names code run outside any step may change: what it reads, binds or deletes, and
        the globals the functions among them reach. Code that does not parse touches nothing."""
        try:
            found = analyze(code)
        except (SyntaxError, ValueError):
            return set()
        touched = set(found.inputs | found.outputs | found.deletes)
        for name in list(touched):
            touched |= self._scheduler.digests.reached(name)
        return touched

    def before_change(self, touched: Iterable[str]) -> dict[str, bytes | None]:
        """Digests of the `touched` names some finished step reads: call before changing them."""
        names = set(touched) & watched_names(self._scheduler.records()).keys()
        return digests_of(names, self._namespace, self._scheduler.digests)

    def after_change(self, before: Mapping[str, bytes | None], touched: Iterable[str] = ()) -> dict[str, str]:
        """Mark stale the readers of every name whose digest is not what `before_change` saw.

        `touched` are all the names the change may have touched: their kept
        digests are dropped, read by a step or not yet.
        """
        table = self._scheduler.digests
        table.forget(set(touched) | set(before))
        if not before:
            return {}
        after = digests_of(set(before), self._namespace, table)
        records = self._scheduler.records()
        readers = watched_names(records)
        found: list[tuple[str, dict[str, Digest], str]] = []
        seen: set[str] = set()
        for name in sorted(n for n in before if after[n] != before[n]):
            for step in sorted(readers.get(name, set()) - seen):
                seen.add(step)
                inputs = records[step]
                via = next((n for n, d in inputs.items() if name in d.reached), name) if name not in inputs else name
                reason = f"input {name!r} changed" if via == name else f"input {via!r} changed (it reads {name!r})"
                found.append((step, inputs, reason))
        return self._scheduler.mark_stale(found)

    def explain(self, name: str) -> Explanation:
        """Why the step will be restored or re-run, from the key it would get now (see `why.py`)."""
        spec, current, state, last_key, last_why, cache = self._scheduler.key_now(name)
        if cache is None:
            raise StateError(name, "there is no checkpoint store, so nothing is cached")
        stored = current.value is not None and cache.exists(spec, current.value)
        return Explanation(name, current, cache.previous(spec), stored, last_key, last_why, state)
