"""The walk over code that runs when the step runs, in execution order.

A name read at the module level is an input unless every path to the read has
bound it, so this walk carries the set of names bound on every path (`State`)
through branches, loops, `try` and `match`, merging paths by intersection.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from .scopes import CLASS, MODULE, Bindings, Findings, Scope
from .syntax import Comprehension, is_irrefutable, is_true_constant
from .walker import Walker

# The names definitely bound at a point of execution, as (scope key, name); key 0 is
# the module, class bodies get their own keys. None: the point cannot be reached.
State = frozenset[tuple[int, str]] | None


@dataclass
class _Loop:
    breaks: list[State] = field(default_factory=list)
    continues: list[State] = field(default_factory=list)


@dataclass(eq=False)  # removed from a list by identity
class _Observer:
    """The intersection of the states seen while it is active (for `try`)."""

    state: State


def _meet(*states: State) -> State:
    reachable = [s for s in states if s is not None]
    if not reachable:
        return None
    return frozenset.intersection(*reachable)


class Immediate(Walker):
    """Code that runs when the step runs, followed in execution order.

    `state` holds the names bound on every path to the current point; a read of a
    module name that is not in it is an input.
    """

    def __init__(self, result: Findings) -> None:
        super().__init__(result, [Scope(MODULE)])
        self.state: State = frozenset()
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
            if scope.kind == MODULE:
                break
            if scope.kind == CLASS:
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

    def _binding_scope(self, walrus: bool) -> Scope:
        if walrus:
            return next(s for s in reversed(self.scopes) if s.kind in (MODULE, CLASS))
        return self.scopes[-1]

    def _bind(self, name: str, walrus: bool = False) -> None:
        scope = self._binding_scope(walrus)
        if scope.kind == MODULE or name in scope.declared_global:
            self.result.outputs.add(name)
            self._add(0, name)
        elif scope.kind == CLASS:
            self._add(scope.key, name)

    def _unbind(self, name: str) -> None:
        scope = self.scopes[-1]
        if scope.kind == MODULE or name in scope.declared_global:
            self.result.deletes.add(name)
            self._remove(0, name)
        elif scope.kind == CLASS:
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
        ends: list[State] = []
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

    def _comprehension(self, node: Comprehension) -> None:
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
        found = Bindings(node.body)
        scope = Scope(
            CLASS,
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
        ends: list[State] = []
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
        entry: State,
        test: ast.expr | None,
        target: ast.expr | None,
        body: Sequence[ast.stmt],
    ) -> tuple[State, _Loop]:
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
        if is_true_constant(node.test):  # only `break` leaves the loop
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
        ends: list[State] = []
        exhaustive = False
        for case in node.cases:
            self.state = entry
            self.visit(case.pattern)
            if case.guard is not None:
                self.visit(case.guard)
            else:
                exhaustive = exhaustive or is_irrefutable(case.pattern)
            self._walk(case.body)
            ends.append(self.state)
        if not exhaustive:
            ends.append(entry)
        self.state = _meet(*ends)

    def visit_MatchOr(self, node: ast.MatchOr) -> None:
        entry = self.state
        ends: list[State] = []
        for pattern in node.patterns:
            self.state = entry
            self.visit(pattern)
            ends.append(self.state)
        self.state = _meet(*ends)
