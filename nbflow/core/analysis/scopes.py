"""Scopes, and the names each one binds.

A name read inside a function, class body or comprehension resolves by
Python's scope rules before order matters at all; the walkers carry a stack of
`Scope`s, each filled in by a `Bindings` scan when the scope is entered.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from .syntax import Comprehension, defaults, import_name, operands

MODULE, CLASS, FUNCTION, COMPREHENSION, ANNOTATION = (
    "module",
    "class",
    "function",
    "comprehension",
    "annotation",  # the scope of PEP 695 type parameters
)


@dataclass(frozen=True)
class Scope:
    """One scope on a walker's stack; `key` tells class bodies apart in the immediate walk's state."""

    kind: str
    key: int = 0
    local: frozenset[str] = frozenset()
    declared_global: frozenset[str] = frozenset()
    declared_nonlocal: frozenset[str] = frozenset()


@dataclass
class Findings:
    """What the walkers have found so far; `analyze` turns it into a `CodeAnalysis`."""

    lazy_annotations: bool  # `from __future__ import annotations`
    reads: set[str] = field(default_factory=set)  # at run time, not bound yet
    deferred_reads: set[str] = field(default_factory=set)  # later, resolving to globals
    outputs: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    star_import: bool = False



class Bindings(ast.NodeVisitor):
    """The names a block binds in its own scope, and those it declares global/nonlocal."""

    def __init__(self, body: Iterable[ast.AST]) -> None:
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        for node in body:
            self.visit(node)

    def local(self) -> frozenset[str]:
        return frozenset(self.bound - self.declared_global - self.declared_nonlocal)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bound.add(node.id)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        for operand in operands(node):
            self.visit(operand)

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.declared_nonlocal.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        self.bound.update(import_name(a) for a in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.bound.update(a.asname or a.name for a in node.names if a.name != "*")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bound.add(node.name)
        for expr in (*node.decorator_list, *defaults(node.args)):
            self.visit(expr)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in defaults(node.args):
            self.visit(expr)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bound.add(node.name)
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expr)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bound.add(node.rest)
        self.generic_visit(node)

    def _comprehension(self, node: Comprehension) -> None:
        # Only assignment expressions bind in the enclosing scope (PEP 572).
        self.visit(node.generators[0].iter)
        stack: list[ast.AST] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.NamedExpr) and isinstance(current.target, ast.Name):
                self.bound.add(current.target.id)
            if isinstance(current, ast.Lambda):
                stack.extend(defaults(current.args))
            else:
                stack.extend(ast.iter_child_nodes(current))

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension
