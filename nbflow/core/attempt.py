"""One attempt of a step, as it runs in a worker: restore from a checkpoint, or execute and save.

Kept apart from the scheduler's state machine because none of it touches
scheduler state: it runs outside the lock, and what it finds comes back as an
`AttemptResult` the scheduler turns into a state.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .cache import AttemptResult, Cache, Key, Refused, Restored
from .graph import Graph
from .reads import outputs_of
from .spec import StepSpec

if TYPE_CHECKING:
    from .scheduler import Host


def run_attempt(host: Host, cache: Cache | None, spec: StepSpec, attempt: int, upstream: dict[str, str | None],
                force: bool, external: frozenset[str]) -> AttemptResult:
    """Restore from a matching checkpoint, else execute (and save the checkpoint)."""
    if cache is None:
        return AttemptResult(host.execute(spec, attempt), None)
    if any(value is None for value in upstream.values()):
        missing = next(dep for dep, value in upstream.items() if value is None)
        key = Key(None, f"upstream step {missing!r} has no cache key")
    else:
        key = cache.key(spec, upstream, host.read_inputs(external))
    notes: list[str] = []
    if key.value is not None and not force and not spec.no_cache:
        found = cache.restore(spec, key.value)
        if isinstance(found, Restored):
            return AttemptResult(found.outputs, key.value, restored=found)
        if isinstance(found, Refused):
            notes.append(f"checkpoint refused ({found.reason}); running the step again")
    started = time.monotonic()
    outputs = host.execute(spec, attempt)
    saved = None
    if key.value is not None:
        saved = cache.save(spec, key.value, outputs, time.monotonic() - started)
        if saved.not_restorable:
            notes.append(f"will not restore: {saved.not_restorable}")
    return AttemptResult(outputs, key.value, saved=saved, key_reason=key.reason, notes=tuple(notes))


class ProducedNames:
    """Every name some step of a graph binds, computed once per graph."""

    def __init__(self) -> None:
        self._graph: Graph | None = None
        self._names: frozenset[str] = frozenset()

    def of(self, graph: Graph) -> frozenset[str]:
        if graph is not self._graph:
            produced: set[str] = set()
            for name in graph:
                produced |= outputs_of(graph, name)
            self._graph, self._names = graph, frozenset(produced)
        return self._names
