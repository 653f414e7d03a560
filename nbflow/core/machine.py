"""The scheduler's state machine: every transition of a step, and an attempt's life.

`Scheduler` (in `scheduler.py`) is the API on top: it takes the lock, checks
its arguments and raises for bad input, then drives the transitions here.
They run with the lock held, entered from the API or from the callbacks that
workers and the loop thread call (those take the lock themselves). Nothing
here raises for a step's failure: every outcome becomes a state with a reason.

A finished step queues its waiting dependents on a heap ordered by
topological position, drained after each change, so a cascade is settled
in topological order.
"""

from __future__ import annotations

import datetime as dt
import heapq
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from . import events as ev
from .attempt import run_attempt
from .cache import AttemptResult, Cache
from .deps import Outcome, outcome, verdict
from .dispatch import Dispatcher
from .durations import format_duration
from .events import EventBus
from .executor import Executor, placed
from .fingerprints import DigestTable
from .graph import Graph
from .host import Host
from .loop import LoopThread
from .namespace import format_error, inputs_of
from .readers import Readers
from .reads import outputs_of
from .record import StepRecord
from .spec import StepSpec
from .states import HAS_OUTPUT, TERMINAL, State
from .status import AttemptInfo


class StateMachine:
    """A scheduler's state, and every change to it."""

    #: Longest sleep towards an `--at` time before the wall clock is read again (seconds).
    wake_interval = 30.0

    def __init__(self, host: Host, executors: Mapping[str, Executor], loop: LoopThread, cache: Cache | None,
                 trust_digests: bool, bus: EventBus) -> None:
        self._host = host
        self._cache = cache
        self.digests = DigestTable(trusted=trust_digests)
        self._queues = Dispatcher(executors, self._start)
        self._loop = loop
        self._lock = threading.RLock()
        self._graph = Graph()
        self._steps: dict[str, StepRecord] = {}
        self._active: set[str] = set()
        #: variable -> steps that may hold it in `inputs` (a superset: checked on use), so a commit is not O(steps)
        self._readers = Readers()
        self._to_check: list[tuple[int, str]] = []  # a heap: settle cascades in topological order
        self._run = 0
        self.bus = bus

    # -- becoming ready: the dependency rule, --if, --delay and --at -----------

    def _restart(self, step: StepRecord) -> None:
        """An active step whose upstream is re-run: back to waiting with fresh inputs."""
        if step.state in (State.QUEUED, State.RUNNING, State.RETRYING):
            self._abandon(step)
            step.reset()
            step.state = State.WAITING
            self._publish(ev.StepWaiting(self._run, step=step.name))

    def _evaluate(self, step: StepRecord) -> None:
        steps = self._steps
        decided = verdict(step.spec, lambda d: outcome(steps[d].state, steps[d].spec.on_fail),
                          lambda d: steps[d].state is State.UPSTREAM_FAILED)
        if decided.state is None:
            step.unmet = sum(1 for d in step.spec.after if steps[d].state not in TERMINAL)
            return
        if decided.state is State.RUNNING:
            self._on_ready(step)
        elif decided.state is State.UPSTREAM_FAILED:
            step.reason = decided.reason
            self._finish(step, State.UPSTREAM_FAILED,
                         ev.StepUpstreamFailed(self._run, step=step.name, upstream=decided.upstream,
                                               reason=decided.reason))
        elif decided.state is State.CANCELLED:
            step.reason = decided.reason
            self._finish(step, State.CANCELLED, ev.StepCancelled(self._run, step=step.name, reason=decided.reason))
        else:
            step.reason = decided.reason
            self._finish(step, State.SKIPPED, ev.StepSkipped(self._run, step=step.name, reason=decided.reason))

    def _on_ready(self, step: StepRecord) -> None:
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
        self._queues.executors["thread"].submit(
            partial(self._host.evaluate_condition, spec), partial(self._condition_done, step, token)
        )

    def _condition_done(self, step: StepRecord, token: object, result: Any, error: BaseException | None) -> None:
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

    def _after_condition(self, step: StepRecord) -> None:
        token = step.token = object()
        if not self._wait_for_start(step, token):
            self._queues.enqueue(step, token)

    def _wait_for_start(self, step: StepRecord, token: object) -> bool:
        """Sleep towards a wall-clock start (`--at`, `--delay`); False when it is already due.

        The loop's timers run on the monotonic clock, so a long wait is taken in
        slices of at most `wake_interval` and the wall clock is read again after
        each: a clock change, or a laptop waking from suspend, is noticed.
        """
        left = (step.start_at - time.time()) if step.start_at is not None else 0.0
        if left <= 0:
            return False
        if step.spec.at is None:  # only a --delay: a span of time, kept on the monotonic clock
            self._loop.call_later(left, self._due, step, token)
        else:
            self._loop.call_later(min(left, self.wake_interval), self._due_at, step, token)
        return True

    def _due_at(self, step: StepRecord, token: object) -> None:
        with self._lock:
            if step.token is token and not self._wait_for_start(step, token):
                self._queues.enqueue(step, token)
                self._drain_checks()

    def _due(self, step: StepRecord, token: object) -> None:
        with self._lock:
            if step.token is token:
                self._queues.enqueue(step, token)
                self._drain_checks()

    # -- an attempt: started, claimed, done or timed out -------------------------

    def _start(self, step: StepRecord) -> None:
        spec = step.spec
        step.attempt += 1
        token = step.token = object()
        now = time.time()
        if step.started is None:
            step.started, step.mono_started = now, time.monotonic()
        step.log.append(AttemptInfo(number=step.attempt, started=now))
        step.state = State.RUNNING
        step.threads += 1
        self._queues.started(spec.executor)
        self._publish(ev.StepStarted(self._run, step=step.name, attempt=step.attempt))
        if spec.timeout is not None:
            self._loop.call_later(spec.timeout, self._timed_out, step, token)
        job = partial(run_attempt, self._host, self._cache, spec, step.attempt, step.force, self.digests,
                      partial(self._claim, step, token), self._ordering(spec), partial(_holds, step, token))
        job = partial(placed, partial(self._placed, step, token), job)
        self._queues.executors[spec.executor].submit(job, partial(self._attempt_done, step, token))

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

    def _placed(self, step: StepRecord, token: object, where: str) -> None:
        """The attempt's thread says where it runs: kept on its log entry (shown while it runs, and after)."""
        with self._lock:
            if step.token is token and step.log:
                step.log[-1] = replace(step.log[-1], where=where)

    def _claim(self, step: StepRecord, token: object) -> bool:
        """Called by an attempt before it writes its checkpoint: only the current attempt may."""
        with self._lock:
            if step.token is not token or step.state is not State.RUNNING:
                return False
            step.committing = True  # a timeout from now on no longer abandons it
            return True

    def _attempt_done(self, step: StepRecord, token: object, result: AttemptResult | None,
                      error: BaseException | None) -> None:
        with self._lock:
            step.threads -= 1
            current = step.token is token
            if current:
                self._attempt_over(step, result, error)
        if not current and result is not None and result.saved is not None and result.saved.path:
            # Cancelled or redefined while its checkpoint was written: an abandoned attempt never keeps one.
            cache, key = self._cache, result.key
            if cache is not None and key is not None:
                cache.discard(step.spec, key)

    def _attempt_over(self, step: StepRecord, result: AttemptResult | None, error: BaseException | None) -> None:
        executor = step.spec.executor
        self._queues.released(executor)
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
        self._queues.dispatch(executor)
        self._drain_checks()

    def _remember_digests(self, bound: Mapping[str, Any], result: AttemptResult) -> None:
        """Keep the digest of every value just bound, for its readers (see `readers.py`)."""
        self._readers.bound(self.digests, self._steps, bound, result.digests, result.outputs.deleted)

    def _timed_out(self, step: StepRecord, token: object) -> None:
        with self._lock:
            if step.token is not token or step.state is not State.RUNNING or step.committing:
                return
            step.token = None
            executor = step.spec.executor
            self._queues.released(executor)
            limit = format_duration(step.spec.timeout)
            error = TimeoutError(f"step {step.name!r}: attempt {step.attempt} timed out after {limit}")
            self._attempt_failed(step, error, timed_out=True)
            self._queues.dispatch(executor)
            self._drain_checks()

    # -- outcomes: success, retry, failure, and what a finish wakes -------------

    def _succeed(self, step: StepRecord, result: AttemptResult) -> None:
        self._close_attempt(step, None, False)
        step.outputs = tuple(result.outputs.values)
        step.key = result.key
        step.inputs = dict(result.inputs)
        self._readers.add(step.name, step.inputs)
        step.why = result.why
        for note in result.notes:
            self._publish(ev.StepWarning(self._run, step=step.name, message=note))
        restored = result.restored
        if restored is not None:
            step.provenance = {
                "checkpoint": restored.path, "size": restored.size, "load_seconds": restored.load_seconds,
                "original_seconds": restored.duration, "computed_at": restored.computed_at,
                "time_saved": restored.time_saved, "original_attempts": restored.attempts,
            }
            self._finish(step, State.RESTORED, ev.StepRestored(
                self._run, step=step.name, outputs=step.outputs, key=result.key, parts=result.parts,
                checkpoint=restored.path, size=restored.size, load_seconds=restored.load_seconds,
                original_seconds=restored.duration, time_saved=restored.time_saved,
                computed_at=restored.computed_at, why=result.why, displays=restored.displays,
                attempts=restored.attempts))
            return
        saved = result.saved
        written = saved is not None and saved.path is not None
        step.provenance = {"checkpoint": saved.path, "size": saved.size,
                           "write_seconds": saved.seconds} if saved is not None and written else {}
        step.not_restorable = saved.not_restorable if saved is not None else result.key_reason
        # The code's own run time, which its checkpoint records too (hashing and the write come on top).
        wall = time.monotonic() - (step.mono_started or time.monotonic())
        duration = step.seconds = result.seconds if result.seconds is not None else wall
        self._finish(step, State.SUCCEEDED, ev.StepSucceeded(
            self._run, step=step.name, attempts=step.attempt, duration=duration, outputs=step.outputs,
            key=step.key, parts=result.parts, checkpoint=step.provenance.get("checkpoint"),
            size=step.provenance.get("size"), write_seconds=step.provenance.get("write_seconds"),
            not_restorable=step.not_restorable, why=result.why, where=self._where(step)))

    def _attempt_failed(self, step: StepRecord, error: BaseException, timed_out: bool) -> None:
        spec = step.spec
        line, text = format_error(error)
        self._close_attempt(step, line, timed_out)
        self._publish(ev.AttemptFailed(
            self._run, step=step.name, attempt=step.attempt, error=line, traceback=text, timed_out=timed_out,
            where=self._where(step)))
        step.error, step.traceback = line, text
        if step.attempt < 1 + spec.retries and spec.retries_on(error):
            delay = spec.backoff.delay(step.attempt)
            step.state = State.RETRYING
            token = step.token = object()
            self._publish(ev.StepRetrying(self._run, step=step.name, attempt=step.attempt + 1, delay=delay))
            if delay > 0:
                self._loop.call_later(delay, self._due, step, token)
            else:
                self._queues.enqueue(step, token)
        else:
            self._finish(step, State.FAILED, ev.StepFailed(
                self._run, step=step.name, attempts=step.attempt, error=line, traceback=text))

    def _close_attempt(self, step: StepRecord, error: str | None, timed_out: bool) -> None:
        if step.log:
            last = step.log[-1]
            step.log[-1] = replace(last, ended=time.time(), error=error, timed_out=timed_out)

    @staticmethod
    def _where(step: StepRecord) -> str:
        return step.log[-1].where if step.log else ""

    def _finish(self, step: StepRecord, state: State, event: ev.StepEvent) -> None:
        """A terminal transition: publish, leave the active set, wake dependents."""
        step.state = state
        step.token = None
        step.ended, step.mono_ended = time.time(), time.monotonic()
        if getattr(event, "duration", 0.0) is None and step.mono_started is not None:
            event = replace(event, duration=step.mono_ended - step.mono_started)  # type: ignore[call-arg]
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

    def _abandon(self, step: StepRecord) -> None:
        """Drop the live attempt or timer of a step; its thread's result is ignored."""
        if step.state is State.RUNNING and step.token is not None:
            self._queues.released(step.spec.executor)
        step.token = None

    def _make_stale(self, name: str, reason: str) -> None:
        below = self._graph.descendants(name)
        for other in [name, *self._graph.ordered(below)]:
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
        self._queues.dispatch_all()

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


def _holds(step: StepRecord, token: object) -> bool:
    """Whether an attempt is still the step's current one: read without the lock, on every write the
    step's thread makes, so a cancel or timeout (which replace the token) stops it at its next print."""
    return step.token is token
