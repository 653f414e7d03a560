"""What a step is: a frozen, validated description built once per definition.

`make_spec` is the single place where option values are checked; the `%%step`
header parser, the notebook loader and the Python API all go through it, so a
bad value gets the same one-line error everywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .analysis import CodeAnalysis, analyze
from .durations import DURATION_FORMS, parse_duration
from .errors import OptionError, StepSyntaxError
from .limits import MAX_CONDITION, MAX_DURATION, MAX_DURATION_TEXT, MAX_NAME, MAX_RETRIES

BackoffKind = Literal["fixed", "exp", "linear"]
OnFail = Literal["stop", "continue"]
EXECUTORS = ("thread", "process", "dask")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_DUNDER = re.compile(r"^__.*__\Z")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_BACKOFF = re.compile(r"^(fixed|exp|linear):(.+?)(?:\.\.(.+))?$")


@dataclass(frozen=True)
class Backoff:
    """Wait before retry n (n = 1, 2, ...), counted from the end of the failed attempt."""

    kind: BackoffKind = "fixed"
    base: float = 0.0
    cap: float = 0.0

    def delay(self, retry: int) -> float:
        if self.kind == "fixed":
            return self.base
        if self.kind == "exp":
            # Cap the exponent so `--retries inf` never overflows a float.
            return min(self.base * 2.0 ** min(retry - 1, 1000), self.cap)
        return min(self.base * retry, self.cap)

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.base:g}s"
        return f"{self.kind}:{self.base:g}s..{self.cap:g}s"


@dataclass(frozen=True)
class StepSpec:
    """One step's definition. Equal specs mean nothing about the step changed."""

    name: str
    code: str | None = None
    func: Callable[..., Any] | None = field(default=None, compare=False)
    after: tuple[str, ...] = ()
    after_any: tuple[str, ...] = ()
    retries: float = 0  # an int, or math.inf for "until it succeeds or is cancelled"
    backoff: Backoff = Backoff()
    retry_on: tuple[str, ...] = ()
    timeout: float | None = None
    condition: str | None = None
    on_fail: OnFail = "stop"
    delay: float = 0.0
    at: dt.datetime | dt.time | None = None
    executor: str = "thread"
    no_cache: bool = False
    watch: tuple[str, ...] = ()
    cell: str | None = field(default=None, compare=False)
    # Functions compare by identity of the function object, kept here.
    func_id: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_name(self.name)  # a spec built by hand (`flow.add(StepSpec(...))`) follows the same rules

    @functools.cached_property
    def analysis(self) -> CodeAnalysis | None:
        """What a code step reads, binds and deletes: analysed once per definition (None for a function).

        Kept on the spec rather than in a bounded cache, so a flow of many steps
        never parses again on a worker thread (`ast` is not thread-safe in 3.11;
        `NamespaceHost.prepare` asks on the defining thread).
        """
        return None if self.code is None else analyze(self.code)

    @functools.cached_property
    def outputs(self) -> frozenset[str]:
        """Names this step binds (a function step binds its own name)."""
        return frozenset({self.name}) if self.analysis is None else self.analysis.outputs

    @functools.cached_property
    def deps(self) -> tuple[str, ...]:
        """Every step this one depends on, all-of first (asked for often, so kept)."""
        return self.after + tuple(d for d in self.after_any if d not in self.after)

    def retries_on(self, error: BaseException) -> bool:
        """Whether `--retry-on` lets this exception be retried."""
        if not isinstance(error, Exception):
            return False
        if not self.retry_on:
            return True
        for klass in type(error).__mro__:
            qualified = f"{klass.__module__}.{klass.__qualname__}"
            if klass.__name__ in self.retry_on or qualified in self.retry_on:
                return True
        return False

    def start_time(self, ready: dt.datetime) -> dt.datetime:
        """Wall-clock time the step may start once its dependencies are ready."""
        start = ready + dt.timedelta(seconds=self.delay)
        if self.at is None:
            return start
        if isinstance(self.at, dt.time):
            at = dt.datetime.combine(ready.date(), self.at)
        else:
            at = self.at if self.at.tzinfo is None else self.at.astimezone().replace(tzinfo=None)
        return max(start, at)


