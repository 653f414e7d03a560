"""Reading a notebook's `%%step` cells without a kernel (for `nbflow dag` and `load_notebook`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.analysis import parse
from ..core.errors import NbflowError
from ..core.graph import Graph
from ..core.header import parse_header
from ..core.spec import StepSpec

MAGIC = "%%step"


class NotebookError(NbflowError, ValueError):
    """A notebook file that cannot be read, or a step cell in it that is wrong."""


@dataclass(frozen=True)
class StepCell:
    index: int  # position among all cells, for messages
    cell_id: str | None
    header: str  # what follows `%%step` on the first line
    body: str  # IPython syntax already turned into Python


def read_notebook(path: str | Path) -> Any:
    """The notebook at `path` (nbformat v4), or a one-line NotebookError naming the file."""
    import nbformat

    path = Path(path)
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook") from None
    except Exception as error:
        raise NotebookError(f"{path}: not a readable notebook ({type(error).__name__}: {error})") from None


def _transform(body: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return str(TransformerManager().transform_cell(body)) if body.strip() else "pass\n"


def step_cells(nb: Any) -> list[StepCell]:
    """Every code cell that starts with `%%step`, in notebook order."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = cell.source.lstrip("\n")
        first, _, body = source.partition("\n")
        if first.split(maxsplit=1)[:1] != [MAGIC]:
            continue
        header = first[len(MAGIC):].strip()
        found.append(StepCell(index, cell.get("id"), header, _transform(body)))
    return found


def uses_nbflow(nb: Any) -> bool:
    """Whether the notebook loads nbflow's kernel extension (so a batch run must wait for steps)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and ("%%step" in cell.source or "%load_ext nbflow" in cell.source
                                         or "%flow" in cell.source):
            return True
    return False


def step_specs(nb: Any, path: str | Path = "notebook") -> list[StepSpec]:
    """The steps as specs; a bad header is a NotebookError naming the cell."""
    specs = []
    for cell in step_cells(nb):
        try:
            specs.append(parse_header(cell.header, cell.body, cell=cell.cell_id))
        except NbflowError as error:
            raise NotebookError(f"{path}, cell {cell.index + 1}: {error}") from None
    return specs


def notebook_graph(nb: Any, path: str | Path = "notebook") -> Graph:
    """The graph the `%%step` headers declare (later definitions of a name replace earlier ones)."""
    graph = Graph()
    specs = {spec.name: spec for spec in step_specs(nb, path)}
    pending = list(specs.values())
    # Add in dependency order so a step may name one defined further down.
    while pending:
        progressed = [s for s in pending if all(d in graph for d in s.deps)]
        if not progressed:
            missing = sorted({d for s in pending for d in s.deps if d not in specs})
            if missing:
                step = next(s.name for s in pending if set(s.deps) & set(missing))
                raise NotebookError(f"{path}: step {step!r} depends on unknown step {missing[0]!r}")
            progressed = pending[:1]  # a cycle: let the graph name it
        for spec in progressed:
            try:
                graph = graph.with_step(spec)
            except NbflowError as error:
                raise NotebookError(f"{path}: {error}") from None
            pending.remove(spec)
    return graph


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Assign):
        try:
            ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
        return True
    return False


def setup_code(nb: Any) -> str:
    """What `load_notebook` runs before any step: the parameters cell, and the
    imports, functions, classes and literal assignments (`calls = []`) of plain
    cells; never their other statements, which may be slow or have side effects."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith("%%"):
            continue
        code = _transform(cell.source)
        if "parameters" in cell.metadata.get("tags", []) or "injected-parameters" in cell.metadata.get("tags", []):
            parts.append(code)
            continue
        try:
            tree = parse(code)
        except SyntaxError:
            continue
        keep: list[ast.stmt] = [n for n in tree.body if _is_definition(n)]
        if keep:
            parts.append(ast.unparse(ast.Module(body=keep, type_ignores=[])))
    return "\n\n".join(parts)


def notebook_parameters(nb: Any) -> list[str] | None:
    """The names the cell tagged `parameters` assigns, in order (None: the notebook has no such cell).

    `nbflow run` checks `-p NAME` against them, so a misspelt parameter is
    refused instead of injected unread.
    """
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = parse(_transform(cell.source))
            except SyntaxError:
                return []
            names: list[str] = []
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                    if isinstance(node, ast.AnnAssign) else []
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and name.id not in names:
                            names.append(name.id)
            return names
    return None
