"""The scheduler: decides what runs when, and turns every outcome into state.

It is a state machine guarded by one lock, driven from three sides: API calls
(define, run, cancel), worker threads reporting a finished attempt, and the
background asyncio loop, which owns time (--delay, --at, backoff, timeouts)
and delivers events. A worker that finishes a step resolves the successors
itself and hands the next ready step to its own thread, so a step costs no
round trip through the loop. Attempts carry a token; an attempt whose token
is no longer current (timed out, cancelled, redefined) is abandoned, and
whatever it reports later is dropped. Failures are data: every step ends in a
state with a reason, and nothing raised by a step escapes the scheduler.

This module is the API: each call takes the lock, checks its arguments and
raises for bad input, then drives the transitions of `machine.StateMachine`.
What changes no state lives beside them: the step record (`record.py`), the
ready queues and slots per executor (`dispatch.py`), and which steps a run
takes (`selection.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from . import events as ev
from .cache import AttemptResult, Cache
from .digest import Digest
from .errors import FlowClosed, OptionError, StateError, UnknownStepError
from .events import EventBus
from .executor import Executor
from .graph import Graph
from .host import Host as Host  # re-exported: `flow.py` imports it from here
from .keys import StepKey, step_key
from .loop import LoopThread
from .machine import StateMachine
from .record import StepRecord
from .selection import select
from .spec import StepSpec
from .states import UP_TO_DATE, State
from .status import StepStatus


@dataclass
class _Waiter:
    """A caller of `add_waiter`, called once none of `names` (None: no step) is active."""

    names: frozenset[str] | None
    callback: Callable[[], None]


class Scheduler(StateMachine):
    """Runs a graph of steps through executors, publishing every change."""

    def __init__(self, host: Host, executors: Mapping[str, Executor], loop: LoopThread,
                 cache: Cache | None = None, trust_digests: bool = False) -> None:
        super().__init__(host, executors, loop, cache, trust_digests, EventBus(notify=self._schedule_delivery))
        self._waiters: list[_Waiter] = []
        self._closed = False

    # -- reading ---------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def run_id(self) -> int:
        return self._run

    def executor(self, name: str) -> Executor:
        return self._queues.executors[name]

    def status(self, names: Iterable[str] | None = None) -> dict[str, StepStatus]:
        """Every step's status, in topological order; or those of `names` that exist, in the order given."""
        with self._lock:
            now = time.monotonic()
            if names is None:
                return {n: self._steps[n].status(now) for n in self._graph.topological_order()}
            return {n: self._steps[n].status(now) for n in names if n in self._steps}

    def active(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._active)

    # -- changing the graph ----------------------------------------------------

    def define(self, spec: StepSpec) -> bool:
        """Add or replace a step; False when an identical definition exists."""
        with self._lock:
            self._check_open()
            executors = self._queues.executors
            if spec.executor not in executors:
                raise OptionError(
                    spec.name, "--executor", spec.executor,
                    "an available executor (" + ", ".join(executors) + ")",
                )
            old = self._graph.get(spec.name)
            if old is not None and old == spec and (old.cell is None or spec.cell is None or old.cell == spec.cell):
                return False
            graph = self._graph.with_step(spec)  # raises, changing nothing, if invalid
            self._host.prepare(spec)
            self._graph = graph
            if old is None:
                self._steps[spec.name] = StepRecord(spec)
                self._publish(ev.StepDefined(self._run, step=spec.name))
            else:
                self._steps[spec.name].spec = spec
                self._publish(ev.StepDefined(self._run, step=spec.name, replaced=True))
                self._make_stale(spec.name, "its definition changed")
            self._drain_checks()
            return True

    def remove(self, name: str) -> None:
        with self._lock:
            graph = self._graph.without_step(name)
            step = self._steps[name]
            self._abandon(step)
            self._graph = graph
            del self._steps[name]
            self._publish(ev.StepRemoved(self._run, step=name))
            self._deactivate(name)

    def records(self) -> dict[str, dict[str, Digest]]:
        """What each up-to-date step read, as it left it (for the freshness checks in `freshness.py`)."""
        with self._lock:
            return {n: s.inputs for n, s in self._steps.items() if s.inputs and s.state in UP_TO_DATE}

    def mark_stale(self, found: Iterable[tuple[str, dict[str, Digest], str]]) -> dict[str, str]:
        """Mark stale each (step, the record it was judged on, reason) whose record is still current."""
        stale: dict[str, str] = {}
        with self._lock:
            for name, inputs, reason in found:
                step = self._steps.get(name)
                if step is not None and step.inputs is inputs and step.state in UP_TO_DATE and name not in stale:
                    self._make_stale(name, reason)
                    stale[name] = reason
            self._drain_checks()
        return stale

    def key_now(self, name: str) -> tuple[StepSpec, StepKey, str, str | None, str | None, Cache | None]:
        """(spec, the key it would get now, state, last key, last why, cache): what `why` explains."""
        with self._lock:
            self._require(name)
            step = self._steps[name]
            spec, state, last_key, last_why = step.spec, step.state.value, step.key, step.why
            ordering = self._ordering(spec)
            cache = self._cache
        root = cache.watch_root if cache is not None else None
        current = step_key(spec, self._host.snapshot(), self.digests, root, ordering, self._host.namespace)
        return spec, current, state, last_key, last_why, cache

    def invalidate(self, name: str, reason: str = "invalidated") -> None:
        """Mark a step and everything downstream stale."""
        with self._lock:
            self._require(name)
            self._make_stale(name, reason)
            self._drain_checks()

    # -- running -----------------------------------------------------------------

    def run(self, names: Iterable[str] | None = None, force: bool = False,
            rerun_failed: bool = True) -> frozenset[str]:
        """Schedule steps (all that are not up to date, or `names` and what they need).

        With `rerun_failed=False`, needed steps that failed, were blocked or
        cancelled are left as they are (the named steps are then blocked by
        them); only pending and stale ones are added.
        """
        with self._lock:
            self._check_open()
            wanted = None if names is None else list(names)
            chosen, restarted = self._select(wanted, force, rerun_failed)
            order = self._graph.ordered(chosen)
            if order and not self._active:
                self._run += 1
                self._publish(ev.FlowStarted(self._run))
            # --force re-runs the named steps and everything below them, active ones included.
            forced = set(chosen) if wanted is None else set(wanted) | self._graph.descendants_of(set(wanted))
            for step in restarted:
                step.force = step.force or (force and step.name in forced)
            for name in order:
                step = self._steps[name]
                self._abandon(step)  # a forced step that was running starts again
                step.reset()
                step.force = force and name in forced
                step.state = State.WAITING
                self._active.add(name)
                self._publish(ev.StepWaiting(self._run, step=name))
            for name in order:
                step = self._steps[name]
                if step.state is State.WAITING:
                    self._evaluate(step)
            self._queues.dispatch_all()
            self._drain_checks()
            return frozenset(order)

    def retry(self, name: str) -> frozenset[str]:
        """Run a failed, blocked or cancelled step again, then its dependents."""
        with self._lock:
            self._require(name)
            state = self._steps[name].state
            if state not in (State.FAILED, State.UPSTREAM_FAILED, State.CANCELLED):
                raise StateError(name, f"cannot retry a step that is {state.value} (use run with force)")
            return self.run([name])

    def cancel(self, names: Iterable[str] | None = None, downstream: bool = False,
               reason: str = "cancelled by the user") -> frozenset[str]:
        """Cancel active steps: all, the named ones, or the named subtrees.

        Returns every step this call cancelled, those cancelled because a
        dependency was included.
        """
        with self._lock:
            before = set(self._active)
            if names is None:
                targets = set(self._active)
            else:
                targets = set()
                for name in names:
                    self._require(name)
                    targets.add(name)
                    if downstream:
                        targets |= self._graph.descendants(name)
            for name in self._graph.ordered(targets & self._active):
                if name in self._active:
                    step = self._steps[name]
                    self._abandon(step)
                    step.reason = reason
                    self._finish(step, State.CANCELLED, ev.StepCancelled(self._run, step=name, reason=reason))
                    # Settle the cascade before the next target, so the outcome is
                    # the same whatever order the targets were named in.
                    self._drain_checks()
            self._queues.dispatch_all()
            self._drain_checks()
            return frozenset(n for n in before - self._active if self._steps[n].state is State.CANCELLED)

    def adopt(self, name: str, result: AttemptResult) -> None:
        """Take outputs restored outside a run (`%flow resume`): bind them, mark the step restored."""
        with self._lock:
            self._require(name)
            step = self._steps[name]
            if name in self._active:
                raise StateError(name, "cannot restore a step while it runs")
            bound = self._host.commit(step.spec, result.outputs)
            self._remember_digests(bound, result)
            step.reset()
            step.started = step.ended = time.time()
            self._succeed(step, result)
            self._drain_checks()

    def add_waiter(self, names: Iterable[str] | None, callback: Callable[[], None]) -> object:
        """Call `callback` once the steps are finished and their events delivered."""
        with self._lock:
            wanted = None if names is None else frozenset(names)
            for name in wanted or ():
                self._require(name)
            waiter = _Waiter(wanted, callback)
            ready = self._satisfied(waiter) and not self.bus.pending()
            if not ready:
                self._waiters.append(waiter)
        if ready:
            callback()
        return waiter

    def remove_waiter(self, waiter: object) -> None:
        with self._lock:
            self._waiters = [w for w in self._waiters if w is not waiter]

    def set_cache(self, cache: Cache | None) -> None:
        with self._lock:
            self._cache = cache

    def set_capacity(self, executor: str, capacity: int) -> None:
        with self._lock:
            self._queues.executors[executor].capacity = capacity
            self._queues.dispatch(executor)

    def close(self) -> None:
        """Cancel everything active and run nothing more."""
        with self._lock:
            if self._closed:
                return
            self.cancel(reason="the flow was closed")
            self._closed = True
        self._deliver()

    # -- checks and selection --------------------------------------------------

    def _select(self, wanted: list[str] | None, force: bool, rerun_failed: bool
                ) -> tuple[set[str], list[StepRecord]]:
        """(the steps a run takes, the active ones below them, sent back to waiting); see `selection.py`."""
        for name in wanted or ():
            self._require(name)
        chosen, restart = select(self._graph, self._steps, self._active, wanted, force, rerun_failed)
        for step in restart:
            self._restart(step)
        return chosen, restart

    def _require(self, name: str) -> None:
        """Raise UnknownStepError (with a suggestion) unless `name` is a step."""
        if name not in self._graph:
            raise UnknownStepError(name, known=list(self._graph))

    def _check_open(self) -> None:
        if self._closed:
            raise FlowClosed()

    # -- event delivery (loop thread) --------------------------------------------

    def _schedule_delivery(self) -> None:
        try:
            self._loop.call_soon(self._deliver)
        except RuntimeError:  # the loop is closed: deliver here
            self._deliver()

    def _deliver(self) -> None:
        self.bus.drain()
        with self._lock:
            if self.bus.pending():
                return
            fired = [w for w in self._waiters if self._satisfied(w)]
            if fired:
                self._waiters = [w for w in self._waiters if w not in fired]
        for waiter in fired:
            waiter.callback()

    def _satisfied(self, waiter: _Waiter) -> bool:
        if waiter.names is None:
            return not self._active
        return not (waiter.names & self._active)

