"""Where the kernel's steps run and which notebook the kernel is serving.

`KernelHost` is the core's `NamespaceHost` over the user namespace, with each
attempt's output captured into its step's sink (`output.py`) and labelled.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.namespace import NamespaceHost, Outputs, format_error
from ..core.protocol import NOTEBOOK
from ..core.spec import StepSpec
from . import attempts
from .replay import Mark, keep

if TYPE_CHECKING:
    from .kernel_flow import KernelFlow


def notebook_path() -> Path | None:
    """The notebook's path: Jupyter Server (or a batch run) tells the kernel via JPY_SESSION_NAME."""
    session = NOTEBOOK.read()
    if session:
        path = Path(session)
        if path.suffix == ".ipynb" and path.parent.is_dir():
            return path.resolve()
    return None


def notebook_dir() -> Path:
    """The notebook's folder, else the working directory (where kernels start)."""
    path = notebook_path()
    return path.parent if path is not None else Path.cwd()



class KernelHost(NamespaceHost):
    """Runs steps over the user namespace, with each step's output captured to its sink."""

    def __init__(self, namespace: MutableMapping[str, Any], kernel_flow: KernelFlow) -> None:
        super().__init__(namespace)
        self._kernel_flow = kernel_flow

    def execute(self, spec: StepSpec, attempt: int = 1, scope: dict[str, Any] | None = None) -> Outputs:
        """Run with the thread's output going to the step's sink, labelled per attempt.

        Labels and tracebacks are written here, on the step's own thread, so
        they interleave correctly with what the attempt prints.
        """
        sink = self._kernel_flow.sink(spec.name)
        attempts.begin(sink, spec, attempt)
        mark = Mark(sink)
        with self._kernel_flow.router.capture(sink):
            try:
                outputs = super().execute(spec, attempt, scope)
                return replace(outputs, displays=keep(mark.since()))  # saved with the checkpoint
            except Exception as error:
                line, text = format_error(error)  # a remote failure's text is its remote traceback
                attempts.failed(sink, spec, attempt, line, error, text)
                if attempt < 1 + spec.retries and spec.retries_on(error):  # said here, before the next label
                    attempts.retrying(sink, spec.name, attempt + 1, spec.backoff.delay(attempt))
                raise
