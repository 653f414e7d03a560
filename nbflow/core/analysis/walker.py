"""The walk over a step's syntax tree, and its half for code that runs later.

`Walker` knows every binding form and where each part of a construct runs
(decorators and defaults now, a function's body later); its subclasses decide
what a read means. `Deferred` is the simple one: in function and lambda bodies
only the scope a name resolves to matters, not the order of execution. The
immediate walk, which follows execution order, is in `immediate.py`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from .scopes import ANNOTATION, CLASS, COMPREHENSION, FUNCTION, MODULE, Bindings, Findings, Scope
from .syntax import (
    Comprehension,
    annotation_exprs,
    defaults,
    import_name,
    operands,
    param_names,
    target_names,
    type_params,
)


class Walker(ast.NodeVisitor):
    """What both walkers share: the binding forms, and where each construct's parts run."""

    def __init__(self, result: Findings, scopes: Sequence[Scope]) -> None:
        self.result = result
        self.scopes = list(scopes)

    # Name events, resolved differently by the two walkers.
    def _load(self, name: str) -> None:
        raise NotImplementedError

    def _bind(self, name: str, walrus: bool = False) -> None:
        raise NotImplementedError

    def _delete(self, name: str) -> None:
        raise NotImplementedError

    def _visit_all(self, nodes: Iterable[ast.AST]) -> None:
        for node in nodes:
            self.visit(node)

    def _defer(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        Deferred(self.result, self.scopes).function(node)

    def _enter_type_params(self, node: ast.AST) -> bool:
        """Opens the scope of `node`'s type parameters, if any; their bounds run later."""
        params = type_params(node)
        if not params:
            return False
        names = frozenset(str(getattr(p, "name", "")) for p in params)
        self.scopes.append(Scope(ANNOTATION, local=names))
        later = Deferred(self.result, self.scopes)
        for param in params:
            for attr in ("bound", "default_value"):
                expr = getattr(param, attr, None)
                if isinstance(expr, ast.AST):
                    later.visit(expr)
        return True

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id)
        else:
            self._delete(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target.id, walrus=True)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._load(node.target.id)
            self.visit(node.value)
            self._bind(node.target.id)
        else:
            self.visit(node.target)
            self.visit(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._visit_all(operands(node))

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                self.visit(key)
            self.visit(value)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(import_name(alias))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.result.star_import = True
            else:
                self._bind(alias.asname or alias.name)

    def visit_Global(self, node: ast.Global) -> None:
        """Declarations were collected when the scope was entered."""

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        """Declarations were collected when the scope was entered."""

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._visit_all(node.keys)
        self._visit_all(node.patterns)
        if node.rest:
            self._bind(node.rest)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_all(defaults(node.args))
        self._defer(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        self._visit_all(defaults(node.args))
        generic = self._enter_type_params(node)
        if not self.result.lazy_annotations:
            self._visit_all(annotation_exprs(node.args, node.returns))
        self._defer(node)
        if generic:
            self.scopes.pop()
        self._bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_TypeAlias(self, node: ast.AST) -> None:
        """`type X[T] = ...` (3.12+): binds X; the value is evaluated lazily."""
        name = getattr(node, "name", None)
        generic = self._enter_type_params(node)
        value = getattr(node, "value", None)
        if isinstance(value, ast.AST):
            Deferred(self.result, self.scopes).visit(value)
        if generic:
            self.scopes.pop()
        if isinstance(name, ast.Name):
            self._bind(name.id)

    def _comprehension(self, node: Comprehension) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # the first iterable runs in the enclosing scope
        local = frozenset().union(*(target_names(g.target) for g in generators))
        self.scopes.append(Scope(COMPREHENSION, local=local))
        for i, generator in enumerate(generators):
            if i:
                self.visit(generator.iter)
            self._visit_target_parts(generator.target)
            self._visit_all(generator.ifs)
        parts = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
        self._visit_all(parts)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    def _visit_target_parts(self, target: ast.expr) -> None:
        """The reads in a comprehension target (`obj.attr`, `a[i]`); its names are local."""
        if isinstance(target, ast.Starred):
            self._visit_target_parts(target.value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._visit_target_parts(element)
        elif not isinstance(target, ast.Name):
            self.visit(target)


class Deferred(Walker):
    """Code that runs later: only which scope each name resolves to matters, not order."""

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        body: list[ast.AST] = list(node.body) if isinstance(node.body, list) else [node.body]
        found = Bindings(body)
        self.scopes.append(
            Scope(
                FUNCTION,
                local=found.local() | param_names(node.args),
                declared_global=frozenset(found.declared_global),
                declared_nonlocal=frozenset(found.declared_nonlocal),
            )
        )
        self._visit_all(body)
        self.scopes.pop()

    def _is_global(self, name: str) -> bool:
        for depth, scope in enumerate(reversed(self.scopes)):
            if scope.kind == CLASS and depth > 0:
                if name == "__class__":  # the implicit cell of methods (zero-argument super)
                    return False
                continue  # a class body's names are not visible to the functions inside it
            if scope.kind == MODULE or name in scope.declared_global:
                return True
            if name in scope.local or name in scope.declared_nonlocal:
                return False
        return True

    def _load(self, name: str) -> None:
        if self._is_global(name):
            self.result.deferred_reads.add(name)

    def _binding_scope(self, walrus: bool) -> Scope:
        if walrus:
            return next(s for s in reversed(self.scopes) if s.kind != COMPREHENSION)
        return self.scopes[-1]

    def _bind(self, name: str, walrus: bool = False) -> None:
        scope = self._binding_scope(walrus)
        if scope.kind == MODULE or name in scope.declared_global:
            self.result.outputs.add(name)

    def _delete(self, name: str) -> None:
        scope = self.scopes[-1]
        if scope.kind == MODULE or name in scope.declared_global:
            self.result.deletes.add(name)
            self.result.deferred_reads.add(name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all(node.decorator_list)
        generic = self._enter_type_params(node)
        self._visit_all((*node.bases, *node.keywords))
        found = Bindings(node.body)
        self.scopes.append(Scope(CLASS, local=found.local(), declared_global=frozenset(found.declared_global)))
        self._visit_all(node.body)
        self.scopes.pop()
        if generic:
            self.scopes.pop()
        self._bind(node.name)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)
        # Annotations of local variables are never evaluated; in class bodies they are.
        if self.scopes[-1].kind == CLASS and not self.result.lazy_annotations:
            self.visit(node.annotation)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
            if node.name in self.scopes[-1].declared_global:
                self.result.deletes.add(node.name)
        self._visit_all(node.body)
