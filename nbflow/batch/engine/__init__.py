"""The papermill engine (``papermill --engine nbflow``, and what ``nbflow run`` uses).

papermill loads its engines' entry points while it is first imported, so the
module the entry point names must not be the one importing papermill: this
package imports papermill first, and the entry point names `client`, which
papermill can then load whole. So ``import nbflow.batch.engine`` works with or
without papermill imported before it.
"""

import papermill  # noqa: F401  (first: see above)

from .client import NbflowEngine, kernel_environment

__all__ = ["NbflowEngine", "kernel_environment"]
