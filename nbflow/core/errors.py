"""nbflow's one error family.

Every error is an `NbflowError` and also the built-in a caller would catch
for that kind of problem (`OptionError` is a `ValueError`, `FlowTimeout` a
`TimeoutError`), carries the fields a program reads (`step`, `option`,
`value`), has a one-line message a user reads, and survives pickling, so it
can cross process and Dask boundaries unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .limits import shown


class NbflowWarning(UserWarning):
    """Warnings nbflow gives (undeclared dependency, unpicklable output, ...)."""


class NbflowError(Exception):
    """Base class: a one-line message plus structured fields.

    Subclasses call `super().__init__(message, **fields)`; the fields become
    attributes and are kept for pickling.
    """

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self._fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self), self._fields))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the one line says it all."""
        return [f"{type(self).__name__}: {self}"]


def _rebuild(cls: type[NbflowError], message: str, fields: dict[str, Any]) -> NbflowError:
    error = cls.__new__(cls)
    NbflowError.__init__(error, message, **fields)
    return error


class OptionError(NbflowError, ValueError):
    """A bad step option or header: names the step, the option and the value."""

    step: str | None
    option: str
    value: str

    def __init__(self, step: str | None, option: str, value: object, expected: str) -> None:
        where = f"step {shown(step)!r}: " if step else ""
        text = value if isinstance(value, str) else repr(value)
        super().__init__(
            f"{where}{option}: expected {expected}, got {shown(text)!r}",
            step=step,
            option=option,
            value=text,
            expected=expected,
        )


class StepSyntaxError(NbflowError, ValueError):
    """A step body (or `--if` expression) that Python cannot parse."""

    def __init__(self, step: str, detail: str, lineno: int | None = None) -> None:
        at = f" (line {lineno})" if lineno else ""
        super().__init__(
            f"step {step!r}: code does not parse{at}: {detail}",
            step=step,
            detail=detail,
            lineno=lineno,
        )


class UnknownStepError(NbflowError, LookupError):
    """A name that is not a step of the flow (as a dependency or a target)."""

    def __init__(self, name: str, *, needed_by: str | None = None, known: Sequence[str] = ()) -> None:
        where = f"step {needed_by!r}: " if needed_by else ""
        hint = _suggest(name, known)
        super().__init__(
            f"{where}unknown step {name!r}{hint}", step=needed_by, name=name
        )


class DuplicateStepError(NbflowError, ValueError):
    """A step name already owned by another cell."""

    step: str
    owner: str | None
    where: str | None

    def __init__(self, name: str, owner: str | None = None, where: str | None = None) -> None:
        """`owner`: the other cell's id; `where`: how a user finds it ("cell 3 (`raw = load()`)"), if known."""
        text = f" (defined in cell {owner})" if owner else ""
        if where:
            text = f" in {where}; rename one of the two steps"
        super().__init__(f"step {name!r} is already defined{text}", step=name, owner=owner, where=where)


class CycleError(NbflowError, ValueError):
    """A definition that would make the dependency graph cyclic."""

    def __init__(self, cycle: Sequence[str]) -> None:
        path = " → ".join(cycle)
        super().__init__(
            f"step {cycle[0]!r}: dependency cycle {path}", step=cycle[0], cycle=tuple(cycle)
        )


class DependentsError(NbflowError, ValueError):
    """Removing a step that other steps depend on."""

    def __init__(self, name: str, dependents: Sequence[str]) -> None:
        names = ", ".join(sorted(dependents))
        super().__init__(
            f"step {name!r} cannot be removed: {names} depend(s) on it",
            step=name,
            dependents=tuple(sorted(dependents)),
        )


class StateError(NbflowError, RuntimeError):
    """An operation that the step's current state does not allow."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step {step!r}: {message}", step=step)


class FlowClosed(NbflowError, RuntimeError):
    """The flow was closed; it runs nothing more."""

    def __init__(self) -> None:
        super().__init__("the flow is closed")


class FlowTimeout(NbflowError, TimeoutError):
    """`wait` gave up before the steps it waited for finished."""

    def __init__(self, timeout: float, unfinished: Sequence[str]) -> None:
        names = ", ".join(unfinished)
        super().__init__(
            f"wait timed out after {timeout:g}s; still running: {names}",
            timeout=timeout,
            unfinished=tuple(unfinished),
        )


class WaitInterrupted(NbflowError, KeyboardInterrupt):
    """A wait interrupted by the user (Ctrl-C, the kernel's interrupt): the steps go on in the background.

    Still a KeyboardInterrupt, so "Run All" stops at the cell as before; the
    message is the one line shown instead of a traceback through nbflow.
    """

    def __init__(self, message: str, running: Sequence[str] = ()) -> None:
        super().__init__(message, running=tuple(running))


class FlowFailed(NbflowError, RuntimeError):
    """Steps failed; names each one with the first line of its error."""

    failures: Mapping[str, str]
    blocked: tuple[str, ...]

    def __init__(self, failures: Mapping[str, str], blocked: Sequence[str] = ()) -> None:
        parts = [f"{name} ({error})" for name, error in failures.items()]
        count = len(parts)
        text = f"{count} step{'s' if count != 1 else ''} failed: " + ", ".join(parts)
        if blocked:
            text += f"; blocked upstream: {', '.join(blocked)}"
        super().__init__(text, failures=dict(failures), blocked=tuple(blocked))


def _suggest(name: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
