"""Whether the process that recorded a run is still alive: how an interrupted run is told from a running one.

A kernel killed mid-run (kill -9, a crash, the machine going down) never
writes its run's end, so by the rows alone the run and its unfinished steps
would be "running" forever. Each run row carries its writer's host, pid and
process start time; a reader on the same host checks that this process still
exists, is the same one (a pid can be reused) and is not a zombie (killed,
not yet reaped by its parent). A run from another host cannot be checked and
is shown as recorded.
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


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command (None where there is no /proc, or no such process)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    # Field 2 (the command) is in parentheses and may contain spaces: count from the last ')'.
    return data[data.rfind(b")") + 2:].split()


def _start_of(fields: list[bytes] | None) -> str | None:
    return fields[19].decode() if fields is not None and len(fields) > 19 else None


def _state_of(fields: list[bytes] | None) -> str | None:
    return fields[0].decode() if fields else None


def process_start(pid: int) -> str | None:
    """The process's start time from /proc (None where there is no /proc, or no such process)."""
    return _start_of(_stat(pid))


def process_state(pid: int) -> str | None:
    """The process's state letter from /proc (`R`, `S`, `Z` for a zombie...; None where there is none)."""
    return _state_of(_stat(pid))


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
    fields = _stat(pid)  # read once: its state and its start time
    # A killed process its parent has not reaped yet (a zombie, `Z`, or dying, `X`) still answers
    # kill(pid, 0), but it runs nothing: its run is over.
    if _state_of(fields) in ("Z", "X"):
        return True
    now = _start_of(fields)
    return started is not None and now is not None and now != started
