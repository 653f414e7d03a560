"""The dependency graph: pure topology over step specs.

A `Graph` is immutable; `with_step` and `without_step` return a new graph or
raise, so a rejected definition can never leave a half-changed graph behind,
and a reader on another thread (the widget's layout) keeps a consistent
snapshot while steps are defined.

The new graph shares almost everything with the old one: its maps are
persistent hash maps (`immutables.Map`, updated in O(log n)), so defining N
steps costs O(N log N) overall, not O(N²). Each step keeps the sequence
number of its first definition. A new step's dependencies must exist, so
definition order is a topological order until a redefinition makes a step
depend on one defined after it (a "back edge"); while there is none, the
order is the definition order and needs no sorting. See
docs/guide/reliability.md ("Large flows").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

from immutables import Map

from .errors import CycleError, DependentsError, DuplicateStepError, NbflowError, UnknownStepError
from .spec import StepSpec

_EMPTY_CHILDREN: Map[str, int] = Map()


class _Node(NamedTuple):
    seq: int  # order of first definition: ties in the topological order keep it
    spec: StepSpec


class Graph:
    """Steps by name, their dependencies and dependents."""

    __slots__ = ("_back", "_by_seq", "_children", "_dependents", "_names", "_next", "_nodes", "_order",
                 "_producers", "_rank")

    def __init__(self, specs: Iterable[StepSpec] = ()) -> None:
        nodes: dict[str, _Node] = {}
        for spec in specs:
            if spec.name in nodes:
                raise DuplicateStepError(spec.name)
            nodes[spec.name] = _Node(len(nodes), spec)
        dependents: dict[str, dict[str, int]] = {}
        producers: dict[str, dict[str, int]] = {}
        back = 0
        for name, node in nodes.items():
            for variable in node.spec.outputs:
                producers.setdefault(variable, {})[name] = node.seq
            for dep in node.spec.deps:
                if dep not in nodes:
                    raise UnknownStepError(dep, needed_by=name, known=list(nodes))
                dependents.setdefault(dep, {})[name] = node.seq
                back += nodes[dep].seq >= node.seq
        self._init(
            Map(nodes), Map({dep: Map(children) for dep, children in dependents.items()}),
            Map({node.seq: name for name, node in nodes.items()}), len(nodes), back,
            Map({variable: Map(steps) for variable, steps in producers.items()}),
        )
        if back and len(self._kahn()) != len(nodes):
            raise CycleError(self._find_cycle())

    def _init(self, nodes: Map[str, _Node], dependents: Map[str, Map[str, int]], by_seq: Map[int, str],
              next_seq: int, back: int, producers: Map[str, Map[str, int]]) -> None:
        self._nodes = nodes
        self._producers = producers  # variable -> steps that bind it
        self._dependents = dependents
        self._by_seq = by_seq
        self._next = next_seq
        self._back = back  # edges from a step to one defined later; 0 means definition order is topological
        self._names: tuple[str, ...] | None = None
        self._order: tuple[str, ...] | None = None
        self._rank: dict[str, int] | None = None
        self._children: dict[str, tuple[str, ...]] = {}

    # -- reading -------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __iter__(self) -> Iterator[str]:
        """Step names in definition order."""
        return iter(self._definition_order())

    def __len__(self) -> int:
        return len(self._nodes)

    def __getitem__(self, name: str) -> StepSpec:
        node = self._nodes.get(name)
        if node is None:
            raise UnknownStepError(name, known=list(self._definition_order()))
        return node.spec

    @property
    def specs(self) -> Mapping[str, StepSpec]:
        """Name → spec, in definition order (a new dict each call)."""
        return {name: self._nodes[name].spec for name in self._definition_order()}

    def get(self, name: str) -> StepSpec | None:
        """The spec named `name`, or None (O(log n); `specs` builds a dict)."""
        node = self._nodes.get(name)
        return None if node is None else node.spec

    def dependents(self, name: str) -> tuple[str, ...]:
        """Steps that list `name` in --after or --after-any, in definition order."""
        found = self._children.get(name)
        if found is None:
            children = self._dependents.get(name, _EMPTY_CHILDREN)
            found = tuple(sorted(children, key=children.__getitem__))
            self._children[name] = found
        return found

    def producers(self, variable: str) -> tuple[str, ...]:
        """Steps that bind `variable`, in topological order."""
        steps = self._producers.get(variable, _EMPTY_CHILDREN)
        return tuple(sorted(steps, key=self.position))

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
        return self._walk(name, lambda n: self._nodes[n].spec.deps)

    def descendants(self, name: str) -> set[str]:
        """Every step that transitively depends on `name`."""
        return self._walk(name, self.dependents)

    def depends_on(self, name: str, other: str) -> bool:
        """Whether `name` transitively depends on `other`, searching only as far as needed."""
        if other not in self._nodes or name not in self._nodes:
            return False
        if self._back == 0 and self._nodes[other].seq >= self._nodes[name].seq:
            return False  # in definition order an ancestor always comes first
        seen: set[str] = set()
        frontier = list(self._nodes[name].spec.deps)
        while frontier:
            node = frontier.pop()
            if node == other:
                return True
            if node not in seen:
                seen.add(node)
                frontier.extend(self._nodes[node].spec.deps)
        return False

    def topological_order(self) -> tuple[str, ...]:
        """All steps, dependencies first; otherwise in definition order, as far as the dependencies allow."""
        if self._order is None:
            self._order = self._definition_order() if self._back == 0 else self._kahn()
        return self._order

    def ordered(self, names: Iterable[str]) -> list[str]:
        """`names` in topological order, at the cost of sorting them, not of walking the whole graph."""
        return sorted(names, key=self.position)

    def position(self, name: str) -> int:
        """A number that sorts steps as `topological_order()` does (stable across graphs without back edges)."""
        if self._back == 0:
            return self._nodes[name].seq
        if self._rank is None:
            self._rank = {n: i for i, n in enumerate(self.topological_order())}
        return self._rank[name]

    # -- changing (returns a new graph) -------------------------------------

    def with_step(self, spec: StepSpec) -> Graph:
        """This graph plus `spec` (added or replacing the same name), or an error."""
        name = spec.name
        old = self._nodes.get(name)
        if old is not None and old.spec.cell is not None and spec.cell is not None and old.spec.cell != spec.cell:
            raise DuplicateStepError(name, old.spec.cell)
        deps = spec.deps
        for dep in deps:
            if dep not in self._nodes or (old is None and dep == name):
                known = [n for n in self._definition_order() if n != name]
                raise UnknownStepError(dep, needed_by=name, known=known)
        if old is None:
            seq = self._next
            return self._derive(self._nodes.set(name, _Node(seq, spec)),
                                _relink(self._dependents, name, seq, frozenset(), frozenset(deps)),
                                self._by_seq.set(seq, name), seq + 1, self._back,
                                _relink(self._producers, name, seq, frozenset(), spec.outputs))
        self._check_no_cycle(spec)
        seq = old.seq
        back = self._back - self._back_edges(old.spec) + self._back_edges(spec)
        return self._derive(self._nodes.set(name, _Node(seq, spec)),
                            _relink(self._dependents, name, seq, frozenset(old.spec.deps), frozenset(deps)),
                            self._by_seq, self._next, back,
                            _relink(self._producers, name, seq, old.spec.outputs, spec.outputs))

    def without_step(self, name: str) -> Graph:
        """This graph minus `name`; refused while other steps depend on it."""
        node = self._nodes.get(name)
        if node is None:
            raise UnknownStepError(name, known=list(self._definition_order()))
        if self.dependents(name):
            raise DependentsError(name, self.dependents(name))
        return self._derive(self._nodes.delete(name),
                            _relink(self._dependents, name, node.seq, frozenset(node.spec.deps), frozenset()),
                            self._by_seq.delete(node.seq), self._next, self._back - self._back_edges(node.spec),
                            _relink(self._producers, name, node.seq, node.spec.outputs, frozenset()))

    # -- internals -----------------------------------------------------------

    def _derive(self, nodes: Map[str, _Node], dependents: Map[str, Map[str, int]], by_seq: Map[int, str],
                next_seq: int, back: int, producers: Map[str, Map[str, int]]) -> Graph:
        graph = Graph.__new__(Graph)
        graph._init(nodes, dependents, by_seq, next_seq, back, producers)
        return graph

    def _back_edges(self, spec: StepSpec) -> int:
        seq = self._nodes[spec.name].seq
        return sum(self._nodes[dep].seq >= seq for dep in set(spec.deps))

    def _definition_order(self) -> tuple[str, ...]:
        if self._names is None:
            if len(self._by_seq) == self._next:
                by_seq = self._by_seq
                self._names = tuple(by_seq[i] for i in range(self._next))
            else:  # some steps were removed
                self._names = tuple(name for _, name in sorted(self._by_seq.items()))
        return self._names

    def _kahn(self) -> tuple[str, ...]:
        """Dependencies first, ties broken by definition order (a heap on the sequence number)."""
        indegree = {name: len(set(node.spec.deps)) for name, node in self._nodes.items()}
        ready = [(node.seq, name) for name, node in self._nodes.items() if indegree[name] == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for child in self.dependents(name):
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, (self._nodes[child].seq, child))
        return tuple(order)

    def _check_no_cycle(self, spec: StepSpec) -> None:
        """A replaced step may not depend on itself or anything downstream of itself."""
        if spec.name in spec.deps:
            raise CycleError([spec.name, spec.name])
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
        for root in self._definition_order():
            if root in colour:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(self._nodes[root].spec.deps))]
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
                    stack.append((dep, iter(self._nodes[dep].spec.deps)))
        return []  # pragma: no cover - only called when a cycle exists

    def _walk(self, name: str, nexts: Callable[[str], Iterable[str]]) -> set[str]:
        if name not in self._nodes:
            raise UnknownStepError(name, known=list(self._definition_order()))
        seen: set[str] = set()
        frontier = list(nexts(name))
        while frontier:
            node = frontier.pop()
            if node not in seen:
                seen.add(node)
                frontier.extend(nexts(node))
        return seen


def _relink(index: Map[str, Map[str, int]], name: str, seq: int, old: frozenset[str], new: frozenset[str]
            ) -> Map[str, Map[str, int]]:
    """`index` (key -> steps, with their sequence numbers) with `name` under the keys `new` instead of `old`.

    The one update behind both indexes: dependents (a dependency -> the steps
    after it) and producers (a variable -> the steps that bind it).
    """
    if old == new:
        return index
    changed = index.mutate()
    for key in old - new:
        steps = changed[key].delete(name)
        if steps:
            changed[key] = steps
        else:
            del changed[key]
    for key in new - old:
        changed[key] = changed.get(key, _EMPTY_CHILDREN).set(name, seq)
    return changed.finish()


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
