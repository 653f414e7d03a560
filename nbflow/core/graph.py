"""The dependency graph: pure topology over step specs.

A `Graph` is immutable; `with_step` and `without_step` return a new graph or
raise, so a rejected definition can never leave a half-changed graph behind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType

from .errors import CycleError, DependentsError, DuplicateStepError, NbflowError, UnknownStepError
from .spec import StepSpec


class Graph:
    """Steps by name, their dependencies and dependents."""

    __slots__ = ("_dependents", "_order", "_position", "_specs")

    def __init__(self, specs: Iterable[StepSpec] = ()) -> None:
        self._specs: dict[str, StepSpec] = {}
        self._dependents: dict[str, tuple[str, ...]] = {}
        self._order: tuple[str, ...] | None = None
        self._position: dict[str, int] | None = None
        for spec in specs:
            if spec.name in self._specs:
                raise DuplicateStepError(spec.name)
            self._specs[spec.name] = spec
        for spec in self._specs.values():
            for dep in spec.deps:
                if dep not in self._specs:
                    raise UnknownStepError(dep, needed_by=spec.name, known=list(self._specs))
        self._index()

    # -- reading -------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __getitem__(self, name: str) -> StepSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownStepError(name, known=list(self._specs)) from None

    @property
    def specs(self) -> Mapping[str, StepSpec]:
        return MappingProxyType(self._specs)

    def dependents(self, name: str) -> tuple[str, ...]:
        """Steps that list `name` in --after or --after-any."""
        return self._dependents.get(name, ())

    def descendants_of(self, names: Iterable[str]) -> set[str]:
        """Every step below any of `names` (excluding the names themselves unless reached)."""
        seen: set[str] = set()
        frontier = [child for name in names for child in self.dependents(name)]
        while frontier:
            node = frontier.pop()
            if node not in seen:
                seen.add(node)
                frontier.extend(self.dependents(node))
        return seen

    def ancestors(self, name: str) -> set[str]:
        """Every step `name` transitively depends on."""
        return self._walk(name, lambda n: self._specs[n].deps)

    def descendants(self, name: str) -> set[str]:
        """Every step that transitively depends on `name`."""
        return self._walk(name, self.dependents)

    def topological_order(self) -> tuple[str, ...]:
        """All steps, dependencies first; ties keep definition order."""
        if self._order is None:
            indegree = {name: len(spec.deps) for name, spec in self._specs.items()}
            ready = deque(name for name, degree in indegree.items() if degree == 0)
            order: list[str] = []
            while ready:
                name = ready.popleft()
                order.append(name)
                for child in self._dependents.get(name, ()):
                    indegree[child] -= 1
                    if indegree[child] == 0:
                        ready.append(child)
            self._order = tuple(order)
        return self._order

    def position(self, name: str) -> int:
        """Index of `name` in `topological_order()`."""
        if self._position is None:
            self._position = {n: i for i, n in enumerate(self.topological_order())}
        return self._position[name]

    # -- changing (returns a new graph) -------------------------------------

    def with_step(self, spec: StepSpec) -> Graph:
        """This graph plus `spec` (added or replacing the same name), or an error."""
        old = self._specs.get(spec.name)
        if old is not None and old.cell is not None and spec.cell is not None and old.cell != spec.cell:
            raise DuplicateStepError(spec.name, old.cell)
        for dep in spec.deps:
            if dep not in self._specs:
                known = [n for n in self._specs if n != spec.name]
                raise UnknownStepError(dep, needed_by=spec.name, known=known)
        if old is not None:
            self._check_no_cycle(spec)
        specs = dict(self._specs)
        specs[spec.name] = spec
        return Graph._from_valid(specs)

    def without_step(self, name: str) -> Graph:
        """This graph minus `name`; refused while other steps depend on it."""
        if name not in self._specs:
            raise UnknownStepError(name, known=list(self._specs))
        if self.dependents(name):
            raise DependentsError(name, self.dependents(name))
        specs = dict(self._specs)
        del specs[name]
        return Graph._from_valid(specs)

    # -- internals -----------------------------------------------------------

    @classmethod
    def _from_valid(cls, specs: dict[str, StepSpec]) -> Graph:
        graph = cls.__new__(cls)
        graph._specs = specs
        graph._order = None
        graph._position = None
        graph._index()
        return graph

    def _index(self) -> None:
        dependents: dict[str, list[str]] = {}
        for name, spec in self._specs.items():
            for dep in spec.deps:
                dependents.setdefault(dep, []).append(name)
        self._dependents = {name: tuple(children) for name, children in dependents.items()}
        order = self.topological_order()
        if len(order) != len(self._specs):
            raise CycleError(self._find_cycle())

    def _check_no_cycle(self, spec: StepSpec) -> None:
        """A replaced step may not depend on anything downstream of itself."""
        below = self.descendants(spec.name)
        for dep in spec.deps:
            if dep in below:
                path = self._path(spec.name, dep)
                raise CycleError([*path, spec.name])

    def _path(self, start: str, goal: str) -> list[str]:
        """A dependents-path from start to goal (both included)."""
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier:
            node = frontier.pop()
            if node == goal:
                break
            for child in self.dependents(node):
                if child not in previous and child != start:
                    previous[child] = node
                    frontier.append(child)
        path = [goal]
        while path[-1] != start:
            path.append(previous[path[-1]])
        return path[::-1]

    def _find_cycle(self) -> list[str]:
        """One cycle, as a dependency path that returns to its start."""
        colour: dict[str, int] = {}
        for root in self._specs:
            if root in colour:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(self._specs[root].deps))]
            colour[root] = 1
            while stack:
                node, deps = stack[-1]
                dep = next(deps, None)
                if dep is None:
                    colour[node] = 2
                    stack.pop()
                elif colour.get(dep) == 1:
                    path = [n for n, _ in stack]
                    cycle = [*path[path.index(dep) :], dep]
                    return cycle[::-1]
                elif dep not in colour:
                    colour[dep] = 1
                    stack.append((dep, iter(self._specs[dep].deps)))
        return []  # pragma: no cover - only called when a cycle exists

    def _walk(self, name: str, nexts: Callable[[str], Iterable[str]]) -> set[str]:
        if name not in self._specs:
            raise UnknownStepError(name, known=list(self._specs))
        seen: set[str] = set()
        frontier = list(nexts(name))
        while frontier:
            node = frontier.pop()
            if node not in seen:
                seen.add(node)
                frontier.extend(nexts(node))
        return seen


def dependency_order(specs: Iterable[StepSpec]) -> list[StepSpec]:
    """`specs` with each step after the ones it depends on (given order breaks ties).

    For defining stored steps one by one. Specs that do not form a valid graph
    (a dependency that is not among them, a cycle) come back in the given
    order, for the caller's definitions to reject one by one.
    """
    specs = list(specs)
    try:
        graph = Graph(specs)
        order = graph.topological_order()
    except NbflowError:
        return specs
    return [graph[name] for name in order]

