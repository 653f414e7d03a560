"""What a step's code reads from the namespace and what it binds there (SPEC §4).

Checkpoints save a step's outputs, isolated executors ship its inputs and bring its
outputs back, and the graph warns when a step reads another step's output without
depending on it. All of that is decided before the code runs, so it comes from the
syntax tree alone (stdlib `ast`, no execution, no IPython).

The rules, in short:

- Code that runs when the step runs (the module level, class bodies, comprehensions,
  decorators, default values, base classes, annotations) is followed in execution
  order. A name read there is an input unless every path to the read has bound it:
  branches of ``if``/``try``/``match`` are merged by intersection, a loop body may run
  zero times, ``raise``/``break``/``continue`` end a path. ``with`` bodies are taken to
  run to the end (a context manager that swallows exceptions is not seen).
- Code that runs later (function and lambda bodies) is resolved by scope only: a name
  there that resolves to a module global is an input unless the step binds it anywhere
  at top level (including through ``global`` in a function).
- Names in the ``builtins`` module (plus what IPython adds there) are not inputs unless
  the step binds that name itself.
- ``except E as e`` deletes ``e`` when the handler ends, so such names are outputs
  and deletes at once, like ``x = 1; del x``.
"""

from __future__ import annotations

import ast
import builtins
import functools
import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["CodeAnalysis", "analyze", "parse"]

# Python 3.11's `ast` module is not thread-safe: concurrent `ast.parse` calls can raise
# "SystemError: AST constructor recursion depth mismatch". Steps are analyzed from
# worker threads too, so every parse in nbflow goes through this lock.
_PARSE_LOCK = threading.RLock()


def parse(code: str) -> ast.Module:
    """`ast.parse` under nbflow's one parse lock."""
    with _PARSE_LOCK:
        return ast.parse(code)

# IPython puts these in `builtins` while a cell runs; list them so the answer does not
# depend on whether this module was first imported inside a kernel.
_BUILTINS = frozenset(dir(builtins)) | {"display", "get_ipython", "__IPYTHON__"}
# Builtins through which code can read names the syntax tree does not show.
DYNAMIC = frozenset({"globals", "vars", "locals", "eval", "exec", "__import__"})


@dataclass(frozen=True)
class CodeAnalysis:
    """The names a step's code reads from and writes to the namespace it runs in."""

    inputs: frozenset[str]  # read before the step binds them (or read later, never bound)
    outputs: frozenset[str]  # bound at module level, on some path
    deletes: frozenset[str]  # unbound at module level on some path (del, except-as)
    star_import: bool  # `from m import *`: outputs cannot be known from the code
    # Builtin names read and not bound by the step: inputs too when the namespace defines them.
    builtin_reads: frozenset[str] = frozenset()
    # Calls that read the namespace by other means (`globals()`, `eval`): what they read is unknown.
    dynamic: tuple[str, ...] = ()
    # Modules the code imports (absolute imports anywhere in it): local ones count with their content.
    imports: tuple[str, ...] = ()


def analyze(code: str) -> CodeAnalysis:
    """Inputs, outputs and deletes of `code`; a SyntaxError from `ast.parse` propagates."""
    try:
        return _analyze(code)
    except RecursionError:  # not cached: the caller's own stack depth may have caused it
        return _rough(parse(code))


@functools.lru_cache(maxsize=1024)
def _analyze(code: str) -> CodeAnalysis:
    tree = parse(code)
    result = _Result(lazy_annotations=_has_future_annotations(tree))
    _Immediate(result).run(tree.body)
    outputs = frozenset(result.outputs)
    return _result(result.reads | (result.deferred_reads - outputs), outputs, result.deletes, result.star_import,
                   tree)


def _imports(tree: ast.Module) -> tuple[str, ...]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return tuple(sorted(found))


def _result(reads: set[str], outputs: frozenset[str], deletes: set[str], star: bool,
            tree: ast.Module) -> CodeAnalysis:
    builtin_reads = frozenset(n for n in reads if n not in outputs and n in _BUILTINS)
    return CodeAnalysis(
        inputs=frozenset(n for n in reads if n in outputs or n not in _BUILTINS),
        outputs=outputs,
        deletes=frozenset(deletes),
        star_import=star,
        builtin_reads=builtin_reads,
        dynamic=tuple(sorted(builtin_reads & DYNAMIC)),
        imports=_imports(tree),
    )


