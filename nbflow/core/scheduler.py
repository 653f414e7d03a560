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
"""

from __future__ import annotations

import datetime as dt
import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from . import events as ev
from .attempt import run_attempt
from .cache import AttemptResult, Cache
from .deps import Outcome, outcome, verdict
from .digest import Digest
from .durations import format_duration
from .errors import FlowClosed, OptionError, StateError, UnknownStepError
from .events import EventBus
from .executor import Executor
from .fingerprints import DigestTable
from .graph import Graph
from .keys import StepKey, step_key
from .loop import LoopThread
from .namespace import Outputs, format_error, inputs_of
from .reads import outputs_of
from .spec import StepSpec
from .states import ACTIVE, HAS_OUTPUT, TERMINAL, UP_TO_DATE, State
from .status import AttemptInfo, StepStatus

_LOG_LIMIT = 100  # attempts kept per step (retries inf can fail forever)


class Host(Protocol):
    """What runs a step's body and binds its outputs (the namespace, in practice)."""

    namespace: Any

    def prepare(self, spec: StepSpec) -> None: ...
    def evaluate_condition(self, spec: StepSpec) -> bool: ...
    def snapshot(self) -> dict[str, Any]: ...
    def runs_here(self, spec: StepSpec) -> bool: ...
    def execute(self, spec: StepSpec, attempt: int = 1, scope: dict[str, Any] | None = None) -> Outputs: ...
    def commit(self, spec: StepSpec, outputs: Outputs) -> dict[str, Any]: ...


class _Step:
    """The scheduler's mutable record of one step (touched under the lock only)."""

    __slots__ = (
        "attempt",
        "committing",
        "ended",
        "error",
        "force",
        "inputs",
        "key",
        "log",
        "mono_started",
        "name",
        "not_restorable",
        "outputs",
        "provenance",
        "reason",
        "spec",
        "start_at",
        "started",
        "state",
        "token",
        "traceback",
        "unmet",
        "why",
    )

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.state = State.PENDING
        self.token: object | None = None
        self.log: deque[AttemptInfo] = deque(maxlen=_LOG_LIMIT)
        self.reset()

    def reset(self) -> None:
        self.attempt = 0
        self.started: float | None = None
        self.mono_started: float | None = None
        self.ended: float | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.reason: str | None = None
        self.outputs: tuple[str, ...] = ()
        self.start_at: float | None = None
        self.unmet = 0  # --after steps not yet finished; the full rule runs when it reaches 0
        self.force = False  # execute even if a checkpoint matches (this run only)
        self.key: str | None = None
        self.provenance: dict[str, Any] = {}  # StepStatus fields: the checkpoint written or loaded
        self.not_restorable: str | None = None
        self.committing = False  # the body finished and its checkpoint is being written
        self.inputs: dict[str, Digest] = {}  # what it read, as it left it: for freshness checks
        self.why: str | None = None
        self.log.clear()


@dataclass
class _Waiter:
    names: frozenset[str] | None
    callback: Callable[[], None]


