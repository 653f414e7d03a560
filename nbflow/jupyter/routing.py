"""Which step a thread's output belongs to: stdout, stderr and display() routed per thread.

`OutputRouter.install` replaces `sys.stdout`, `sys.stderr` and the shell's
display publisher once; a step's thread runs under `capture(sink)`, and its
writes go to that step's `StepSink` (`output.py`) instead of the cell that
happens to be executing. Every other thread (the kernel's own cells) writes
to the original streams as before.

Output written while the cycle collector runs is not the step's, even on a
step's thread: finalizers of any object (asyncio's "Task was destroyed but
it is pending!", a socket's ResourceWarning) run in whichever thread the
collection happens to start in. It goes to the kernel's own streams, so it
is never saved with the step's checkpoint nor replayed when it is restored.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # the router only hands text to sinks; it never makes one
    from .output import StepSink


class _Stream:
    """A stand-in for sys.stdout/sys.stderr that sends a step thread's writes to its sink."""

    def __init__(self, router: OutputRouter, name: str, original: TextIO) -> None:
        self._router = router
        self._name = name
        self.original = original

    def write(self, text: str) -> int:
        sink = self._router.current()
        if sink is None:
            return self.original.write(text)
        sink.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        if self._router.current() is None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class OutputRouter:
    """Installs the per-thread routing of stdout, stderr and display()."""

    def __init__(self, shell: Any) -> None:
        self._shell = shell
        self._local = threading.local()
        self._installed = False

    def current(self) -> StepSink | None:
        if getattr(self._local, "collecting", False):
            return None  # a finalizer's output, not the step's (see the module docstring)
        return getattr(self._local, "sink", None)

    def _on_collect(self, phase: str, info: dict[str, Any]) -> None:
        self._local.collecting = phase == "start"

    def install(self) -> None:
        if self._installed:
            return
        sys.stdout = _Stream(self, "stdout", sys.stdout)
        sys.stderr = _Stream(self, "stderr", sys.stderr)
        publisher = self._shell.display_pub
        original = publisher.publish

        def publish(data: dict[str, Any], metadata: dict[str, Any] | None = None, *args: Any, **kw: Any) -> None:
            sink = self.current()
            if sink is None:
                original(data, metadata, *args, **kw)
            else:
                sink.display(data, metadata)

        self._original_publish = original
        publisher.publish = publish
        gc.callbacks.append(self._on_collect)
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, _Stream):
                setattr(sys, name, stream.original)
        self._shell.display_pub.publish = self._original_publish
        if self._on_collect in gc.callbacks:
            gc.callbacks.remove(self._on_collect)
        self._installed = False

    @contextmanager
    def capture(self, sink: StepSink) -> Iterator[None]:
        """Route this thread's output to `sink` for the duration."""
        previous = self.current()
        self._local.sink = sink
        try:
            yield
        finally:
            self._local.sink = previous
            sink.flush()
