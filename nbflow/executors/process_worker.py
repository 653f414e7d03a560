"""The worker side of `--executor process`: what runs inside each worker process.

A worker serves one body at a time over its own pipe from the kernel
(`process_pool.py`): it receives a pickled job, runs it, and sends back what
the body prints (in pieces, at most every SEND_SECONDS) and displays
(`process_display.py`), and then the outcome,
all in order on that one pipe. A second pipe, the lifeline, is only ever read
by a watcher thread: the kernel never writes to it, so its end of file means
the kernel closed it or died (even by SIGKILL), and the worker exits at once,
mid-body or not.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import signal
import threading
import time
import traceback
from typing import Any

import cloudpickle

from ..core.executor import RemoteFailure, RemoteResult
from ..core.namespace import step_filename
from .process_display import install as install_display

#: how often a worker sends what its body printed, and the most it holds before sending
SEND_SECONDS = 0.05
SEND_CHARS = 64 * 1024


class _Channel:
    """The worker's end of its pipe; both the body's thread and the sender thread write to it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self.lock:
            self.conn.send_bytes(cloudpickle.dumps(message))


class _Printed:
    """Both streams of one body, in the order written, sent back in pieces."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._pieces: list[tuple[str, str]] = []
        self._size = 0
        self._sent = time.monotonic()
        self._ended = False

    def write(self, name: str, text: str) -> None:
        with self._lock:
            self._pieces.append((name, text))
            self._size += len(text)
            due = self._size >= SEND_CHARS or time.monotonic() - self._sent >= SEND_SECONDS
        if due:
            self.send()

    def send(self) -> None:
        with self._lock:
            pieces, self._pieces, self._size, self._sent = self._pieces, [], 0, time.monotonic()
            if pieces and not self._ended:  # under the lock: no piece can follow the outcome
                self._channel.send(("printed", pieces))

    def display(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        """A rich display, after what was printed before it."""
        self.send()
        with self._lock:
            if not self._ended:
                self._channel.send(("display", data, metadata))

    def end(self, outcome: tuple[Any, ...]) -> None:
        """Send what is left, then the outcome; later writes (a thread the body left behind) are dropped."""
        self.send()
        with self._lock:
            self._ended = True
            self._channel.send(outcome)


class _Stream:
    """sys.stdout / sys.stderr in a worker while a body runs."""

    def __init__(self, printed: _Printed, name: str) -> None:
        self._printed, self._name = printed, name

    def write(self, text: str) -> int:
        if text:
            self._printed.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def worker_main(conn: Any, lifeline: Any) -> None:
    """A worker's life: watch the lifeline, then serve jobs until the pipe closes.

    SIGINT to the kernel's process group must not kill a worker mid-body;
    `%flow cancel` and timeouts stop a body by killing its worker instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(lifeline,), name="nbflow-lifeline", daemon=True).start()
    channel = _Channel(conn)
    current: list[_Printed | None] = [None]
    install_display(lambda data, metadata: _display(current, data, metadata))
    threading.Thread(target=_send_pending, args=(current,), name="nbflow-printed", daemon=True).start()
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        printed = current[0] = _Printed(channel)
        outcome = _run(payload, printed)
        current[0] = None
        printed.end(outcome)


def _display(current: list[_Printed | None], data: dict[str, Any], metadata: dict[str, Any]) -> None:
    printed = current[0]
    if printed is not None:
        printed.display(data, metadata)


def _watch(lifeline: Any) -> None:
    """Exit the moment the kernel's end of the lifeline closes: it wrote nothing, so a read ends only then."""
    with contextlib.suppress(BaseException):
        lifeline.recv_bytes()
    os._exit(0)


def _send_pending(current: list[_Printed | None]) -> None:
    """What a body printed goes out within SEND_SECONDS even if it prints nothing more."""
    while True:
        time.sleep(SEND_SECONDS)  # a timer tick, not a barrier
        printed = current[0]
        if printed is not None:
            printed.send()


def _run(payload: bytes, printed: _Printed) -> tuple[Any, ...]:
    """Run the body over its inputs; the message to send back (an outcome, or an output that cannot go)."""
    name, body, inputs, output_names = cloudpickle.loads(payload)
    scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__, **inputs}
    out, err = _Stream(printed, "stdout"), _Stream(printed, "stderr")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if callable(body):
                scope[name] = body(**inputs)
            else:
                filename = step_filename(name)
                # So the remote traceback shows the step's lines, as the kernel's does.
                linecache.cache[filename] = (len(body), None, body.splitlines(True), filename)
                exec(compile(body, filename, "exec"), scope)
    except Exception as error:
        tb = error.__traceback__.tb_next if error.__traceback__ else None  # not this frame
        text = "".join(traceback.format_exception(type(error), error, tb))
        failure = RemoteFailure(type(error).__name__, str(error), text, where=_where())
        try:
            sent = cloudpickle.dumps(error)
        except Exception:
            sent = None
        return ("failed", failure, sent)
    outputs = {n: scope[n] for n in output_names if n in scope}
    try:
        return ("done", cloudpickle.dumps(RemoteResult(outputs, where=_where())))
    except Exception:
        return ("unsendable", *culprit(outputs))


def culprit(values: dict[str, Any]) -> tuple[str, str]:
    """The first value that does not pickle, and why (all of them pickled together failed)."""
    for name in sorted(values):
        try:
            cloudpickle.dumps(values[name])
        except Exception as error:
            return name, reason(error)
    return ", ".join(sorted(values)), "they do not pickle together"


def reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _where() -> str:
    return f"process pid {os.getpid()}"
