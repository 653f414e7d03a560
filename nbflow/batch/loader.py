"""`nbflow.load_notebook`: a notebook's steps as a Flow, so a step can be tested under pytest."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from ..core.errors import NbflowError
from ..core.flow import Flow
from .cells import NotebookError, notebook_graph, read_notebook, setup_code


def load_notebook(path: str | Path, parameters: dict[str, Any] | None = None, **flow_options: Any) -> Flow:
    """A Flow with the notebook's `%%step` cells, without a kernel.

    Its namespace holds what the notebook defines outside steps (imports,
    functions, classes and the parameters cell), with `parameters` overriding
    the latter. `flow.run_step("clean", raw=...)` then runs one step;
    `flow.run(); flow.wait()` runs them all. Close it (or use `with`).
    """
    nb = read_notebook(path)
    graph = notebook_graph(nb, path)
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__main__"}
    code = setup_code(nb)
    if code:
        try:
            exec(compile(code, f"{Path(path).name} (setup)", "exec"), namespace)
        except Exception as error:
            raise NotebookError(f"{path}: running its imports and definitions failed: "
                                f"{type(error).__name__}: {error}") from None
    namespace.update(parameters or {})
    flow = Flow(namespace, **flow_options)
    try:
        for name in graph.topological_order():
            flow.define(graph[name])
    except NbflowError:
        flow.close()
        raise
    return flow