class Scheduler:
    """Runs a graph of steps through executors, publishing every change."""

    def __init__(self, host: Host, executors: Mapping[str, Executor], loop: LoopThread,
                 cache: Cache | None = None, trust_digests: bool = False) -> None:
        self._host = host
        self._cache = cache
        self.digests = DigestTable(trusted=trust_digests)
        self._executors = dict(executors)
        self._loop = loop
        self._lock = threading.RLock()
        self._graph = Graph()
        self._steps: dict[str, _Step] = {}
        self._active: set[str] = set()
        self._running = dict.fromkeys(self._executors, 0)
        self._ready: dict[str, deque[tuple[_Step, object]]] = {n: deque() for n in self._executors}
        self._to_check: list[tuple[int, str]] = []  # a heap: settle cascades in topological order
        self._waiters: list[_Waiter] = []
        self._run = 0
        self._closed = False
        self.bus = EventBus(notify=self._schedule_delivery)

    # -- reading ---------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def run_id(self) -> int:
        return self._run

    def executor(self, name: str) -> Executor:
        return self._executors[name]

    def status(self) -> dict[str, StepStatus]:
        """Every step's status, in topological order."""
        with self._lock:
            now = time.monotonic()
            return {n: self._status(self._steps[n], now) for n in self._graph.topological_order()}

    def active(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._active)

    # -- changing the graph ----------------------------------------------------

    def define(self, spec: StepSpec) -> bool:
        """Add or replace a step; False when an identical definition exists."""
        with self._lock:
            self._check_open()
            if spec.executor not in self._executors:
                raise OptionError(
                    spec.name, "--executor", spec.executor,
                    "an available executor (" + ", ".join(self._executors) + ")",
                )
            old = self._graph.specs.get(spec.name)
            graph = self._graph.with_step(spec)  # raises, changing nothing, if invalid
            if old is not None and old == spec:
                return False
            self._host.prepare(spec)
            self._graph = graph
            if old is None:
                self._steps[spec.name] = _Step(spec)
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
            chosen = self._select(names, force, rerun_failed)
            order = [n for n in self._graph.topological_order() if n in chosen]
            if order and not self._active:
                self._run += 1
                self._publish(ev.FlowStarted(self._run))
            # --force re-runs the named steps and everything below them.
            forced = set(chosen) if names is None else set(names) | self._graph.descendants_of(set(names))
            for name in order:
                step = self._steps[name]
                step.reset()
                step.force = force and name in forced
                step.token = None
                step.state = State.WAITING
                self._active.add(name)
                self._publish(ev.StepWaiting(self._run, step=name))
            for name in order:
                step = self._steps[name]
                if step.state is State.WAITING:
                    self._evaluate(step)
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
        """Cancel active steps: all, the named ones, or the named subtrees."""
        with self._lock:
            if names is None:
                targets = set(self._active)
            else:
                targets = set()
                for name in names:
                    self._require(name)
                    targets.add(name)
                    if downstream:
                        targets |= self._graph.descendants(name)
            done = []
            for name in self._graph.topological_order():
                if name in targets and name in self._active:
                    step = self._steps[name]
                    self._abandon(step)
                    step.reason = reason
                    self._finish(step, State.CANCELLED, ev.StepCancelled(self._run, step=name, reason=reason))
                    done.append(name)
                    # Settle the cascade before the next target, so the outcome is
                    # the same whatever order the targets were named in.
                    self._drain_checks()
            for executor in self._executors:
                self._dispatch(executor)
            self._drain_checks()
            return frozenset(done)

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
            self._executors[executor].capacity = capacity
            self._dispatch(executor)

    def close(self) -> None:
        """Cancel everything active and run nothing more."""
        with self._lock:
            if self._closed:
                return
            self.cancel(reason="the flow was closed")
            self._closed = True
        self._deliver()

    # -- the state machine (lock held) ----------------------------------------

    def _select(self, names: Iterable[str] | None, force: bool, rerun_failed: bool) -> set[str]:
        steps = self._steps
        if names is None:
            chosen = {n for n, s in steps.items() if n not in self._active and (force or s.state not in UP_TO_DATE)}
        else:
            chosen = set()
            for name in names:
                self._require(name)
                if name not in self._active and (force or steps[name].state not in UP_TO_DATE):
                    chosen.add(name)
                self._add_needs(name, chosen, rerun_failed)
        for below in self._graph.descendants_of(chosen) - chosen:
            step = steps[below]
            if below in self._active:
                self._restart(step)
            elif step.state is not State.PENDING:
                chosen.add(below)
        return chosen

    def _add_needs(self, name: str, chosen: set[str], rerun_failed: bool) -> None:
        """Add the not-up-to-date, not-active ancestors that `name` needs."""
        frontier = [name]
        while frontier:
            spec = self._graph[frontier.pop()]
            needed = list(spec.after)
            any_of = [d for d in spec.after_any if d not in spec.after]
            if any_of and not any(self._steps[d].state in UP_TO_DATE or d in self._active for d in any_of):
                needed.extend(any_of)
            for dep in needed:
                state = self._steps[dep].state
                settled = state in UP_TO_DATE or (not rerun_failed and state in TERMINAL)
                if dep not in chosen and dep not in self._active and not settled:
                    chosen.add(dep)
                    frontier.append(dep)

    def _restart(self, step: _Step) -> None:
        """An active step whose upstream is re-run: back to waiting with fresh inputs."""
        if step.state in (State.QUEUED, State.RUNNING, State.RETRYING):
            self._abandon(step)
            step.reset()
            step.state = State.WAITING
            self._publish(ev.StepWaiting(self._run, step=step.name))

    def _evaluate(self, step: _Step) -> None:
        steps = self._steps
        decided = verdict(step.spec, lambda d: outcome(steps[d].state, steps[d].spec.on_fail))
        if decided.state is None:
            step.unmet = sum(1 for d in step.spec.after if steps[d].state not in TERMINAL)
            return
        if decided.state is State.RUNNING:
            self._on_ready(step)
        elif decided.state is State.UPSTREAM_FAILED:
            step.reason = decided.reason
            self._finish(step, State.UPSTREAM_FAILED,
                         ev.StepUpstreamFailed(self._run, step=step.name, upstream=decided.upstream))
        elif decided.state is State.CANCELLED:
            step.reason = decided.reason
            self._finish(step, State.CANCELLED, ev.StepCancelled(self._run, step=step.name, reason=decided.reason))
        else:
            step.reason = decided.reason
            self._finish(step, State.SKIPPED, ev.StepSkipped(self._run, step=step.name, reason=decided.reason))

    def _on_ready(self, step: _Step) -> None:
        spec = step.spec
        step.state = State.QUEUED
        if spec.delay or spec.at is not None:
            now = dt.datetime.now()
            step.start_at = spec.start_time(now).timestamp()
        self._publish(ev.StepQueued(self._run, step=step.name, start_at=step.start_at))
        if spec.condition is None:
            self._after_condition(step)
            return
        token = step.token = object()
        self._executors["thread"].submit(
            partial(self._host.evaluate_condition, spec), partial(self._condition_done, step, token)
        )

    def _condition_done(self, step: _Step, token: object, result: Any, error: BaseException | None) -> None:
        with self._lock:
            if step.token is not token:
                return
            if error is not None:
                line, text = format_error(error)
                step.error, step.traceback = f"--if {step.spec.condition!r} raised {line}", text
                self._finish(step, State.FAILED, ev.StepFailed(
                    self._run, step=step.name, attempts=0, error=step.error, traceback=text))
            elif not result:
                step.reason = f"--if {step.spec.condition!r} is false"
                self._finish(step, State.SKIPPED, ev.StepSkipped(self._run, step=step.name, reason=step.reason))
            else:
                self._after_condition(step)
            self._drain_checks()

    def _after_condition(self, step: _Step) -> None:
        token = step.token = object()
        wait = (step.start_at - time.time()) if step.start_at is not None else 0.0
        if wait > 0:
            self._loop.call_later(wait, self._due, step, token)
        else:
            self._enqueue(step, token)

    def _due(self, step: _Step, token: object) -> None:
        with self._lock:
            if step.token is token:
                self._enqueue(step, token)
                self._drain_checks()

    def _enqueue(self, step: _Step, token: object) -> None:
        executor = step.spec.executor
        self._ready[executor].append((step, token))
        self._dispatch(executor)

    def _dispatch(self, executor: str) -> None:
        ready = self._ready[executor]
        capacity = self._executors[executor].capacity
        while ready and self._running[executor] < capacity:
            step, token = ready.popleft()
            if step.token is token:
                self._start(step)

    def _start(self, step: _Step) -> None:
        spec = step.spec
        step.attempt += 1
        token = step.token = object()
        now = time.time()
        if step.started is None:
            step.started, step.mono_started = now, time.monotonic()
        step.log.append(AttemptInfo(step.attempt, now))
        step.state = State.RUNNING
        self._running[spec.executor] += 1
        self._publish(ev.StepStarted(self._run, step=step.name, attempt=step.attempt))
        if spec.timeout is not None:
            self._loop.call_later(spec.timeout, self._timed_out, step, token)
        job = partial(run_attempt, self._host, self._cache, spec, step.attempt, step.force, self.digests,
                      partial(self._claim, step, token), self._ordering(spec))
        self._executors[spec.executor].submit(job, partial(self._attempt_done, step, token))

    def _ordering(self, spec: StepSpec) -> dict[str, str | None]:
        """The keys of `--after` steps whose outputs this one does not read (see `keys.step_key`)."""
        if self._cache is None or not spec.after:
            return {}
        reads = set(inputs_of(spec, self._host.namespace))
        found: dict[str, str | None] = {}
        for dep in spec.after:
            if not reads & outputs_of(self._graph, dep):
                other = self._steps[dep]
                found[dep] = other.key if other.state in HAS_OUTPUT else f"<{other.state.value}>"
        return found

    def _claim(self, step: _Step, token: object) -> bool:
        """Called by an attempt before it writes its checkpoint: only the current attempt may."""
        with self._lock:
            if step.token is not token or step.state is not State.RUNNING:
                return False
            step.committing = True  # a timeout from now on no longer abandons it
            return True

    def _attempt_done(self, step: _Step, token: object, result: AttemptResult | None,
                      error: BaseException | None) -> None:
        with self._lock:
            current = step.token is token
            if current:
                self._attempt_over(step, result, error)
        if not current and result is not None and result.saved is not None and result.saved.path:
            # Cancelled or redefined while its checkpoint was written: an abandoned attempt never keeps one.
            cache, key = self._cache, result.key
            if cache is not None and key is not None:
                cache.discard(step.spec, key)

    def _attempt_over(self, step: _Step, result: AttemptResult | None, error: BaseException | None) -> None:
        executor = step.spec.executor
        self._running[executor] -= 1
        step.committing = False
        if error is None and result is not None:
            try:
                bound = self._host.commit(step.spec, result.outputs)
            except Exception as exc:
                error = exc
            else:
                self._remember_digests(bound, result)
        if error is None and result is not None:
            self._succeed(step, result)
        else:
            self._attempt_failed(step, error or RuntimeError("the attempt returned nothing"), timed_out=False)
        self._dispatch(executor)
        self._drain_checks()

    def _remember_digests(self, bound: Mapping[str, Any], result: AttemptResult) -> None:
        """Keep the digest of every value just bound, so its readers need not hash it again.

        Other finished steps that read one of these names take the new digest
        as what they last saw: a value changed by a step is the scheduler's
        business (it re-runs that step's dependents), while `stale` reports
        changes made outside any step.
        """
        table = self.digests
        for name, value in bound.items():
            found = result.digests.get(name)
            if found is not None:
                table.record(name, value, found)
            else:
                table.forget([name])
            for other in self._steps.values():
                if name in other.inputs:
                    if found is None:
                        del other.inputs[name]
                    else:
                        other.inputs[name] = found
        table.forget(result.outputs.deleted)

    def _timed_out(self, step: _Step, token: object) -> None:
        with self._lock:
            if step.token is not token or step.state is not State.RUNNING or step.committing:
                return
            step.token = None
            executor = step.spec.executor
            self._running[executor] -= 1
            limit = format_duration(step.spec.timeout)
            error = TimeoutError(f"step {step.name!r}: attempt {step.attempt} timed out after {limit}")
            self._attempt_failed(step, error, timed_out=True)
            self._dispatch(executor)
            self._drain_checks()

    def _succeed(self, step: _Step, result: AttemptResult) -> None:
        self._close_attempt(step, None, False)
        step.outputs = tuple(result.outputs.values)
        step.key = result.key
        step.inputs = dict(result.inputs)
        step.why = result.why
        for note in result.notes:
            self._publish(ev.StepWarning(self._run, step=step.name, message=note))
        restored = result.restored
        if restored is not None:
            step.provenance = {
                "checkpoint": restored.path, "size": restored.size, "load_seconds": restored.load_seconds,
                "original_seconds": restored.duration, "computed_at": restored.computed_at,
                "time_saved": restored.time_saved,
            }
            self._finish(step, State.RESTORED, ev.StepRestored(
                self._run, step=step.name, outputs=step.outputs, key=result.key, parts=result.parts,
                checkpoint=restored.path, size=restored.size, load_seconds=restored.load_seconds,
                original_seconds=restored.duration, time_saved=restored.time_saved,
                computed_at=restored.computed_at, why=result.why))
            return
        saved = result.saved
        written = saved is not None and saved.path is not None
        step.provenance = {"checkpoint": saved.path, "size": saved.size,
                           "write_seconds": saved.seconds} if saved is not None and written else {}
        step.not_restorable = saved.not_restorable if saved is not None else result.key_reason
        duration = time.monotonic() - (step.mono_started or time.monotonic())
        self._finish(step, State.SUCCEEDED, ev.StepSucceeded(
            self._run, step=step.name, attempts=step.attempt, duration=duration, outputs=step.outputs,
            key=step.key, parts=result.parts, checkpoint=step.provenance.get("checkpoint"),
            size=step.provenance.get("size"), write_seconds=step.provenance.get("write_seconds"),
            not_restorable=step.not_restorable, why=result.why))

    def _attempt_failed(self, step: _Step, error: BaseException, timed_out: bool) -> None:
        spec = step.spec
        line, text = format_error(error)
        self._close_attempt(step, line, timed_out)
        self._publish(ev.AttemptFailed(
            self._run, step=step.name, attempt=step.attempt, error=line, traceback=text, timed_out=timed_out))
        step.error, step.traceback = line, text
        if step.attempt < 1 + spec.retries and spec.retries_on(error):
            delay = spec.backoff.delay(step.attempt)
            step.state = State.RETRYING
            token = step.token = object()
            self._publish(ev.StepRetrying(self._run, step=step.name, attempt=step.attempt + 1, delay=delay))
            if delay > 0:
                self._loop.call_later(delay, self._due, step, token)
            else:
                self._enqueue(step, token)
        else:
            self._finish(step, State.FAILED, ev.StepFailed(
                self._run, step=step.name, attempts=step.attempt, error=line, traceback=text))

    def _close_attempt(self, step: _Step, error: str | None, timed_out: bool) -> None:
        if step.log:
            last = step.log[-1]
            step.log[-1] = AttemptInfo(last.number, last.started, time.time(), error, timed_out)

    def _finish(self, step: _Step, state: State, event: ev.StepEvent) -> None:
        """A terminal transition: publish, leave the active set, wake dependents."""
        step.state = state
        step.token = None
        step.ended = time.time()
        self._publish(event)
        # A satisfying finish only counts down a plain --after dependent; anything
        # else (a failure, a cancel, an --after-any dependent) gets the full rule.
        satisfying = outcome(state, step.spec.on_fail) in (Outcome.OUTPUT, Outcome.SKIP)
        for child in self._graph.dependents(step.name):
            if child in self._active:
                waiting = self._steps[child]
                if satisfying and not waiting.spec.after_any:
                    waiting.unmet -= 1
                    if waiting.unmet > 0:
                        continue
                heapq.heappush(self._to_check, (self._graph.position(child), child))
        self._deactivate(step.name)

    def _drain_checks(self) -> None:
        checks = self._to_check
        while checks:
            step = self._steps.get(heapq.heappop(checks)[1])
            if step is not None and step.state is State.WAITING and step.name in self._active:
                self._evaluate(step)

    def _abandon(self, step: _Step) -> None:
        """Drop the live attempt or timer of a step; its thread's result is ignored."""
        if step.state is State.RUNNING and step.token is not None:
            self._running[step.spec.executor] -= 1
        step.token = None

    def _make_stale(self, name: str, reason: str) -> None:
        below = self._graph.descendants(name)
        for other in [name, *(n for n in self._graph.topological_order() if n in below)]:
            step = self._steps[other]
            if step.state is State.PENDING:
                continue
            if other in self._active:
                self._abandon(step)
            if step.state is not State.STALE:
                step.state = State.STALE
                why = reason if other == name else f"upstream step {name!r} changed"
                step.reason = why
                self._publish(ev.StepStale(self._run, step=other, reason=why))
            self._deactivate(other)
        for executor in self._executors:
            self._dispatch(executor)

    def _deactivate(self, name: str) -> None:
        if name in self._active:
            self._active.discard(name)
            if not self._active:
                counts: dict[str, int] = {}
                for step in self._steps.values():
                    counts[step.state.value] = counts.get(step.state.value, 0) + 1
                self._publish(ev.FlowFinished(self._run, counts=counts))

    def _publish(self, event: ev.Event) -> None:
        self.bus.publish(event)

    def _require(self, name: str) -> None:
        """Raise UnknownStepError (with a suggestion) unless `name` is a step."""
        if name not in self._graph:
            raise UnknownStepError(name, known=list(self._graph))

    def _check_open(self) -> None:
        if self._closed:
            raise FlowClosed()

    def _status(self, step: _Step, now: float) -> StepStatus:
        duration = None
        if step.started is not None and step.mono_started is not None:
            if step.ended is not None:
                duration = step.ended - step.started
            elif step.state in ACTIVE:
                duration = now - step.mono_started
        return StepStatus(
            name=step.name, state=step.state, attempts=step.attempt, started=step.started,
            ended=step.ended if step.state in TERMINAL else None, duration=duration,
            error=step.error if step.state is State.FAILED or step.state in ACTIVE else None,
            traceback=step.traceback if step.state is State.FAILED or step.state in ACTIVE else None,
            reason=step.reason, outputs=step.outputs, attempt_log=tuple(step.log),
            key=step.key, not_restorable=step.not_restorable, why=step.why, **step.provenance,
        )

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

