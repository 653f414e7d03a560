"""`%load_ext nbflow`: register the magics, and nothing heavier.

The kernel's Flow, its store and its threads are created by the first
`%%step` or `%flow`, so loading the extension costs only the magics' import.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

from ..core.protocol import VIEW_METADATA
from . import warning_line
from .comm import lab_comms, register, unregister

if TYPE_CHECKING:
    from .kernel_flow import KernelFlow

_SHELL: Any = None
_ACTIVE: KernelFlow | None = None


def kernel_flow() -> KernelFlow:
    """This kernel's KernelFlow, created on first use."""
    global _ACTIVE
    if _ACTIVE is None:
        from .kernel_flow import KernelFlow

        if _SHELL is None:
            raise RuntimeError("nbflow is not loaded: run %load_ext nbflow")
        _ACTIVE = KernelFlow(_SHELL)
        comms = lab_comms()
        if comms is not None:  # the JupyterLab extension's badges follow this flow (docs/guide/jupyterlab.md)
            comms.attach(_ACTIVE.flow)
    return _ACTIVE


def is_active(shell: Any) -> bool:
    """Whether nbflow runs a flow in `shell`: loaded there, and a `%%step` or `%flow` has created its flow.

    A batch run asks the kernel this (`core/protocol.py`'s ACTIVE_PROBE)
    before it appends the final `%flow wait`.
    """
    return shell is not None and shell is _SHELL and _ACTIVE is not None


def load(shell: Any) -> None:
    """`%load_ext nbflow`."""
    global _SHELL
    if _SHELL is shell:
        return
    from .magics import FlowMagics

    _SHELL = shell
    shell.register_magics(FlowMagics(shell, kernel_flow))
    warning_line.install()  # an NbflowWarning is one `nbflow: …` line under the cell
    register(shell)  # the `nbflow` comm target: a front end asking now gets its snapshot
    # Displaying a Flow (Python API) shows its live graph; registered by name so
    # nothing heavy is imported until a Flow is actually displayed.
    formatter = shell.display_formatter.ipython_display_formatter
    formatter.for_type_by_name("nbflow.core.flow", "Flow", _display_flow)


def _display_flow(flow: Any) -> None:
    from IPython.display import display

    from ..widget import flow_widget
    from .graph_display import graph_bundle

    display(graph_bundle(flow, lambda: flow_widget(flow, namespace=flow.namespace)), raw=True, metadata=VIEW_METADATA)


def unload(shell: Any) -> None:
    """`%unload_ext nbflow`: cancel running steps, stop threads, restore streams."""
    global _ACTIVE, _SHELL
    unregister()
    if _ACTIVE is not None:
        with contextlib.suppress(Exception):
            _ACTIVE.close()
        _ACTIVE = None
    magics = shell.magics_manager.magics
    magics["cell"].pop("step", None)
    magics["line"].pop("flow", None)
    _SHELL = None
    warning_line.uninstall()
    print("nbflow unloaded", file=sys.stderr)
