"""nbflow: notebook cells as workflow steps, run by a background scheduler in the kernel."""

from ._version import __version__

__all__ = ["__version__"]