def check_name(name: object) -> None:
    """The rules every step name follows, however the spec was made (the store needs them too)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise OptionError(
            None, "step name", name, "a name of letters, digits, _ . - (not starting with a digit)"
        )
    if len(name) > MAX_NAME:
        raise OptionError(None, "step name", name, f"a name of at most {MAX_NAME} characters")
    if _DUNDER.match(name):  # a function step binds its name: __builtins__, __name__ are the namespace's own
        raise OptionError(None, "step name", name, "a name that is not __dunder__ (those are Python's own)")


def make_spec(name: str, body: str | Callable[..., Any] | None = None, **options: Any) -> StepSpec:
    """Build a validated spec from user-level values (strings, lists, numbers)."""
    check_name(name)
    known = {
        "after", "after_any", "retries", "backoff", "retry_on", "timeout", "condition",
        "on_fail", "delay", "at", "executor", "no_cache", "watch", "cell",
    }
    for key in options:
        if key not in known:
            raise OptionError(name, "option", key, "one of " + ", ".join(sorted(known)))
    code: str | None = None
    func: Callable[..., Any] | None = None
    if callable(body):
        func = body
    elif isinstance(body, str):
        code = body
        _check_parses(name, code)
    elif body is not None:
        raise OptionError(name, "body", body, "code (a string) or a function")

    after = _names(name, "--after", options.get("after"))
    after_any = _names(name, "--after-any", options.get("after_any"))
    for option, deps in (("--after", after), ("--after-any", after_any)):
        if name in deps:
            raise OptionError(
                name, option, name, "another step's name (a step cannot depend on itself)"
            )
    return StepSpec(
        name=name,
        code=code,
        func=func,
        after=after,
        after_any=after_any,
        retries=_retries(name, options.get("retries", 0)),
        backoff=_backoff(name, options.get("backoff")),
        retry_on=_retry_on(name, options.get("retry_on")),
        timeout=_timeout(name, options.get("timeout")),
        condition=_condition(name, options.get("condition")),
        on_fail=_choice(name, "--on-fail", options.get("on_fail", "stop"), ("stop", "continue")),  # type: ignore[arg-type]
        delay=_duration(name, "--delay", options.get("delay", 0.0)),
        at=_at(name, options.get("at")),
        executor=_choice(name, "--executor", options.get("executor", "thread"), EXECUTORS),
        no_cache=bool(options.get("no_cache", False)),
        watch=_names(name, "--watch", options.get("watch"), paths=True),
        cell=options.get("cell"),
        func_id=id(func) if func is not None else None,
    )


def _check_parses(name: str, code: str) -> None:
    try:
        analyze(code)  # parses; and the spec's own analysis then comes from analyze's cache
    except (RecursionError, MemoryError):
        raise StepSyntaxError(name, "nested too deeply for Python's parser") from None
    except SyntaxError as error:
        raise StepSyntaxError(name, error.msg, error.lineno) from None
    except ValueError as error:  # null bytes: a ValueError on Python 3.10
        raise StepSyntaxError(name, str(error)) from None


def _names(step: str, option: str, value: Any, paths: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    out: dict[str, None] = {}  # ordered and O(1) to test: 40,000 names parse in linear time
    for item in items:
        if not isinstance(item, str):
            raise OptionError(step, option, item, "names separated by commas")
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if not paths and not _NAME.match(part):
                raise OptionError(step, option, part, "step names separated by commas")
            out[part] = None
    if value and not out:
        shown = value if isinstance(value, str) else ",".join(str(item) for item in value)
        raise OptionError(step, option, shown, "names separated by commas")
    return tuple(out)


def _retries(step: str, value: Any) -> float:
    expected = f"a whole number from 0 to {MAX_RETRIES:,} or 'inf'"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("inf", "infinity"):
            return math.inf
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_RETRIES)):
            raise OptionError(step, "--retries", value, expected)
        value = int(text)
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        raise OptionError(step, "--retries", value, expected)
    return value


def _backoff(step: str, value: Any) -> Backoff:
    if value is None:
        return Backoff()
    if isinstance(value, Backoff):
        return value
    expected = "fixed:DUR, exp:MIN..MAX or linear:MIN..MAX (e.g. exp:1s..60s)"
    match = _BACKOFF.match(str(value).strip())
    if not match:
        raise OptionError(step, "--backoff", value, expected)
    kind, low, high = match.groups()
    try:
        base = parse_duration(low)
        cap = parse_duration(high) if high is not None else None
    except ValueError:
        raise OptionError(step, "--backoff", value, expected) from None
    if max(base, cap or 0.0) > MAX_DURATION:
        raise OptionError(step, "--backoff", value, f"durations of at most {MAX_DURATION_TEXT}")
    if kind == "fixed":
        if cap is not None:
            raise OptionError(step, "--backoff", value, "fixed:DUR with one duration")
        return Backoff("fixed", base, base)
    if cap is None or cap < base:
        raise OptionError(step, "--backoff", value, f"{kind}:MIN..MAX with MAX >= MIN")
    return Backoff(cast(BackoffKind, kind), base, cap)


def _retry_on(step: str, value: Any) -> tuple[str, ...]:
    names = _names(step, "--retry-on", value, paths=True)
    for item in names:
        if not _DOTTED.match(item):
            raise OptionError(step, "--retry-on", item, "exception class names separated by commas")
    return names


def _duration(step: str, option: str, value: Any) -> float:
    try:
        seconds = parse_duration(value)
    except (ValueError, TypeError):
        raise OptionError(step, option, value, DURATION_FORMS) from None
    if seconds > MAX_DURATION:
        raise OptionError(step, option, value, f"a duration of at most {MAX_DURATION_TEXT}")
    return seconds


def _timeout(step: str, value: Any) -> float | None:
    if value is None:
        return None
    seconds = _duration(step, "--timeout", value)
    if seconds <= 0:
        raise OptionError(step, "--timeout", value, "a duration above zero")
    return seconds


def _condition(step: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OptionError(step, "--if", value, "a Python expression")
    if len(value) > MAX_CONDITION:
        raise OptionError(step, "--if", value, f"an expression of at most {MAX_CONDITION:,} characters")
    try:
        compile(value.strip(), f"<--if of {step}>", "eval")
    except (RecursionError, MemoryError):
        raise OptionError(step, "--if", value, "an expression the compiler can nest (this one is too deep)") from None
    except SyntaxError as error:
        raise OptionError(step, "--if", value, f"a Python expression ({error.msg})") from None
    except ValueError as error:  # null bytes: a ValueError on Python 3.10
        raise OptionError(step, "--if", value, f"a Python expression ({error})") from None
    return value.strip()


def _choice(step: str, option: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise OptionError(step, option, value, " or ".join(choices))
    return str(value)


def _at(step: str, value: Any) -> dt.datetime | dt.time | None:
    if value is None or isinstance(value, dt.time):
        return value  # a time of day is at most a day away
    if isinstance(value, dt.datetime):
        at = value
    else:
        text = str(value).strip()
        expected = "a time such as 14:30, 14:30:15 or an ISO 8601 date-time"
        try:
            if re.match(r"^\d{1,2}:\d{2}(:\d{2})?$", text):
                hour, minute, *second = (int(part) for part in text.split(":"))
                return dt.time(hour, minute, second[0] if second else 0)
            at = dt.datetime.fromisoformat(text)
        except ValueError:
            raise OptionError(step, "--at", value, expected) from None
    # The same horizon as --delay: a wait beyond it is no real use (and far dates overflow the clock).
    if (at - dt.datetime.now(at.tzinfo)).total_seconds() > MAX_DURATION:
        raise OptionError(step, "--at", value, f"a time at most {MAX_DURATION_TEXT} from now")
    return at
