"""`CodeAnalysis`, the answer, and how raw reads are sorted into it.

Both the exact walk and the rough fallback end here, so the treatment of
builtin names, of calls that read the namespace dynamically, and of the
modules the code imports is the same for both.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

# IPython puts these in `builtins` while a cell runs; list them so the answer does not
# depend on whether this module was first imported inside a kernel.
BUILTINS = frozenset(dir(builtins)) | {"display", "get_ipython", "__IPYTHON__"}
# Builtins through which code can read names the syntax tree does not show.
DYNAMIC = frozenset({"globals", "vars", "locals", "eval", "exec", "__import__"})


@dataclass(frozen=True)
class CodeAnalysis:
    """The names a step's code reads from and writes to the namespace it runs in."""

    inputs: frozenset[str]  # read before the step binds them (or read later, never bound)
    outputs: frozenset[str]  # bound at module level, on some path; never a `private` name
    deletes: frozenset[str]  # unbound at module level on some path (del, except-as); never `private`
    star_import: bool  # `from m import *`: outputs cannot be known from the code
    # Builtin names read and not bound by the step: inputs too when the namespace defines them.
    builtin_reads: frozenset[str] = frozenset()
    # Calls that read the namespace by other means (`globals()`, `eval`): what they read is unknown.
    dynamic: tuple[str, ...] = ()
    # Modules the code imports (absolute imports anywhere in it): local ones count with their content.
    imports: tuple[str, ...] = ()


def private(name: str) -> bool:
    """A name starting with `_` is the step's own scratch (`coef, *_ = fit()`): never bound in the namespace.

    So a step never overwrites IPython's `_`, `__`, `_1` or a user's helper,
    and never checkpoints or ships back a throwaway value.
    """
    return name.startswith("_")


def build(reads: set[str], outputs: frozenset[str], deletes: set[str], star: bool,
          tree: ast.Module) -> CodeAnalysis:
    """The analysis of `tree`, from the names its top level reads, binds and deletes."""
    builtin_reads = frozenset(n for n in reads if n not in outputs and n in BUILTINS)
    return CodeAnalysis(
        inputs=frozenset(n for n in reads if n in outputs or n not in BUILTINS),
        outputs=frozenset(n for n in outputs if not private(n)),
        deletes=frozenset(n for n in deletes if not private(n)),
        star_import=star,
        builtin_reads=builtin_reads,
        dynamic=tuple(sorted(builtin_reads & DYNAMIC)),
        imports=_imports(tree),
    )


def _imports(tree: ast.Module) -> tuple[str, ...]:
    """The modules `tree` imports absolutely, anywhere in it (function bodies too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return tuple(sorted(found))
