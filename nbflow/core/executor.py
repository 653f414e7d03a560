"""The executor interface: where a step's body runs.

The scheduler hands an executor a zero-argument job and a `done` callback;
the executor runs the job somewhere and calls `done(result, error)` from
whatever thread it likes. Concurrency limits are the scheduler's, read from
`capacity`, so an abandoned (timed-out or cancelled) attempt frees its slot
even though its thread cannot be killed.

An executor that runs the body itself somewhere else (another process, a
cluster) is a `RemoteExecutor`: the attempt's bookkeeping still runs in a
kernel thread, and only the body, its inputs and what it produced cross. What
comes back is data, `RemoteResult` or `RemoteFailure`, so printed text reaches
the step's cell on success and failure alike, and a failure keeps the remote
traceback (the frames of the user's code) even when the exception itself
cannot be unpickled here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import NbflowError

if TYPE_CHECKING:
    from .fingerprints import DigestTable

Done = Callable[[Any, "BaseException | None"], None]


class Executor(Protocol):
    """Runs jobs; `capacity` is how many attempts may run on it at once."""

    name: str
    capacity: int

    def submit(self, job: Callable[[], Any], done: Done) -> None:
        """Run `job` and then call `done(result, None)` or `done(None, error)`."""

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop idle workers; never blocks on abandoned attempts beyond `timeout`."""


@dataclass(frozen=True)
class RemoteResult:
    """A body that finished elsewhere: the values to bind, and what it printed."""

    outputs: dict[str, Any]
    stdout: str = ""
    stderr: str = ""
    where: str = ""


@dataclass(frozen=True)
class RemoteFailure:
    """A body that raised elsewhere, as data.

    `error` is the exception itself when it could be sent back and unpickled
    (so `except ValueError` and `--retry-on` see the real type); the other
    fields are always there, taken where it was raised.
    """

    type_name: str
    message: str
    traceback: str
    stdout: str = ""
    stderr: str = ""
    error: BaseException | None = field(default=None, compare=False, repr=False)
    where: str = ""

    def exception(self, step: str) -> BaseException:
        """What the host raises: the original exception with the remote traceback
        as its cause (as `concurrent.futures` does), else a `RemoteStepError`."""
        if self.error is None:
            return RemoteStepError(step, self)
        self.error.__cause__ = RemoteTraceback(self)
        return self.error


class RemoteStepError(NbflowError, RuntimeError):
    """A step failed elsewhere with an exception that could not come back as itself."""

    failure: RemoteFailure

    def __init__(self, step: str, failure: RemoteFailure) -> None:
        super().__init__(f"{failure.type_name}: {failure.message}", step=step, failure=failure)


class RemoteTraceback(Exception):
    """The cause of an exception that came back: its text is the remote traceback."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(failure.traceback)
        self.failure = failure

    def __str__(self) -> str:
        return f'\n"""\n{self.failure.traceback.rstrip()}\n"""'


def remote_failure(error: BaseException) -> RemoteFailure | None:
    """The remote side of `error`, when a `RemoteExecutor` raised it; else None."""
    if isinstance(error, RemoteStepError):
        return error.failure
    cause = error.__cause__
    return cause.failure if isinstance(cause, RemoteTraceback) else None


@runtime_checkable
class RemoteExecutor(Executor, Protocol):
    """An executor that also runs a step's body itself, away from the namespace."""

    def run(self, step: str, body: str | Callable[..., Any], inputs: Mapping[str, Any],
            output_names: frozenset[str]) -> RemoteResult | RemoteFailure:
        """Run code (or a function called with `inputs`) over `inputs`; bring back
        the values of `output_names` it bound (the function's return value under
        `step`) and its printed text, or its failure. Raises only when the body
        could not be sent or run at all."""
        ...


@runtime_checkable
class SharesDigests(Protocol):
    """An executor that wants the flow's digest table, to know a value it already sent by its digest
    (the Dask executor scatters a large input once while its content stays the same)."""

    def use_digests(self, table: DigestTable) -> None: ...