def _rough(tree: ast.Module) -> CodeAnalysis:
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
            bound.update(_import_name(a) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            star = star or any(a.name == "*" for a in node.names)
            bound.update(a.asname or a.name for a in node.names if a.name != "*")
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
            if isinstance(node, ast.ExceptHandler):
                deleted.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return _result(reads, frozenset(bound), deleted, star, tree)


# --------------------------------------------------------------------------- model

# The names definitely bound at a point of execution, as (scope key, name); key 0 is
# the module, class bodies get their own keys. None: the point cannot be reached.
_State = frozenset[tuple[int, str]] | None

_Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp

_MODULE, _CLASS, _FUNCTION, _COMPREHENSION, _ANNOTATION = (
    "module",
    "class",
    "function",
    "comprehension",
    "annotation",  # the scope of PEP 695 type parameters
)


@dataclass(frozen=True)
class _Scope:
    kind: str
    key: int = 0
    local: frozenset[str] = frozenset()
    declared_global: frozenset[str] = frozenset()
    declared_nonlocal: frozenset[str] = frozenset()


@dataclass
class _Result:
    lazy_annotations: bool  # `from __future__ import annotations`
    reads: set[str] = field(default_factory=set)  # at run time, not bound yet
    deferred_reads: set[str] = field(default_factory=set)  # later, resolving to globals
    outputs: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    star_import: bool = False


@dataclass
class _Loop:
    breaks: list[_State] = field(default_factory=list)
    continues: list[_State] = field(default_factory=list)


@dataclass(eq=False)  # removed from a list by identity
class _Observer:
    """The intersection of the states seen while it is active (for `try`)."""

    state: _State


def _meet(*states: _State) -> _State:
    reachable = [s for s in states if s is not None]
    if not reachable:
        return None
    return frozenset.intersection(*reachable)


# --------------------------------------------------------------------------- helpers


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.ImportFrom)
        and stmt.module == "__future__"
        and any(alias.name == "annotations" for alias in stmt.names)
        for stmt in tree.body
    )


def _import_name(alias: ast.alias) -> str:
    """The name an `import` binds: `import a.b` binds `a`, `import a.b as c` binds `c`."""
    return alias.asname or alias.name.partition(".")[0]


def _target_names(target: ast.expr) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(e) for e in target.elts))
    return set()


def _params(args: ast.arguments) -> set[str]:
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _defaults(args: ast.arguments) -> list[ast.expr]:
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def _annotations(args: ast.arguments, returns: ast.expr | None) -> list[ast.expr]:
    every = (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg)
    found = [a.annotation for a in every if a is not None and a.annotation is not None]
    return [*found, returns] if returns is not None else found


def _type_params(node: ast.AST) -> list[ast.AST]:
    """PEP 695 type parameters (Python 3.12+); empty on older versions."""
    params: list[ast.AST] = getattr(node, "type_params", None) or []
    return params


def _is_irrefutable(pattern: ast.pattern) -> bool:
    if isinstance(pattern, ast.MatchAs):
        return pattern.pattern is None or _is_irrefutable(pattern.pattern)
    if isinstance(pattern, ast.MatchOr):
        return any(_is_irrefutable(p) for p in pattern.patterns)
    return False


def _operands(node: ast.BinOp) -> list[ast.expr]:
    """The operands of a chain like `a + b + c`, in evaluation order, without recursion."""
    rights: list[ast.expr] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp):
        rights.append(current.right)
        current = current.left
    return [current, *reversed(rights)]


