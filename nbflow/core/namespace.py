"""Running a step against a namespace, and committing only what succeeded.

An attempt executes in a shallow copy of the namespace taken when it starts,
so a failed, cancelled or timed-out attempt (whose thread may go on running)
never touches what a later reader sees. When the attempt succeeds its outputs
are bound in the real namespace in one step. Functions and classes the step
defined are re-pointed at the real namespace, so they behave as if they had
been defined in a plain cell.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import linecache
import sys
import traceback
import types
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from .analysis.result import private
from .errors import NbflowError
from .executor import RemoteExecutor, RemoteFailure, remote_failure, report_where
from .spec import StepSpec

_HERE = __file__.rsplit(".", 1)[0]


class MissingInput(NbflowError, NameError):
    """A step reads a variable nobody provided (a function step's parameter, or `run_step`'s input)."""

    def __init__(self, step: str, name: str, hint: str = "") -> None:
        super().__init__(f"step {step!r}: input {name!r} is not defined{hint}", step=step, name=name)


@dataclass(frozen=True)
class Outputs:
    """What a successful attempt produced: values to bind, names to delete, and what it displayed."""

    values: dict[str, Any]
    deleted: tuple[str, ...] = ()
    scope: dict[str, Any] | None = None  # the working copy the code ran in
    #: nbformat output dicts the attempt showed (plain data, filled in by hosts that capture output)
    displays: tuple[dict[str, Any], ...] = ()


def step_filename(name: str) -> str:
    """The pseudo file name a step's code is compiled under (shown in tracebacks)."""
    return f"<step {name}>"


@functools.lru_cache(maxsize=512)
def _compiled(name: str, code: str) -> types.CodeType:
    filename = step_filename(name)
    # Register the source so tracebacks show the step's lines, as IPython does for cells.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    return compile(code, filename, "exec")


@functools.lru_cache(maxsize=512)
def _condition(name: str, expression: str) -> types.CodeType:
    return compile(expression, f"<--if of {name}>", "eval")


class NamespaceHost:
    """Evaluates conditions and runs step bodies over one namespace dict."""

    def __init__(self, namespace: MutableMapping[str, Any]) -> None:
        self.namespace = namespace
        #: Executors that run bodies elsewhere (a process, a cluster), by name.
        self.remote: dict[str, RemoteExecutor] = {}

    def snapshot(self) -> dict[str, Any]:
        scope = dict(self.namespace)
        scope.setdefault("__builtins__", builtins)
        return scope

    def prepare(self, spec: StepSpec) -> None:
        """Parse and compile on the defining thread: Python 3.11's `ast` module is
        not thread-safe (concurrent `ast.parse` calls can raise SystemError)."""
        if spec.code is not None:
            _ = spec.analysis  # analysed here, on the defining thread, and kept on the spec
            _compiled(spec.name, spec.code)
        if spec.condition is not None:
            _condition(spec.name, spec.condition)

    def evaluate_condition(self, spec: StepSpec) -> bool:
        assert spec.condition is not None
        return bool(eval(_condition(spec.name, spec.condition), self.snapshot()))

    def runs_here(self, spec: StepSpec) -> bool:
        """True when the body runs in this process, on the objects of the snapshot."""
        return spec.executor not in self.remote

    def execute(self, spec: StepSpec, attempt: int = 1, scope: dict[str, Any] | None = None) -> Outputs:
        """Run the body once in `scope` (a snapshot; a fresh one if None); raises what the body raises.

        `attempt` is for hosts that label attempts.
        """
        scope = self.snapshot() if scope is None else scope
        runner = self.remote.get(spec.executor)
        if runner is not None:
            return self._execute_remote(spec, runner, scope)
        if spec.func is not None:
            return Outputs({spec.name: spec.func(**self._arguments(spec, scope))})
        assert spec.code is not None
        exec(_compiled(spec.name, spec.code), scope)
        analysis = spec.analysis
        assert analysis is not None
        if analysis.star_import:
            before = self.namespace
            names = [n for n, v in scope.items() if before.get(n, _MISSING) is not v and not private(n)]
        else:
            names = [n for n in analysis.outputs if n in scope]
        deleted = tuple(n for n in analysis.deletes if n not in scope)
        return Outputs({n: scope[n] for n in names if n != "__builtins__"}, deleted, scope)

    def _execute_remote(self, spec: StepSpec, runner: RemoteExecutor, scope: dict[str, Any]) -> Outputs:
        """Send the inputs out, run there, bring outputs and printed text back (shown here).

        The printed text is written before a failure is raised, so it appears
        above the traceback as it would for a step run in a thread.
        """
        if spec.func is not None:
            body: Any = spec.func
            inputs = self._arguments(spec, scope)
            names = frozenset({spec.name})
        else:
            assert spec.code is not None and spec.analysis is not None
            analysis = spec.analysis
            body, names = spec.code, analysis.outputs
            inputs = {name: scope[name] for name in analysis.inputs if name in scope}
        outcome = runner.run(spec.name, body, inputs, names)
        report_where(outcome.where)
        sys.stdout.write(outcome.stdout)
        sys.stderr.write(outcome.stderr)
        if isinstance(outcome, RemoteFailure):
            raise outcome.exception(spec.name)
        return Outputs(outcome.outputs)

    def inputs_of(self, spec: StepSpec) -> frozenset[str]:
        """Names the step reads from the namespace."""
        return frozenset(inputs_of(spec, self.namespace))

    def commit(self, spec: StepSpec, outputs: Outputs) -> dict[str, Any]:
        """Bind a successful attempt's outputs in the namespace; returns what was bound.

        Functions and classes the step defined are re-pointed at the namespace,
        whether they come from the working copy or from a checkpoint (where
        cloudpickle gave them a private copy of their globals).
        """
        namespace = self.namespace
        old = outputs.scope
        values = {n: _rebind(v, old, namespace) for n, v in outputs.values.items()}
        namespace.update(values)
        for name in outputs.deleted:
            namespace.pop(name, None)
        return values

    def _arguments(self, spec: StepSpec, namespace: Mapping[str, Any]) -> dict[str, Any]:
        assert spec.func is not None
        arguments: dict[str, Any] = {}
        for name, required in parameters(spec.func):
            if name in namespace:
                arguments[name] = namespace[name]
            elif required:
                raise MissingInput(spec.name, name)
        return arguments


