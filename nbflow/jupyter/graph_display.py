"""What a graph display (`%flow show`, `display(flow)`, the final `%flow wait`) puts in the notebook.

Interactively: the live widget's view, with the static drawing (SVG, PNG,
text table) beside it for front ends without widgets. In a batch run
(`nbflow run`, `papermill --engine nbflow`) the static drawing only: the
executed notebook is read after its kernel is gone, where a widget view is a
dead box whose buttons do nothing (see docs/guide/batch.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.flow import Flow
from ..core.protocol import BatchEnv


def graph_bundle(flow: Flow, widget: Callable[[], Any], *, batch: bool | None = None) -> dict[str, Any]:
    """The display bundle of `flow`'s graph; `widget()` makes (or finds) its live widget, unless in batch."""
    from ..widget.widget import static_bundle

    if BatchEnv.read().batch if batch is None else batch:
        return static_bundle(flow)
    return widget().bundle()
