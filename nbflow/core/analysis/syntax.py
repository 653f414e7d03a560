"""Small facts about syntax nodes that both the binding scan and the walkers need.

Each answers one question about one kind of node (which names a target binds,
which expressions of a signature run at definition time), so the walkers can
stay about order and scope.
"""

from __future__ import annotations

import ast

Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp


def has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.ImportFrom)
        and stmt.module == "__future__"
        and any(alias.name == "annotations" for alias in stmt.names)
        for stmt in tree.body
    )


def import_name(alias: ast.alias) -> str:
    """The name an `import` binds: `import a.b` binds `a`, `import a.b as c` binds `c`."""
    return alias.asname or alias.name.partition(".")[0]


def target_names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(target_names(e) for e in target.elts))
    return set()


def param_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def defaults(args: ast.arguments) -> list[ast.expr]:
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def annotation_exprs(args: ast.arguments, returns: ast.expr | None) -> list[ast.expr]:
    every = (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
    found = [a.annotation for a in every if a is not None and a.annotation is not None]
    return [*found, returns] if returns is not None else found


def type_params(node: ast.AST) -> list[ast.AST]:
    """PEP 695 type parameters (Python 3.12+); empty on older versions."""
    params: list[ast.AST] = getattr(node, "type_params", None) or []
    return params


def is_irrefutable(pattern: ast.pattern) -> bool:
    if isinstance(pattern, ast.MatchAs):
        return pattern.pattern is None or is_irrefutable(pattern.pattern)
    if isinstance(pattern, ast.MatchOr):
        return any(is_irrefutable(p) for p in pattern.patterns)
    return False


def operands(node: ast.BinOp) -> list[ast.expr]:
    """The operands of a chain like `a + b + c`, in evaluation order, without recursion."""
    rights: list[ast.expr] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp):
        rights.append(current.right)
        current = current.left
    return [current, *reversed(rights)]


def is_true_constant(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)

