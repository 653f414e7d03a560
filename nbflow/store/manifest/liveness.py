"""Whether the process that recorded a run is still alive: how an interrupted run is told from a running one.

A kernel killed mid-run (kill -9, a crash, the machine going down) never
writes its run's end, so by the rows alone the run and its unfinished steps
would be "running" forever. Each run row carries its writer's host, pid and
process start time; a reader on the same host checks that this process still
exists and is the same one (a pid can be reused). A run from another host
cannot be checked and is shown as recorded.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Writer:
    """Who records a run: enough to tell later whether that process is gone."""

    host: str
    pid: int
    started: str | None  # the process start time as the system counts it (Linux: clock ticks since boot)


@lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


def process_start(pid: int) -> str | None:
    """The process's start time from /proc (None where there is no /proc, or no such process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    # Field 2 (the command) is in parentheses and may contain spaces: count from the last ')'.
    fields = data[data.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None


def this_writer() -> Writer:
    pid = os.getpid()
    return Writer(_host(), pid, process_start(pid))


def is_gone(host: str | None, pid: int | None, started: str | None) -> bool:
    """True when the writer surely no longer runs: same host, and no such process or another one with that pid."""
    if host is None or pid is None or host != _host():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, owned by someone else
    now = process_start(pid)
    return started is not None and now is not None and now != started