def _is_true_constant(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


class _Bindings(ast.NodeVisitor):
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
        for operand in _operands(node):
            self.visit(operand)

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.declared_nonlocal.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        self.bound.update(_import_name(a) for a in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.bound.update(a.asname or a.name for a in node.names if a.name != "*")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bound.add(node.name)
        for expr in (*node.decorator_list, *_defaults(node.args)):
            self.visit(expr)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in _defaults(node.args):
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

    def _comprehension(self, node: _Comprehension) -> None:
        # Only assignment expressions bind in the enclosing scope (PEP 572).
        self.visit(node.generators[0].iter)
        stack: list[ast.AST] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.NamedExpr) and isinstance(current.target, ast.Name):
                self.bound.add(current.target.id)
            if isinstance(current, ast.Lambda):
                stack.extend(_defaults(current.args))
            else:
                stack.extend(ast.iter_child_nodes(current))

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


# --------------------------------------------------------------------------- walkers


class _Walker(ast.NodeVisitor):
    """What both walkers share: the binding forms, and where each construct's parts run."""

    def __init__(self, result: _Result, scopes: Sequence[_Scope]) -> None:
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
        _Deferred(self.result, self.scopes).function(node)

    def _enter_type_params(self, node: ast.AST) -> bool:
        """Opens the scope of `node`'s type parameters, if any; their bounds run later."""
        params = _type_params(node)
        if not params:
            return False
        names = frozenset(str(getattr(p, "name", "")) for p in params)
        self.scopes.append(_Scope(_ANNOTATION, local=names))
        later = _Deferred(self.result, self.scopes)
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
        self._visit_all(_operands(node))

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                self.visit(key)
            self.visit(value)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(_import_name(alias))

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
        self._visit_all(_defaults(node.args))
        self._defer(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        self._visit_all(_defaults(node.args))
        generic = self._enter_type_params(node)
        if not self.result.lazy_annotations:
            self._visit_all(_annotations(node.args, node.returns))
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
            _Deferred(self.result, self.scopes).visit(value)
        if generic:
            self.scopes.pop()
        if isinstance(name, ast.Name):
            self._bind(name.id)

    def _comprehension(self, node: _Comprehension) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # the first iterable runs in the enclosing scope
        local = frozenset().union(*(_target_names(g.target) for g in generators))
        self.scopes.append(_Scope(_COMPREHENSION, local=local))
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


class _Deferred(_Walker):
    """Code that runs later: only which scope each name resolves to matters, not order."""

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        body: list[ast.AST] = list(node.body) if isinstance(node.body, list) else [node.body]
        found = _Bindings(body)
        self.scopes.append(
            _Scope(
                _FUNCTION,
                local=found.local() | _params(node.args),
                declared_global=frozenset(found.declared_global),
                declared_nonlocal=frozenset(found.declared_nonlocal),
            )
        )
        self._visit_all(body)
        self.scopes.pop()

    def _is_global(self, name: str) -> bool:
        for depth, scope in enumerate(reversed(self.scopes)):
            if scope.kind == _CLASS and depth > 0:
                if name == "__class__":  # the implicit cell of methods (zero-argument super)
                    return False
                continue  # a class body's names are not visible to the functions inside it
            if scope.kind == _MODULE or name in scope.declared_global:
                return True
            if name in scope.local or name in scope.declared_nonlocal:
                return False
        return True

    def _load(self, name: str) -> None:
        if self._is_global(name):
            self.result.deferred_reads.add(name)

    def _binding_scope(self, walrus: bool) -> _Scope:
        if walrus:
            return next(s for s in reversed(self.scopes) if s.kind != _COMPREHENSION)
        return self.scopes[-1]

    def _bind(self, name: str, walrus: bool = False) -> None:
        scope = self._binding_scope(walrus)
        if scope.kind == _MODULE or name in scope.declared_global:
            self.result.outputs.add(name)

    def _delete(self, name: str) -> None:
        scope = self.scopes[-1]
        if scope.kind == _MODULE or name in scope.declared_global:
            self.result.deletes.add(name)
            self.result.deferred_reads.add(name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all(node.decorator_list)
        generic = self._enter_type_params(node)
        self._visit_all((*node.bases, *node.keywords))
        found = _Bindings(node.body)
        self.scopes.append(_Scope(_CLASS, local=found.local(), declared_global=frozenset(found.declared_global)))
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
        if self.scopes[-1].kind == _CLASS and not self.result.lazy_annotations:
            self.visit(node.annotation)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
            if node.name in self.scopes[-1].declared_global:
                self.result.deletes.add(node.name)
        self._visit_all(node.body)


class _Immediate(_Walker):
    """Code that runs when the step runs, followed in execution order.

    `state` holds the names bound on every path to the current point; a read of a
    module name that is not in it is an input.
    """

    def __init__(self, result: _Result) -> None:
        super().__init__(result, [_Scope(_MODULE)])
        self.state: _State = frozenset()
        self.loops: list[_Loop] = []
        self.observers: list[_Observer] = []
        self._keys = itertools.count(1)

    def run(self, body: Sequence[ast.stmt]) -> None:
        self._walk(body)

    # ----------------------------------------------------------------- state

    def _walk(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            self._observe()
            self.visit(stmt)
        self._observe()

    def _observe(self) -> None:
        for observer in self.observers:
            observer.state = _meet(observer.state, self.state)

    def _has(self, key: int, name: str) -> bool:
        return self.state is None or (key, name) in self.state

    def _add(self, key: int, name: str) -> None:
        if self.state is not None:
            self.state = self.state | {(key, name)}

    def _remove(self, key: int, name: str) -> None:
        if self.state is not None:
            self.state = self.state - {(key, name)}

    # ----------------------------------------------------------------- names

    def _load(self, name: str) -> None:
        for depth, scope in enumerate(reversed(self.scopes)):
            if scope.kind == _MODULE:
                break
            if scope.kind == _CLASS:
                if depth == 0:
                    if name in scope.declared_global:
                        break
                    if self._has(scope.key, name):
                        return
                continue  # class names are not visible to comprehensions inside it
            if name in scope.local:
                return
        if not self._has(0, name):
            self.result.reads.add(name)

    def _binding_scope(self, walrus: bool) -> _Scope:
        if walrus:
            return next(s for s in reversed(self.scopes) if s.kind in (_MODULE, _CLASS))
        return self.scopes[-1]

    def _bind(self, name: str, walrus: bool = False) -> None:
        scope = self._binding_scope(walrus)
        if scope.kind == _MODULE or name in scope.declared_global:
            self.result.outputs.add(name)
            self._add(0, name)
        elif scope.kind == _CLASS:
            self._add(scope.key, name)

    def _unbind(self, name: str) -> None:
        scope = self.scopes[-1]
        if scope.kind == _MODULE or name in scope.declared_global:
            self.result.deletes.add(name)
            self._remove(0, name)
        elif scope.kind == _CLASS:
            self._remove(scope.key, name)

    def _delete(self, name: str) -> None:
        self._load(name)  # `del x` needs x to be bound
        self._unbind(name)

    # ----------------------------------------------------------------- simple statements

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        self._visit_all(node.targets)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)  # `a.b: int` evaluates `a`
        if not self.result.lazy_annotations:
            self.visit(node.annotation)

    def visit_Raise(self, node: ast.Raise) -> None:
        self.generic_visit(node)
        self.state = None

    def visit_Return(self, node: ast.Return) -> None:
        self.generic_visit(node)
        self.state = None

    def visit_Break(self, node: ast.Break) -> None:
        if self.loops:
            self.loops[-1].breaks.append(self.state)
        self.state = None

    def visit_Continue(self, node: ast.Continue) -> None:
        if self.loops:
            self.loops[-1].continues.append(self.state)
        self.state = None

    def visit_Assert(self, node: ast.Assert) -> None:
        self.visit(node.test)
        if node.msg is not None:
            after_test = self.state
            self.visit(node.msg)
            self.state = after_test

    # ----------------------------------------------------------------- expressions

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self._short_circuit(node.values)

    def visit_Compare(self, node: ast.Compare) -> None:
        self.visit(node.left)
        self._short_circuit(node.comparators)

    def _short_circuit(self, operands: Sequence[ast.expr]) -> None:
        """Operands after the first may not run: only what every stopping point bound stays."""
        ends: list[_State] = []
        for operand in operands:
            self.visit(operand)
            ends.append(self.state)
        self.state = _meet(*ends)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        entry = self.state
        self.visit(node.body)
        then_end, self.state = self.state, entry
        self.visit(node.orelse)
        self.state = _meet(then_end, self.state)

    def _comprehension(self, node: _Comprehension) -> None:
        entry = self.state
        super()._comprehension(node)
        # It may iterate zero times: its assignment expressions may not have run.
        self.state = _meet(entry, self.state)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    # ----------------------------------------------------------------- definitions

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all(node.decorator_list)
        generic = self._enter_type_params(node)
        self._visit_all((*node.bases, *node.keywords))
        found = _Bindings(node.body)
        scope = _Scope(
            _CLASS,
            key=next(self._keys),
            local=found.local(),
            declared_global=frozenset(found.declared_global),
        )
        self.scopes.append(scope)
        outer_loops, self.loops = self.loops, []
        self._walk(node.body)
        self.loops = outer_loops
        self.scopes.pop()
        if self.state is not None:
            self.state = frozenset(entry for entry in self.state if entry[0] != scope.key)
        if generic:
            self.scopes.pop()
        self._bind(node.name)

    # ----------------------------------------------------------------- control flow

    def visit_If(self, node: ast.If) -> None:
        ends: list[_State] = []
        while True:  # an `elif` chain is walked without recursion
            self.visit(node.test)
            entry = self.state
            self._walk(node.body)
            ends.append(self.state)
            self.state = entry
            if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
                self._observe()
                node = node.orelse[0]
                continue
            self._walk(node.orelse)
            ends.append(self.state)
            break
        self.state = _meet(*ends)

    def _loop(
        self,
        entry: _State,
        test: ast.expr | None,
        target: ast.expr | None,
        body: Sequence[ast.stmt],
    ) -> tuple[_State, _Loop]:
        """Runs the body until the loop head's state is stable; (head state, last pass)."""
        head = entry
        while True:
            loop = _Loop()
            self.loops.append(loop)
            self.state = head
            if test is not None:
                self.visit(test)
            if target is not None:
                self.visit(target)
            self._walk(body)
            self.loops.pop()
            again = _meet(entry, self.state, *loop.continues)
            if again == head:
                return head, loop
            head = again

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        head, loop = self._loop(self.state, None, node.target, node.body)
        self.state = head  # the iterator is exhausted (maybe at once): the target may be unbound
        self._walk(node.orelse)
        self.state = _meet(self.state, *loop.breaks)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        head, loop = self._loop(self.state, node.test, None, node.body)
        if _is_true_constant(node.test):  # only `break` leaves the loop
            self.state = _meet(*loop.breaks)
            return
        self.state = head
        self.visit(node.test)
        self._walk(node.orelse)
        self.state = _meet(self.state, *loop.breaks)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        self._walk(node.body)

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        anywhere = _Observer(self.state)  # where `finally` may be entered from
        inside = _Observer(self.state)  # where an exception may leave the body from
        self.observers += [anywhere, inside]
        self._walk(node.body)
        self.observers.remove(inside)
        self._walk(node.orelse)
        ends = [self.state]
        for handler in node.handlers:
            self.state = inside.state
            if handler.type is not None:
                self.visit(handler.type)
            if handler.name:
                self._bind(handler.name)
            self._walk(handler.body)
            if handler.name:  # Python deletes it when the handler ends
                self._unbind(handler.name)
            ends.append(self.state)
        self.observers.remove(anywhere)
        normal = _meet(*ends)
        if node.finalbody:
            self.state = anywhere.state  # for the reads: it may run after any statement
            self._walk(node.finalbody)
            if normal is not None:  # for the state after: it ran after normal completion
                self.state = normal
                self._walk(node.finalbody)
            else:
                self.state = None
        else:
            self.state = normal

    visit_TryStar = visit_Try

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        entry = self.state
        ends: list[_State] = []
        exhaustive = False
        for case in node.cases:
            self.state = entry
            self.visit(case.pattern)
            if case.guard is not None:
                self.visit(case.guard)
            else:
                exhaustive = exhaustive or _is_irrefutable(case.pattern)
            self._walk(case.body)
            ends.append(self.state)
        if not exhaustive:
            ends.append(entry)
        self.state = _meet(*ends)

    def visit_MatchOr(self, node: ast.MatchOr) -> None:
        entry = self.state
        ends: list[_State] = []
        for pattern in node.patterns:
            self.state = entry
            self.visit(pattern)
            ends.append(self.state)
        self.state = _meet(*ends)
