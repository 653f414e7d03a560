"""The fallback for code nested too deeply to walk recursively.

`ast.parse` copes with nesting (hundreds of `elif`s, say) that the recursive
walkers cannot; rather than fail, such code gets an answer that errs only on
the safe side.
"""

from __future__ import annotations

import ast

from .result import CodeAnalysis, build
from .syntax import import_name


def rough(tree: ast.Module) -> CodeAnalysis:
    """For code nested too deeply to walk recursively (hundreds of `elif`s, say).

    Ignores order and scopes, so it only over-states: every name read anywhere is an
    input, every name bound or deleted anywhere an output or a delete.
    """
    reads: set[str] = set()
    bound: set[str] = set()
    deleted: set[str] = set()
    star = False
    for node in ast.walk(tree):  # iterative
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            else:
                reads.add(node.id)
            if isinstance(node.ctx, ast.Del):
                deleted.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Import):
            bound.update(import_name(a) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            star = star or any(a.name == "*" for a in node.names)
            bound.update(a.asname or a.name for a in node.names if a.name != "*")
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
            if isinstance(node, ast.ExceptHandler):
                deleted.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return build(reads, frozenset(bound), deleted, star, tree)
