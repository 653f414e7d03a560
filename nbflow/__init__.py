"""nbflow: notebook cells as workflow steps, run by a background scheduler in the kernel.

`%load_ext nbflow` registers the `%%step` and `%flow` magics; `Flow` is the
same engine as a Python API. Heavy parts (IPython, widgets) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .batch.loader import load_notebook
    from .core.flow import Flow

__all__ = ["Flow", "__version__", "load_ipython_extension", "load_notebook", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    if name == "Flow":
        from .core.flow import Flow

        return Flow
    if name == "load_notebook":
        from .batch.loader import load_notebook

        return load_notebook
    raise AttributeError(f"module 'nbflow' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    from .jupyter.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .jupyter.extension import unload

    unload(ipython)
