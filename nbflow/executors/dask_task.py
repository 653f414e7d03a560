"""What runs on a Dask worker for one step: unpack the inputs, run the body, pack what comes back.

This module is sent to the workers *by value* (cloudpickle), so a cluster
needs no nbflow installed: it imports only the standard library and
cloudpickle (which Dask ships), and returns plain tuples that the kernel
side (`dask.py`) turns into nbflow's own types. State that must outlive one
task on a worker (the output capture, the running bodies) lives in one
synthetic module in `sys.modules`, since by-value functions do not share
their module's globals between tasks.

A worker runs several tasks at once in threads, so printed text is captured
per thread: `sys.stdout` and `sys.stderr` are replaced once, by streams that
write to the running body's buffer on a body's thread and to the worker's
own stream elsewhere.

A body the kernel gave up on (timed out, cancelled) is stopped by
`interrupt`: an asynchronous exception raised in its thread at its next
Python instruction (a long call into C, such as a `sleep`, finishes first),
so nothing it would do after that happens.
"""

from __future__ import annotations

import collections
import ctypes
import io
import linecache
import os
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import cloudpickle

_STATE = "_nbflow_dask_worker"
_CANCELLED_KEPT = 10_000
_DISPLAY_BYTES = 8 << 20  # what the kernel keeps of a step's output with its checkpoint (jupyter/replay.py)

# What a task returns (plain data, see the module docstring):
#   ("ok", {name: pickled value}, stdout, stderr, where, saved)
#       saved: None, ("written", receipt dict) or ("unavailable", reason) - see `_save`
#   ("raised", (type name, message, traceback), pickled exception or None, stdout, stderr, where)
#   ("transfer", kind, name, reason, stdout, stderr, where)   kind: "input" | "output"
#   ("stopped", where)


def _state() -> Any:
    """The worker's nbflow state, created once per worker process."""
    state = sys.modules.get(_STATE)
    if state is None:
        fresh = types.ModuleType(_STATE)
        vars(fresh).update(
            lock=threading.Lock(),
            running={},  # token -> ident of the thread running its body
            stopping=set(),  # running tokens an interrupt was sent to
            cancelled=collections.OrderedDict(),  # tokens given up on, recent ones: they must not start
            buffers=threading.local(),  # per thread: (stdout, stderr) of the body it runs
            Stopped=type("StepStopped", (BaseException,), {"__module__": _STATE}),
        )
        state = sys.modules.setdefault(_STATE, fresh)
        _capture(state)
    return state


class _ThreadStream:
    """`sys.stdout` / `sys.stderr` on a worker: the running body's buffer on its thread, else the old stream."""

    def __init__(self, inner: Any, local: threading.local, index: int) -> None:
        self._inner, self._local, self._index = inner, local, index
        self.nbflow_capture = True

    def _target(self) -> Any:
        pair = getattr(self._local, "pair", None)
        return self._inner if pair is None else pair[self._index]

    def write(self, text: str) -> int:
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty: the worker's stream's
        return getattr(self._inner, name)


def _capture(state: Any) -> None:
    with state.lock:
        if not getattr(sys.stdout, "nbflow_capture", False):
            sys.stdout = _ThreadStream(sys.stdout, state.buffers, 0)
        if not getattr(sys.stderr, "nbflow_capture", False):
            sys.stderr = _ThreadStream(sys.stderr, state.buffers, 1)


