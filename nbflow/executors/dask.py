"""`--executor dask`: a step's body runs as a task on a Dask distributed cluster.

The attempt's bookkeeping (cache key, restore, checkpoint) stays in a kernel
thread, as for `--executor process`; only the body crosses. Its inputs are
cloudpickled here, one by one, so an input that cannot be sent is named; a
large one (at least `scatter_bytes`) is scattered to the cluster once and
kept there under its content digest, so several steps reading it, or one
step run again, do not send it again, and a changed value (a new digest) is
sent anew. Outputs and printed text come back and are bound and shown like a
thread step's. Which cluster: see `dask_cluster.py`. What runs on the worker:
`dask_task.py`, sent by value, so workers need no nbflow installed.

With `dask_store=shared` the worker also writes the step's checkpoint, with
nbflow's own writer (so there nbflow must be installed), under a staged name;
only a receipt comes back, and the attempt adopts the file once it is claimed
(`core/offload.py`, `store/shared.py`). If the worker cannot write it, the
kernel does, and says why under the step.

While the task runs, the kernel thread polls whether the scheduler still
wants the attempt; once it is cancelled or timed out, the task is cancelled
and its body interrupted on the worker (README: "Beyond one machine").
A worker that dies is Dask's to survive: it runs the task again elsewhere,
up to its `allowed-failures`; past that the attempt fails with `WorkerDied`,
which nbflow's `--retries` apply to.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import cloudpickle

from ..core.abandon import abandoned, stop_if_abandoned
from ..core.cache import Receipt
from ..core.digest import Unhashable, digest
from ..core.errors import NbflowError
from ..core.executor import RemoteFailure, RemoteResult
from ..core.fingerprints import DigestTable
from ..core.offload import Offer, current_offer
from ..core.threads import ThreadExecutor
from . import dask_task
from .dask_cluster import CONNECT_TIMEOUT, Cluster, Connection, DaskUnavailable, require_distributed

logger = logging.getLogger("nbflow")

cloudpickle.register_pickle_by_value(dask_task)

#: Inputs whose size (`dask.sizeof`) reaches this are scattered once rather than sent with each task.
SCATTER_BYTES = 1 << 20
#: How often a kernel thread waiting on a task checks that its attempt is still wanted (seconds).
POLL = 0.05

__all__ = ["DaskExecutor", "DaskUnavailable", "TransferError", "WorkerDied"]


class TransferError(NbflowError, TypeError):
    """An input that cannot be sent to a Dask worker, or an output that cannot come back."""


class WorkerDied(NbflowError, RuntimeError):
    """The Dask worker running a step died, and Dask gave up running the task again."""


class DaskExecutor:
    """Runs attempts' bookkeeping in kernel threads and their bodies as tasks on a Dask cluster.

    `address` is a scheduler address, or a callable giving the current one
    (the kernel passes its `dask_address` setting); `client` an existing
    `distributed.Client`. `max_workers` caps how many Dask steps run at once;
    by default it is the cluster's number of worker threads, so a step's
    `--timeout` counts while it runs, not while it queues on the cluster.
    `connect_timeout`: how long reaching a scheduler may take (seconds).
    `store` is `"local"` (the kernel writes each checkpoint) or `"shared"` (the
    worker does, on storage both reach), or a callable giving the current one
    (the kernel passes its `dask_store` setting).
    """

    name = "dask"

    def __init__(self, address: str | Callable[[], str | None] | None = None, *, client: Any = None,
                 max_workers: int | None = None, scatter_bytes: int = SCATTER_BYTES,
                 connect_timeout: float = CONNECT_TIMEOUT, store: str | Callable[[], str] = "local") -> None:
        self._fixed = max_workers
        self.capacity = max_workers or os.cpu_count() or 1
        self._threads = ThreadExecutor(self.capacity)
        self._connection = Connection(address if callable(address) else (lambda: address), client, connect_timeout)
        self.scatter_bytes = scatter_bytes
        self._store = store if callable(store) else (lambda: store)
        # Task tokens: unique on a cluster several kernels share, without a uuid4 (os.urandom) per attempt.
        self._prefix, self._tokens = uuid.uuid4().hex, itertools.count()
        self._digests: DigestTable | None = None
        self._lock = threading.Lock()
        self._cluster: Cluster | None = None
        self._scattered: dict[str, Any] = {}  # digest hex -> future of the pickled value, on self._cluster
        self._by_name: dict[str, str] = {}  # input name -> the digest hex it was last sent as
        self._running: dict[str, tuple[Any, Any]] = {}  # token -> (client, future) of each task in flight
        #: how many inputs were scattered (sent to the cluster) so far
        self.scatters = 0

    # -- the Executor protocol ----------------------------------------------------

    def submit(self, job: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        self._threads.submit(job, done)

    def use_digests(self, table: DigestTable) -> None:
        """The flow's digest table: a large input's digest is usually there already (its step's key)."""
        self._digests = table

    def run(self, step: str, body: str | Callable[..., Any], inputs: Mapping[str, Any],
            output_names: frozenset[str]) -> RemoteResult | RemoteFailure:
        """Run one step body as a Dask task (see `RemoteExecutor.run`)."""
        require_distributed()
        cluster = self._use(self._connection.get(_say))
        client = cluster.client
        try:
            body_blob = cloudpickle.dumps(body)
        except Exception as error:
            raise TransferError(f"step {step!r} cannot be sent to a Dask worker: {_reason(error)}",
                                step=step) from None
        sent = {name: self._pack(cluster, step, name, value) for name, value in inputs.items()}
        token = f"{self._prefix}{next(self._tokens)}"
        offer = current_offer() if self._store() == "shared" else None
        checkpoint = _checkpoint(offer)
        future = client.submit(dask_task.run_step, token, step, body_blob, sent, tuple(sorted(output_names)),
                               checkpoint, key=f"{step}-{token}", pure=False)
        with self._lock:
            self._running[token] = (client, future)
        try:
            self._wait(client, future, token)
            return self._unpack(step, future, offer)
        finally:
            with self._lock:
                self._running.pop(token, None)
            del future  # nothing of this attempt stays on the cluster

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the bodies still running, close the clients and the LocalCluster nbflow opened (not a
        user's), then the bookkeeping threads."""
        with self._lock:
            self._scattered.clear()
            self._by_name.clear()
            self._cluster = None
            running, self._running = list(self._running.items()), {}
        for token, (client, future) in running:  # on a cluster nbflow did not start, they would run on
            self._stop(client, future, token)
        self._connection.close(timeout)
        self._threads.shutdown(timeout)

    # -- one attempt ----------------------------------------------------------------

    def _use(self, cluster: Cluster) -> Cluster:
        """Switch to `cluster` if it is another one: what was scattered to the old one is not there."""
        with self._lock:
            if self._cluster is None or self._cluster.client is not cluster.client:
                self._scattered.clear()
                self._by_name.clear()
                self._cluster = cluster
                if self._fixed is None and cluster.threads:
                    self.capacity = cluster.threads
            return cluster

    def _pack(self, cluster: Cluster, step: str, name: str, value: Any) -> Any:
        """The pickled input, or for a large one the future of its pickled form on the cluster."""
        from dask.sizeof import sizeof

        try:
            large = sizeof(value) >= self.scatter_bytes
        except Exception:
            large = False
        if not large:
            return _dumps(step, name, value)
        key = self._digest(name, value)
        with self._lock:  # one scatter per value, however many steps want it at once
            if key is not None:
                held = self._scattered.get(key)
                if held is not None and held.client is cluster.client and held.status == "finished":
                    self._hold(name, key)
                    return held
            future = cluster.client.scatter(_dumps(step, name, value), hash=False)
            self.scatters += 1
            if key is not None and self._cluster is cluster:  # not if another attempt switched clusters
                self._scattered[key] = future
                self._hold(name, key)
            return future

    def _digest(self, name: str, value: Any) -> str | None:
        """The content digest of a large input: the flow's, when it keeps one for this object."""
        found = self._digests.lookup(name, value) if self._digests is not None else None
        if found is None:
            try:
                found = digest(value)
            except Unhashable:
                return None
        return found.hex

    def _hold(self, name: str, key: str) -> None:
        """`name` was sent as `key`; the value it was sent as before is dropped once no name holds it."""
        old = self._by_name.get(name)
        self._by_name[name] = key
        if old is not None and old != key and old not in self._by_name.values():
            self._scattered.pop(old, None)

    def _wait(self, client: Any, future: Any, token: str) -> None:
        """Block until the task ends; stop it (and raise AttemptAbandoned) once the attempt is given up."""
        finished = threading.Event()
        future.add_done_callback(lambda _: finished.set())
        while not finished.wait(POLL):
            if abandoned():
                self._stop(client, future, token)
                stop_if_abandoned()

    def _stop(self, client: Any, future: Any, token: str) -> None:
        """Interrupt the body on whichever worker runs it (and keep any from starting it), then cancel it."""
        with contextlib.suppress(Exception):
            client.run(dask_task.interrupt, token, on_error="ignore")
        with contextlib.suppress(Exception):
            future.cancel()

    def _unpack(self, step: str, future: Any, offer: Offer | None) -> RemoteResult | RemoteFailure:
        if future.status == "error":
            raise _task_error(step, future.exception()) from None
        outcome = future.result()
        kind = outcome[0]
        if kind == "ok":
            _, packed, stdout, stderr, where, saved = outcome
            logger.debug("nbflow: step %r ran on %s", step, where)
            if offer is not None and saved is not None:
                _receipt(offer, saved, where)
            outputs = {}
            for name, blob in packed.items():
                try:
                    outputs[name] = cloudpickle.loads(blob)
                except Exception as error:
                    return _transfer_failure(step, f"output {name!r} of step {step!r} cannot be loaded in the "
                                                   f"kernel: {_reason(error)}", stdout, stderr, where)
            return RemoteResult(outputs, stdout, stderr, where=where)
        if kind == "raised":
            _, (type_name, message, text), sent, stdout, stderr, where = outcome
            raised = None
            if sent is not None:
                with contextlib.suppress(Exception):  # e.g. its class is not importable here
                    raised = cloudpickle.loads(sent)
            return RemoteFailure(type_name, message, text, stdout, stderr,
                                 error=raised if isinstance(raised, BaseException) else None, where=where)
        if kind == "transfer":
            _, direction, name, reason, stdout, stderr, where = outcome
            if direction == "input":
                line = f"input {name!r} cannot be loaded on the Dask worker {where}: {reason}"
            else:
                line = (f"output {name!r} cannot come back from the Dask worker: {reason} "
                        f"(del it in the step, or call it _{name} to keep it the step's own)")
            return _transfer_failure(step, line, stdout, stderr, where)
        stop_if_abandoned()  # "stopped": interrupted because the attempt was given up
        raise NbflowError(f"step {step!r}: its Dask task was stopped ({outcome!r})", step=step)


def _checkpoint(offer: Offer | None) -> tuple[Any, ...] | None:
    """What the task needs to write the attempt's checkpoint on its worker (`dask_store=shared`).

    The writer carries the signing secret: it goes to the worker as an
    argument of the task, over Dask's own connection, and is written nowhere.
    """
    if offer is None:
        return None
    writer = offer.cache.shared_writer()
    if writer is None:  # checkpoints are off
        return None
    parts = tuple((p.kind, p.name, p.digest, p.detail) for p in offer.parts)
    return (cloudpickle.dumps(writer), offer.key, parts, offer.attempt)


def _receipt(offer: Offer, saved: tuple[str, Any], where: str) -> None:
    """What the worker said of the checkpoint, left on the offer for the attempt to adopt."""
    kind, found = saved
    if kind == "written":
        offer.receipt = Receipt(found["token"], found["size"], found["seconds"], found["digests"],
                                found["not_restorable"], found["written_by"])
    else:
        offer.notes.append(f"dask_store=shared: the Dask worker {where} could not write the checkpoint "
                           f"({found}); the kernel wrote it")


def _dumps(step: str, name: str, value: Any) -> bytes:
    try:
        return cloudpickle.dumps(value)
    except Exception as error:
        raise TransferError(f"input {name!r} cannot be sent to a Dask worker: {_reason(error)}",
                            step=step, name=name) from None


def _transfer_failure(step: str, line: str, stdout: str, stderr: str, where: str) -> RemoteFailure:
    """A failure with one line for a traceback: what could not travel says it all."""
    error = TransferError(line, step=step)
    return RemoteFailure("TransferError", line, f"TransferError: {line}\n", stdout, stderr, error=error,
                         where=where)


def _task_error(step: str, error: BaseException | None) -> BaseException:
    """An error of the task itself (not of the body): a dead worker named, the rest as they are."""
    from distributed import KilledWorker

    if isinstance(error, KilledWorker):
        worker = getattr(getattr(error, "last_worker", None), "address", None) or "?"
        tries = getattr(error, "allowed_failures", None)
        after = f" after {tries + 1} {'try' if tries == 0 else 'tries'}" if isinstance(tries, int) else ""
        return WorkerDied(f"step {step!r}: the Dask worker running it ({worker}) died, and Dask gave up{after}",
                          step=step, worker=worker)
    return error if error is not None else NbflowError(f"step {step!r}: its Dask task failed", step=step)


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return text or type(error).__name__


def _say(line: str) -> None:
    """A line under the running step's cell (the kernel routes this thread's output there)."""
    print(line, file=sys.stdout)