def inputs_of(spec: StepSpec, namespace: Mapping[str, Any]) -> tuple[str, ...]:
    """The names a step reads from `namespace`: its analysis' inputs, and builtin names the namespace rebinds.

    For a function step: the parameters it takes from the namespace.
    """
    if spec.func is not None:
        return tuple(sorted(name for name, _ in parameters(spec.func) if name in namespace))
    found = spec.analysis
    assert found is not None
    shadowed = (n for n in found.builtin_reads if n in namespace and _shadows_builtin(n, namespace[n]))
    return tuple(sorted(found.inputs | set(shadowed)))


def _shadows_builtin(name: str, value: Any) -> bool:
    return name not in _FRONT_END_NAMES and value is not getattr(builtins, name, None)


_FRONT_END_NAMES = frozenset({"get_ipython", "display", "exit", "quit", "__IPYTHON__", "__builtins__"})


@functools.lru_cache(maxsize=4096)
def parameters(func: Any) -> tuple[tuple[str, bool], ...]:
    """(name, required) of the parameters a function step takes from the namespace."""
    return tuple(
        (p.name, p.default is p.empty)
        for p in inspect.signature(func).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


_MISSING = object()


# Where code run by exec() over a namespace says it comes from (`builtins` when the dict has no __name__).
NOTEBOOK_MODULES = ("__main__", None, "builtins")


def _rebind(value: Any, old: Mapping[str, Any] | None, new: MutableMapping[str, Any]) -> Any:
    """A function defined in `old` (the working copy, or a checkpoint's private globals) re-created over `new`."""
    if isinstance(value, types.FunctionType) and isinstance(new, dict) and value.__globals__ is not new and (
            value.__globals__ is old or (old is None and value.__module__ in NOTEBOOK_MODULES)):
        clone = types.FunctionType(
            value.__code__, new, value.__name__, value.__defaults__, value.__closure__
        )
        clone.__kwdefaults__ = value.__kwdefaults__
        clone.__qualname__ = value.__qualname__
        clone.__annotations__ = value.__annotations__
        clone.__dict__.update(value.__dict__)
        clone.__doc__ = value.__doc__
        clone.__module__ = value.__module__
        return clone
    if isinstance(value, type) and value.__module__ in NOTEBOOK_MODULES:
        for attr, member in list(vars(value).items()):
            inner = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
            rebound = _rebind(inner, old, new)
            if rebound is not inner:
                wrapped = type(member)(rebound) if inner is not member else rebound
                setattr(value, attr, wrapped)
    return value


def format_error(error: BaseException) -> tuple[str, str]:
    """(first line, traceback text) with nbflow's own frames left out.

    For a body that failed elsewhere the text is the remote traceback: the
    local one would show only nbflow's frames.
    """
    line = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    failure = remote_failure(error)
    if failure is not None:
        return line, failure.traceback
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_HERE.rsplit("/", 2)[0]):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(error), error, tb))
    return line, text