def _where() -> str:
    """The worker's address (its pid when not on a Dask worker)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return f"pid {os.getpid()}"


def run_step(token: str, step: str, body_blob: bytes, blobs: dict[str, bytes], output_names: tuple[str, ...],
             checkpoint: tuple[Any, ...] | None = None) -> tuple[Any, ...]:
    """The Dask task: run `step`'s body (code, or a function called with the inputs) and pack the result.

    With `checkpoint` (`dask_store=shared`: the pickled writer, the key, the
    key's parts, the attempt), the outputs are also saved here, by nbflow's
    own checkpoint writer, and only its receipt goes back with them.
    """
    state = _state()
    where = _where()
    try:
        with state.lock:
            if token in state.cancelled:  # given up on before it started here
                return ("stopped", where)
            state.running[token] = threading.get_ident()
        try:
            return _run(token, step, body_blob, blobs, output_names, state, where, checkpoint)
        finally:
            with state.lock:
                state.running.pop(token, None)
                if token in state.stopping:
                    state.stopping.discard(token)
                    # An interrupt sent as the body ended must not fire in Dask's own code.
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.get_ident()), None)
    except state.Stopped:
        return ("stopped", where)


def _run(token: str, step: str, body_blob: bytes, blobs: dict[str, bytes], output_names: tuple[str, ...],
         state: Any, where: str, checkpoint: tuple[Any, ...] | None) -> tuple[Any, ...]:
    out, err = io.StringIO(), io.StringIO()
    inputs: dict[str, Any] = {}
    for name, blob in blobs.items():
        try:
            inputs[name] = cloudpickle.loads(blob)
        except Exception as error:
            return ("transfer", "input", name, _reason(error), "", "", where)
    body = cloudpickle.loads(body_blob)
    scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__, **inputs}
    state.buffers.pair = (out, err)
    started = time.monotonic()
    try:
        if callable(body):
            scope[step] = body(**inputs)
        else:
            filename = f"<step {step}>"
            # So the remote traceback shows the step's lines, as the kernel's does.
            linecache.cache[filename] = (len(body), None, body.splitlines(True), filename)
            exec(compile(body, filename, "exec"), scope)
    except Exception as error:
        tb = error.__traceback__.tb_next if error.__traceback__ else None  # not this frame
        text = "".join(traceback.format_exception(type(error), error, tb))
        try:
            sent: bytes | None = cloudpickle.dumps(error)
        except Exception:
            sent = None
        return ("raised", (type(error).__name__, str(error), text), sent, out.getvalue(), err.getvalue(), where)
    finally:
        state.buffers.pair = None
    duration = time.monotonic() - started
    packed: dict[str, bytes] = {}
    for name in output_names:
        if name in scope:
            try:
                packed[name] = cloudpickle.dumps(scope[name])
            except Exception as error:
                return ("transfer", "output", name, _reason(error), out.getvalue(), err.getvalue(), where)
    saved = None
    if checkpoint is not None:
        values = {name: scope[name] for name in output_names if name in scope}
        saved = _save(checkpoint, token, step, values, scope, out.getvalue(), err.getvalue(), where, duration)
    return ("ok", packed, out.getvalue(), err.getvalue(), where, saved)


def _save(checkpoint: tuple[Any, ...], token: str, step: str, values: dict[str, Any], scope: dict[str, Any],
          stdout: str, stderr: str, where: str, duration: float) -> tuple[str, Any]:
    """Write the step's checkpoint here; ("written", receipt) or ("unavailable", why) - the kernel then
    writes it itself. The writer is nbflow's, so it needs nbflow importable on this worker."""
    writer_blob, key, parts, attempt = checkpoint
    try:
        writer = cloudpickle.loads(writer_blob)
    except Exception as error:
        return ("unavailable", f"nbflow cannot be imported on this worker: {_reason(error)}")
    displays = [{"output_type": "stream", "name": name, "text": _clip(text)}
                for name, text in (("stdout", stdout), ("stderr", stderr)) if text]
    try:
        receipt = writer(step, key, token, values, parts=parts, attempts=attempt, duration=duration,
                         displays=displays, live=scope, where=where)
    except Exception as error:
        return ("unavailable", f"{type(error).__name__}: {_reason(error)}")
    return ("written", receipt)


def _clip(text: str, limit: int = _DISPLAY_BYTES) -> str:
    """Printed text saved with the checkpoint (shown again on restore), within the kernel's own limit."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… {len(text) - limit} characters not saved with the checkpoint …\n{text[-half:]}"


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return text or type(error).__name__


def interrupt(token: str) -> bool:
    """Run on a worker (`Client.run`): stop the body of `token` if it runs here (True), and never start it."""
    state = _state()
    with state.lock:
        state.cancelled[token] = None
        while len(state.cancelled) > _CANCELLED_KEPT:
            state.cancelled.popitem(last=False)
        ident = state.running.get(token)
        if ident is None:
            return False
        state.stopping.add(token)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(state.Stopped))
        return True


def running() -> list[str]:
    """Run on a worker: the tokens of the bodies running there now (tests and diagnostics)."""
    state = _state()
    with state.lock:
        return sorted(state.running)


TASKS: tuple[Callable[..., Any], ...] = (run_step, interrupt, running)
