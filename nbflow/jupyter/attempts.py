"""What a step's cell says about its attempts: labels, failures, retries, and the fold on success.

While a step is retried its cell shows each failed attempt's traceback and
the retry lines, in the order things happened (the failed attempt's own
thread says "retrying in …" before the next attempt's label). Once an
attempt succeeds, the earlier attempts' tracebacks are history: each failed
attempt's lines fold into one (`attempt 1 of 3 failed: ValueError: boom
(traceback in the widget's details)`), and the tracebacks stay reachable in
the widget's detail pane (see docs/guide/jupyterlab.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..core.abandon import stop_if_abandoned
from ..core.spec import StepSpec
from .output import StepSink

DETAILS = "traceback in the widget's details"


def of_total(spec: StepSpec) -> str:
    """` of 3`, or nothing for `--retries inf`."""
    return "" if spec.retries == float("inf") else f" of {1 + int(spec.retries)}"


def begin(sink: StepSink, spec: StepSpec, attempt: int) -> None:
    """An attempt starts: a label from the second one on (part of the previous failed attempt's lines)."""
    if attempt == 1:
        sink.new_run()
        return
    sink.note(f"── {spec.name}: attempt {attempt}{of_total(spec)} ──", attempt=attempt - 1)


def failed(sink: StepSink, spec: StepSpec, attempt: int, line: str, error: BaseException | None,
           traceback: str = "") -> None:
    """Attempt `attempt` failed with `line` (and `traceback` when it raised in its thread); say whether it retries.

    Said from the attempt's own thread, unless the scheduler gave up on it
    already (a timed-out attempt that raised later): that one stops here, its
    failure was said when it timed out.
    """
    if traceback:
        stop_if_abandoned()
        sink.error(type(error).__name__ if error is not None else "Error", str(error or line), traceback,
                   attempt=attempt)
    sink.note(f"{spec.name}: attempt {attempt} failed: {line}", attempt=attempt)
    details = f" ({DETAILS})" if traceback else ""
    sink.failed_attempt(attempt, f"{spec.name}: attempt {attempt}{of_total(spec)} failed: {line}{details}")


def timed_out(sink: StepSink, spec: StepSpec | None, attempt: int, error: str) -> None:
    """Attempt `attempt` timed out (said from its event: the scheduler abandoned it, nothing raised in its thread)."""
    if spec is not None:
        failed(sink, spec, attempt, error or "timed out", None)


def retrying(sink: StepSink, step: str, attempt: int, delay: float) -> None:
    """The next attempt (`attempt`) comes after `delay` seconds: part of the failed attempt's lines."""
    sink.note(f"{step}: retrying in {delay:g}s (attempt {attempt})", attempt=attempt - 1)


def tracebacks_of(sinks: Mapping[str, StepSink]) -> Callable[[str], dict[int, str]]:
    """For the widget's detail pane: a step's failed attempts' tracebacks, from its sink."""
    def tracebacks(step: str) -> dict[int, str]:
        sink = sinks.get(step)
        return sink.tracebacks() if sink is not None else {}
    return tracebacks
