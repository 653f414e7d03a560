"""`Flow`: the Python API of nbflow, and what the magics, widget and CLI wrap.

Blocking and background forms of the same calls: `run` returns at once,
`wait` blocks (with a timeout), `wait_async` is awaitable from any event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import replace
from typing import Any, TypeVar, overload

from .cache import AttemptResult, Cache, Restored
from .errors import FlowFailed, FlowTimeout, StateError
from .events import Event, Subscriber, log_event
from .executor import Executor, RemoteExecutor, SharesDigests
from .fingerprints import DigestTable
from .freshness import Freshness
from .graph import Graph
from .header import parse_header
from .loop import LoopThread
from .namespace import MissingInput, NamespaceHost, parameters
from .scheduler import Host, Scheduler
from .spec import StepSpec, make_spec
from .states import State
from .status import StepStatus, format_table
from .why import Explanation

F = TypeVar("F", bound=Callable[..., Any])


class Flow:
    """Steps with dependencies, run in the background over a namespace dict.

    `namespace` is the dict code steps read and write (the kernel passes the
    user namespace); function steps get their parameters from it by name and
    their return value is bound under the step's name.

    `trust_digests=True` reuses a value's digest while it is the same object
    (see `fingerprints`): only for callers that report every change they make
    to the namespace outside steps (`before_change`/`after_change`), as the
    kernel extension does after each cell. By default each read is hashed.
    """

    def __init__(
        self,
        namespace: MutableMapping[str, Any] | None = None,
        *,
        max_workers: int | None = None,
        executors: Iterable[Executor] = (),
        host: Callable[[MutableMapping[str, Any]], Host] = NamespaceHost,
        cache: Cache | None = None,
        trust_digests: bool = False,
    ) -> None:
        from .threads import ThreadExecutor

        self.namespace: MutableMapping[str, Any] = {} if namespace is None else namespace
        self._loop = LoopThread()
        pool: dict[str, Executor] = {"thread": ThreadExecutor(max_workers)}
        for executor in executors:
            pool[executor.name] = executor
        self._executors = pool
        runner = host(self.namespace)
        if isinstance(runner, NamespaceHost):
            runner.remote.update({e.name: e for e in pool.values() if isinstance(e, RemoteExecutor)})
        self._scheduler = Scheduler(runner, pool, self._loop, cache, trust_digests)
        for executor in pool.values():
            if isinstance(executor, SharesDigests):
                executor.use_digests(self._scheduler.digests)
        self._freshness = Freshness(self._scheduler, self.namespace)
        self.cache = cache
        self._scheduler.bus.subscribe(log_event)
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- defining steps ------------------------------------------------------

    def add(self, name: str | StepSpec, body: str | Callable[..., Any] | None = None, /,
            **options: Any) -> StepSpec:
        """Add (or replace) a step from code, a function, or a ready spec."""
        spec = name if isinstance(name, StepSpec) else make_spec(name, body, **options)
        self._scheduler.define(spec)
        return spec

    def define(self, spec: StepSpec) -> bool:
        """Add or replace a step; False when the same definition is already there."""
        return self._scheduler.define(spec)

    def add_cell(self, header: str, body: str, cell: str | None = None) -> StepSpec:
        """Add a step from a `%%step` header line and its cell body."""
        spec = parse_header(header, body, cell=cell)
        self._scheduler.define(spec)
        return spec

    @overload
    def step(self, func: F, /) -> F: ...
    @overload
    def step(self, name: str | None = None, /, **options: Any) -> Callable[[F], F]: ...

    def step(self, name: Any = None, /, **options: Any) -> Any:
        """Decorator: `@flow.step` or `@flow.step("name", after="load", retries=3)`."""
        if callable(name):
            self.add(name.__name__, name)
            return name

        def register(func: F) -> F:
            self.add(name or func.__name__, func, **options)
            return func

        return register

    def remove(self, name: str) -> None:
        """Remove a step nothing depends on."""
        self._scheduler.remove(name)

    # -- running -------------------------------------------------------------

    def run(self, *names: str, force: bool = False, rerun_failed: bool = True) -> frozenset[str]:
        """Start in the background: every step not up to date, or `names` and what they need.

        `rerun_failed=False` leaves failed upstream steps alone (a new cell that
        depends on a failed step is blocked rather than re-running it).
        """
        return self._scheduler.run(names or None, force=force, rerun_failed=rerun_failed)

    def wait(self, *names: str, timeout: float | None = None, raise_on_failure: bool = True
             ) -> dict[str, StepStatus]:
        """Block until the steps (default: all) are finished; raise FlowFailed on failures."""
        done = threading.Event()
        waiter = self._scheduler.add_waiter(names or None, done.set)
        if not done.wait(timeout):
            self._scheduler.remove_waiter(waiter)
            unfinished = sorted(self._scheduler.active() & set(names or self._scheduler.graph))
            raise FlowTimeout(timeout or 0.0, unfinished)
        return self._outcome(names, raise_on_failure)

    async def wait_async(self, *names: str, timeout: float | None = None,
                         raise_on_failure: bool = True) -> dict[str, StepStatus]:
        """`wait` for an event loop: `await flow.wait_async()`."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def finished() -> None:
            loop.call_soon_threadsafe(settle)

        waiter = self._scheduler.add_waiter(names or None, finished)
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except asyncio.TimeoutError:
            self._scheduler.remove_waiter(waiter)
            unfinished = sorted(self._scheduler.active() & set(names or self._scheduler.graph))
            raise FlowTimeout(timeout or 0.0, unfinished) from None
        return self._outcome(names, raise_on_failure)

    def cancel(self, *names: str, downstream: bool = False) -> frozenset[str]:
        """Cancel active steps (all, the named ones, or with `downstream` their subtrees)."""
        return self._scheduler.cancel(names or None, downstream=downstream)

    def retry(self, name: str) -> frozenset[str]:
        """Run a failed step again, then its dependents."""
        return self._scheduler.retry(name)

    def restore(self, spec: StepSpec, key: str) -> bool:
        """Define `spec` and load its checkpoint for `key` without running it (resume).

        Returns False when there is no valid checkpoint; the step is then defined
        but pending.
        """
        if self.cache is None:
            raise StateError(spec.name, "restoring needs a checkpoint store (Flow(cache=...))")
        self.define(spec)
        found = self.cache.restore(spec, key, self.namespace)
        if not isinstance(found, Restored):
            return False
        self._scheduler.adopt(spec.name, AttemptResult(found.outputs, key, restored=found, digests=found.digests,
                                                       parts=found.parts))
        return True

    def run_step(self, name: str, /, **inputs: Any) -> dict[str, Any]:
        """Run one step's body now, on this thread, with `inputs`; return what it binds.

        For testing a step: no dependencies, retries, cache or events, and
        neither the flow's namespace nor its state changes. Names the step
        reads come from `inputs`, then the flow's namespace; one found in
        neither is a MissingInput error naming it.
        """
        spec = self.graph[name]
        scratch = {**self.namespace, **inputs}
        host = NamespaceHost(scratch)
        if spec.func is not None:
            needed = [p for p, required in parameters(spec.func) if required]
        else:
            needed = sorted(host.inputs_of(spec))
        for variable in needed:
            if variable not in scratch:
                raise MissingInput(name, variable, f" (pass run_step({name!r}, {variable}=...))")
        host.prepare(spec)
        return dict(host.execute(replace(spec, executor="thread")).values)

    def refresh(self, touched: Iterable[str] | None = None, *names: str) -> dict[str, str]:
        """Mark stale the finished steps whose inputs changed in the namespace: {step: reason}.

        Call it after changing the namespace outside any step; `touched` names
        what may have changed (None: compare every input by content).
        """
        return self._freshness.refresh(touched, names or None)

    def touched_by(self, code: str) -> set[str]:
        """The names a plain cell's `code` may change (for `before_change`/`after_change`)."""
        return self._freshness.touched_by(code)

    def before_change(self, touched: Iterable[str]) -> dict[str, bytes | None]:
        """Before changing names in the namespace outside any step: their digests (for `after_change`)."""
        return self._freshness.before_change(touched)

    def after_change(self, before: dict[str, bytes | None], touched: Iterable[str] = ()) -> dict[str, str]:
        """After the change: mark stale the readers of each name whose content changed; {step: reason}.

        `touched` (the names passed to `before_change`) also drops their kept digests.
        """
        return self._freshness.after_change(before, touched)

    def why(self, name: str) -> Explanation:
        """Will `name` be restored or re-run, and which part of its key decides (`.text()` says it)."""
        return self._freshness.explain(name)

    def invalidate(self, name: str) -> None:
        """Mark a step and everything downstream stale."""
        self._scheduler.invalidate(name)

    # -- observing -------------------------------------------------------------

    def status(self, *names: str) -> dict[str, StepStatus]:
        """Every step's status (state, attempts, times, error), dependencies first; or just `names`'.

        Asking for one step costs one step, not the whole flow (a cell's define asks).
        """
        return self._scheduler.status(names or None)

    def table(self) -> str:
        """`status()` as a plain-text table."""
        return format_table(list(self.status().values()))

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive every event, in order; returns a function that unsubscribes."""
        return self._scheduler.bus.subscribe(subscriber)

    def unsubscribe(self, subscriber: Callable[[Event], object]) -> None:
        self._scheduler.bus.unsubscribe(subscriber)

    @property
    def digests(self) -> DigestTable:
        """The digests of namespace values the flow keeps (see `fingerprints`)."""
        return self._scheduler.digests

    @property
    def graph(self) -> Graph:
        return self._scheduler.graph

    @property
    def steps(self) -> dict[str, StepSpec]:
        return dict(self._scheduler.graph.specs)

    @property
    def executors(self) -> tuple[str, ...]:
        """The `--executor` names this flow can run (a spec naming another is refused)."""
        return tuple(self._executors)

    @property
    def max_workers(self) -> int:
        return self._executors["thread"].capacity

    @max_workers.setter
    def max_workers(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"max_workers: expected a whole number >= 1, got {value!r}")
        self._scheduler.set_capacity("thread", value)

    # -- lifetime ----------------------------------------------------------------

    def set_cache(self, cache: Cache | None) -> None:
        """Use another checkpoint store from the next attempt on."""
        self.cache = cache
        self._scheduler.set_cache(cache)

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        """Run `callback` on nbflow's loop thread after `delay` seconds."""
        self._loop.call_later(delay, callback)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what runs, stop the loop and the worker threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._scheduler.close()
        self._loop.stop(timeout)
        for executor in self._executors.values():
            executor.shutdown(timeout)

    def __enter__(self) -> Flow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _outcome(self, names: tuple[str, ...], raise_on_failure: bool) -> dict[str, StepStatus]:
        statuses = self.status()
        if names:
            statuses = {n: statuses[n] for n in names}
        failures = {
            n: s.error or "failed"
            for n, s in statuses.items()
            if s.state is State.FAILED and self.graph[n].on_fail == "stop"
        }
        blocked = [n for n, s in statuses.items() if s.state is State.UPSTREAM_FAILED]
        if raise_on_failure and failures:
            raise FlowFailed(failures, blocked)
        return statuses


def _close_at_exit(ref: weakref.ref[Flow]) -> None:
    flow = ref()
    if flow is not None:
        flow.close(timeout=1.0)
