"""One attempt of a step, as it runs in a worker: restore from a checkpoint, or execute and save.

Kept apart from the scheduler's state machine because none of it touches
scheduler state: it runs outside the lock, and what it finds comes back as an
`AttemptResult` the scheduler turns into a state.

The key is computed from the same snapshot of the namespace the attempt then
runs in, so it describes exactly the values the step reads. After a run, each
mutable input is hashed again: an input changed in place is part of what the
step did, so its new value is saved with the checkpoint and bound again on
restore. A checkpoint is written only after `claim()` confirms the attempt is
still the current one (not timed out, cancelled or redefined meanwhile).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from .abandon import attempt_running
from .cache import AttemptResult, Cache, Previous, Receipt, Refused, Restored, Saved, SharedCache, Snapshot
from .digest import Digest, Unhashable, digest
from .digest.pieces import recording
from .fingerprints import DigestTable
from .host import Runner
from .keys import StepKey, changed_parts, step_key
from .namespace import Outputs
from .offload import Offer, offering
from .spec import StepSpec

_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, frozenset, range)


def run_attempt(host: Runner, cache: Cache | None, spec: StepSpec, attempt: int, force: bool,
                table: DigestTable, claim: Callable[[], bool],
                ordering: Mapping[str, str | None] | None = None,
                live: Callable[[], bool] | None = None) -> AttemptResult:
    """Restore from a matching checkpoint, else execute (and save the checkpoint).

    `live()` says whether the scheduler still wants this attempt; the step's
    output writes check it (see `abandon.py`).
    """
    if live is None:
        return _run(host, cache, spec, attempt, force, table, claim, ordering)
    with attempt_running(spec.name, attempt, live):
        return _run(host, cache, spec, attempt, force, table, claim, ordering)


def _run(host: Runner, cache: Cache | None, spec: StepSpec, attempt: int, force: bool,
         table: DigestTable, claim: Callable[[], bool], ordering: Mapping[str, str | None] | None) -> AttemptResult:
    scope = host.snapshot()
    if cache is None:
        started = time.monotonic()
        outputs = host.execute(spec, attempt, scope)
        return AttemptResult(outputs, None, seconds=time.monotonic() - started)
    key = step_key(spec, scope, table, cache.watch_root, ordering, host.namespace)
    notes = list(key.warnings)
    if key.value is not None and not force and not spec.no_cache:
        found = cache.restore(spec, key.value, host.namespace)
        if isinstance(found, Restored):
            return _restored(found, key, notes)
        if isinstance(found, Refused):
            notes.append(f"checkpoint refused ({found.reason}); running the step again")
    previous = cache.previous(spec) if key.value is not None else None
    started = time.monotonic()
    offer = None
    if key.value is not None and not host.runs_here(spec) and isinstance(cache, SharedCache):
        offer = Offer(spec.name, key.value, key.parts, attempt, cache)  # see offload.py
    try:
        with offering(offer):
            outputs = host.execute(spec, attempt, scope)
    except BaseException:
        # It may have changed its inputs in place before failing: their kept digests no longer hold.
        table.forget(n for n in key.inputs if not isinstance(scope.get(n), _IMMUTABLE))
        if offer is not None and offer.receipt is not None:  # written, but an output could not come back
            _drop(cache, spec, offer.key, offer.receipt)
        raise
    duration = time.monotonic() - started
    with recording():  # the checkpoint write reuses the digests of the buffers hashed here
        return _finish(host, cache, spec, key, outputs, scope, table, claim, force, previous, duration, notes,
                       attempt, offer)


def _finish(host: Runner, cache: Cache, spec: StepSpec, key: StepKey, outputs: Outputs, scope: dict[str, Any],
            table: DigestTable, claim: Callable[[], bool], force: bool, previous: Previous | None,
            duration: float, notes: list[str], attempt: int = 1, offer: Offer | None = None) -> AttemptResult:
    """After a successful run: find inputs changed in place, save the checkpoint, hash the outputs.

    The outputs are hashed by the store once it has written (and so hashed)
    their buffers, when there is a checkpoint to write; else here. A
    checkpoint the executor had written where the body ran (`offer`) is
    adopted instead, or dropped if the attempt was given up meanwhile.
    """
    mutated = _mutated(key, outputs, scope, host.namespace) if host.runs_here(spec) else {}
    values = dict(outputs.values)
    for name in mutated:
        values[name] = scope[name]

    def all_digests() -> dict[str, Digest | None]:
        return {**_output_digests(outputs.values, scope, host.namespace), **mutated}

    if mutated:
        names = ", ".join(repr(n) for n in sorted(mutated))
        notes.append(f"changed input {names} in place; the changed value is saved with the checkpoint")
    result = Outputs(values, outputs.deleted, outputs.scope, outputs.displays)
    inputs = {n: d for n, d in key.inputs.items() if n not in outputs.values and n not in outputs.deleted}
    inputs.update(mutated)
    saved = None
    receipt = offer.receipt if offer is not None else None
    if offer is not None:
        notes.extend(offer.notes)
    if key.value is None:
        notes.append(f"not cached: {key.reason}")
    elif claim():
        if receipt is not None:
            saved = _adopt(cache, spec, key.value, receipt, notes)
        if saved is None:
            snapshot = Snapshot(result, all_digests, key.parts, tuple(sorted(mutated)), duration, attempt,
                                outputs.displays)
            saved = cache.save(spec, key.value, snapshot, host.namespace)
        if saved.not_restorable:
            notes.append(f"will not restore: {saved.not_restorable}")
    else:  # abandoned meanwhile: what it changed in place is not what the table says
        table.forget(mutated)
        if receipt is not None:
            _drop(cache, spec, key.value, receipt)
    digests = saved.digests if saved is not None and saved.digests is not None else all_digests()
    return AttemptResult(result, key.value, saved=saved, key_reason=key.reason, notes=tuple(notes),
                         digests=digests, inputs=inputs, parts=key.parts,
                         why=_why_ran(spec, key, previous, force), seconds=duration)


def _adopt(cache: Cache, spec: StepSpec, key: str, receipt: Receipt, notes: list[str]) -> Saved | None:
    """The remotely written checkpoint, moved into place; None (and a note) when the kernel must write it."""
    assert isinstance(cache, SharedCache)
    try:
        return cache.adopt(spec, key, receipt)
    except OSError as error:
        notes.append(f"the checkpoint written by {receipt.written_by} cannot be used here ({error}); "
                     "the kernel wrote it instead")
        _drop(cache, spec, key, receipt)
        return None


def _drop(cache: Cache, spec: StepSpec, key: str, receipt: Receipt) -> None:
    """Remove a staged checkpoint nobody will adopt; one left behind is a temp file the store sweeps later."""
    if isinstance(cache, SharedCache):
        with contextlib.suppress(OSError):
            cache.drop(spec, key, receipt)


def _restored(found: Restored, key: StepKey, notes: list[str]) -> AttemptResult:
    inputs = dict(key.inputs)
    for name in found.mutated:
        changed = found.digests.get(name)
        if changed is not None:
            inputs[name] = changed
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(found.computed_at)) if found.computed_at else "earlier"
    return AttemptResult(found.outputs, key.value, restored=found, notes=tuple(notes), digests=found.digests,
                         inputs=inputs, parts=key.parts,
                         why=f"code, options and inputs match the checkpoint computed {when}")


def _output_digests(values: Mapping[str, Any], scope: Mapping[str, Any],
                    namespace: Mapping[str, Any]) -> dict[str, Digest | None]:
    """Each output's digest; None for one that cannot be hashed (its readers will say so)."""
    found: dict[str, Digest | None] = {}
    for name, value in values.items():
        try:
            found[name] = digest(value, scope, namespace)
        except Unhashable:
            found[name] = None
    return found


def _mutated(key: StepKey, outputs: Outputs, scope: Mapping[str, Any],
             namespace: Mapping[str, Any]) -> dict[str, Digest]:
    """Inputs the step changed in place (same object, new content), with their new digests."""
    changed: dict[str, Digest] = {}
    for name, before in key.inputs.items():
        if name in outputs.values or name in outputs.deleted or name not in scope:
            continue
        value = scope[name]
        if isinstance(value, _IMMUTABLE):
            continue
        try:
            after = digest(value, scope, namespace)
        except Unhashable:
            continue
        if after.value != before.value:
            changed[name] = after
    return changed


def _why_ran(spec: StepSpec, key: StepKey, previous: Previous | None, force: bool) -> str | None:
    """One line on why the step ran instead of being restored (None on its first run)."""
    if key.value is None:
        return None
    if force:
        return "ran because it was forced"
    if spec.no_cache:
        return "ran because of --no-cache"
    if previous is None:
        return None
    if previous.key == key.value:
        return "ran because its checkpoint could not be loaded"
    changes = changed_parts(previous.parts, key.parts)
    return "ran because " + ("; ".join(changes) if changes else "its key changed") + " since the last checkpoint"
