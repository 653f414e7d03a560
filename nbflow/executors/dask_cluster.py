"""Which Dask cluster `--executor dask` uses, and the one nbflow starts when there is none.

The README's order ("Beyond one machine"): the `dask_address` setting
(`%flow config dask_address=tcp://host:8786`), else `DASK_SCHEDULER_ADDRESS`,
else a `distributed.Client` given to the executor or already made in the
kernel (`distributed.default_client()`), else a `LocalCluster` sized to the
machine, started on first use and closed with the flow. It is resolved again
for every attempt, so changing `dask_address` takes effect at the next
attempt. Clients nbflow opens are never made the default client, and
nbflow closes only what it opened: a user's client or cluster is left alone.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import NbflowError

INSTALL = "pip install 'jupyter-nbflow[dask]'"
#: How long connecting to a scheduler may take before the attempt fails (seconds).
CONNECT_TIMEOUT = 10.0


class DaskUnavailable(NbflowError, RuntimeError):
    """`--executor dask` cannot run: dask.distributed is missing, or the scheduler cannot be reached."""


def require_distributed() -> Any:
    """The `distributed` module, or a one-line DaskUnavailable saying how to install it."""
    try:
        import distributed
    except ImportError as error:
        raise DaskUnavailable(f"--executor dask needs dask.distributed, which is not installed here "
                              f"({error}); install it with: {INSTALL}") from None
    return distributed


@dataclass(frozen=True)
class Cluster:
    """The client steps go to, what it is (for messages) and its worker threads."""

    client: Any
    label: str
    threads: int


class Connection:
    """Finds the client for each attempt; owns the clients and the LocalCluster it opened."""

    def __init__(self, address: Callable[[], str | None], client: Any = None,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self._address = address
        self._given = client
        self._timeout = connect_timeout
        self._lock = threading.Lock()
        self._opened: dict[str, Cluster] = {}  # address -> a client nbflow connected
        self._local: Cluster | None = None
        self._local_cluster: Any = None
        self._seen: Cluster | None = None  # the last client nbflow did not open, described
        self._closed = False

    def get(self, say: Callable[[str], None]) -> Cluster:
        """The cluster for the next attempt; `say` shows one line under the step (a LocalCluster started)."""
        distributed = require_distributed()
        setting = self._address()
        address = setting or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        with self._lock:
            if self._closed:
                raise DaskUnavailable("the Dask executor is shut down (the flow was closed)")
            if address:
                source = "dask_address" if setting else "DASK_SCHEDULER_ADDRESS"
                return self._connect(distributed, address, source)
            if self._given is not None:
                return self._known(self._given, "the Dask client given to the executor")
            with contextlib.suppress(ValueError):
                client = distributed.default_client()
                if not _is_closed(client):
                    return self._known(client, "the kernel's Dask client")
            if self._local is None or _is_closed(self._local.client):
                self._start_local(distributed, say)
            assert self._local is not None
            return self._local

    def _known(self, client: Any, label: str) -> Cluster:
        """A client nbflow did not open, described once (asking its threads is a round trip)."""
        if self._seen is None or self._seen.client is not client:
            self._seen = _describe(client, label)
        return self._seen

    def _connect(self, distributed: Any, address: str, source: str) -> Cluster:
        found = self._opened.get(address)
        if found is not None and not _is_closed(found.client):
            return found
        try:
            client = distributed.Client(address, set_as_default=False, timeout=self._timeout)
        except Exception as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {address} (from {source}): {reason}") from None
        found = self._opened[address] = _describe(client, f"the Dask scheduler at {address}")
        return found

    def _start_local(self, distributed: Any, say: Callable[[str], None]) -> None:
        dashboard = importlib.util.find_spec("bokeh") is not None
        cluster = distributed.LocalCluster(processes=True, silence_logs=logging.ERROR,
                                           dashboard_address=":0")  # any free port: 8787 may be taken
        client = distributed.Client(cluster, set_as_default=False)
        self._local_cluster = cluster
        self._local = _describe(client, "a local Dask cluster")
        workers = len(cluster.workers)
        threads = self._local.threads
        link = f"dashboard: {cluster.dashboard_link}" if dashboard else "no dashboard (it needs bokeh)"
        say(f"nbflow: started a local Dask cluster for --executor dask ({workers} workers, {threads} threads); "
            f"{link}")

    def close(self, timeout: float = 5.0) -> None:
        """Close what nbflow opened (its clients, its LocalCluster); later attempts fail."""
        with self._lock:
            self._closed = True
            opened, self._opened = list(self._opened.values()), {}
            local, self._local = self._local, None
            cluster, self._local_cluster = self._local_cluster, None
        for found in [*opened, *([local] if local else [])]:
            with contextlib.suppress(Exception):
                found.client.close(timeout=timeout)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=timeout)


def _describe(client: Any, label: str) -> Cluster:
    try:
        threads = sum(client.nthreads().values())
    except Exception:
        threads = 0
    return Cluster(client, label, threads)


def _is_closed(client: Any) -> bool:
    return getattr(client, "status", "running") in ("closing", "closed")
