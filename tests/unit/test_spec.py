"""Step specs, backoff, durations and the error family: table-driven cases."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from nbflow.core.durations import format_duration, parse_duration
from nbflow.core.errors import NbflowError, OptionError, StepSyntaxError
from nbflow.core.spec import Backoff, StepSpec, make_spec

DEFAULTS: dict[str, Any] = {
    "after": (),
    "after_any": (),
    "retries": 0,
    "backoff": Backoff("fixed", 0.0, 0.0),
    "retry_on": (),
    "timeout": None,
    "condition": None,
    "on_fail": "stop",
    "delay": 0.0,
    "at": None,
    "executor": "thread",
    "no_cache": False,
    "watch": (),
    "cell": None,
}

READY = dt.datetime(2025, 3, 1, 12, 0, 0)


def spec_fields(spec: StepSpec) -> dict[str, Any]:
    """The option fields of a spec, for exact comparison with DEFAULTS plus overrides."""
    return {key: getattr(spec, key) for key in DEFAULTS}


# -- make_spec: good values ----------------------------------------------------


@dataclass
class Good:
    """`make_spec("s", "x = 1", **options)` must give DEFAULTS updated with `fields`."""

    id: str
    options: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)


GOOD = [
    Good("defaults", {}),
    Good("after-comma-list", {"after": "a,b"}, {"after": ("a", "b")}),
    Good("after-spaces", {"after": " a , b "}, {"after": ("a", "b")}),
    Good("after-list-dedup", {"after": ["a", "b,c", "a"]}, {"after": ("a", "b", "c")}),
    Good("after-empty-string", {"after": ""}, {}),
    Good("after-none", {"after": None}, {}),
    Good("after-any", {"after_any": "c,d"}, {"after_any": ("c", "d")}),
    Good("name-chars", {"after": "load.v2-b,_x"}, {"after": ("load.v2-b", "_x")}),
    Good("retries-int", {"retries": 3}, {"retries": 3}),
    Good("retries-zero", {"retries": 0}, {"retries": 0}),
    Good("retries-string", {"retries": " 12 "}, {"retries": 12}),
    Good("retries-inf", {"retries": "inf"}, {"retries": math.inf}),
    Good("retries-infinity", {"retries": "Infinity"}, {"retries": math.inf}),
    Good("retries-math-inf", {"retries": math.inf}, {"retries": math.inf}),
    Good("backoff-fixed", {"backoff": "fixed:2s"}, {"backoff": Backoff("fixed", 2.0, 2.0)}),
    Good("backoff-exp", {"backoff": "exp:1s..60s"}, {"backoff": Backoff("exp", 1.0, 60.0)}),
    Good("backoff-linear", {"backoff": "linear:500ms..30s"},
         {"backoff": Backoff("linear", 0.5, 30.0)}),
    Good("backoff-decimal-with-unit", {"backoff": "exp:1.5s..2m"},
         {"backoff": Backoff("exp", 1.5, 120.0)}),
    Good("backoff-fixed-decimal", {"backoff": "fixed:2.5s"}, {"backoff": Backoff("fixed", 2.5, 2.5)}),
    Good("backoff-plain-seconds", {"backoff": "linear:0.5..3"},
         {"backoff": Backoff("linear", 0.5, 3.0)}),
    Good("backoff-equal-bounds", {"backoff": "exp:1s..1s"}, {"backoff": Backoff("exp", 1.0, 1.0)}),
    Good("backoff-object", {"backoff": Backoff("exp", 2.0, 8.0)},
         {"backoff": Backoff("exp", 2.0, 8.0)}),
    Good("retry-on", {"retry_on": "ValueError,requests.HTTPError"},
         {"retry_on": ("ValueError", "requests.HTTPError")}),
    Good("retry-on-list", {"retry_on": ["KeyError", "OSError,KeyError"]},
         {"retry_on": ("KeyError", "OSError")}),
    Good("timeout-minutes", {"timeout": "10m"}, {"timeout": 600.0}),
    Good("timeout-ms", {"timeout": "500ms"}, {"timeout": 0.5}),
    Good("timeout-number", {"timeout": 2.5}, {"timeout": 2.5}),
    Good("condition-stripped", {"condition": "  len(rows) > 0 "}, {"condition": "len(rows) > 0"}),
    Good("on-fail-continue", {"on_fail": "continue"}, {"on_fail": "continue"}),
    Good("on-fail-stop", {"on_fail": "stop"}, {"on_fail": "stop"}),
    Good("delay-hours", {"delay": "2h"}, {"delay": 7200.0}),
    Good("delay-days", {"delay": "1d"}, {"delay": 86400.0}),
    Good("delay-number", {"delay": 5}, {"delay": 5.0}),
    Good("at-hh-mm", {"at": "14:30"}, {"at": dt.time(14, 30)}),
    Good("at-h-mm-ss", {"at": "9:05:07"}, {"at": dt.time(9, 5, 7)}),
    Good("at-iso", {"at": "2025-03-01T14:30:00"}, {"at": dt.datetime(2025, 3, 1, 14, 30)}),
    Good("at-iso-date", {"at": "2025-03-01"}, {"at": dt.datetime(2025, 3, 1)}),
    Good("at-iso-offset", {"at": "2025-03-01T14:30:00+02:00"},
         {"at": dt.datetime(2025, 3, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))}),
    Good("at-time-object", {"at": dt.time(7, 0)}, {"at": dt.time(7, 0)}),
    Good("executor-process", {"executor": "process"}, {"executor": "process"}),
    Good("executor-dask", {"executor": "dask"}, {"executor": "dask"}),
    Good("no-cache", {"no_cache": True}, {"no_cache": True}),
    Good("watch-paths", {"watch": "data/a.csv, data/raw"}, {"watch": ("data/a.csv", "data/raw")}),
    Good("watch-spaces-in-path", {"watch": ["my data/b.csv"]}, {"watch": ("my data/b.csv",)}),
    Good("cell", {"cell": "c7"}, {"cell": "c7"}),
]


@pytest.mark.parametrize("case", GOOD, ids=lambda case: case.id)
def test_make_spec_accepts(case: Good) -> None:
    """Each good option value becomes exactly the expected spec field."""
    spec = make_spec("s", "x = 1", **case.options)
    assert spec_fields(spec) == {**DEFAULTS, **case.fields}
    for key, value in case.fields.items():
        assert type(getattr(spec, key)) is type(value), key
    assert spec.name == "s"
    assert spec.code == "x = 1"


# -- make_spec: bad values -----------------------------------------------------


@dataclass
class Bad:
    """`make_spec(name, body, **options)` must raise `error` with exactly `message`."""

    id: str
    options: dict[str, Any]
    message: str
    name: Any = "s"
    body: Any = "x = 1"
    error: type[NbflowError] = OptionError


DURATION = "a duration such as 500ms, 30s, 10m, 2h or plain seconds"
RETRIES = "a whole number from 0 to 10,000 or 'inf'"
BACKOFF = "fixed:DUR, exp:MIN..MAX or linear:MIN..MAX (e.g. exp:1s..60s)"
AT = "a time such as 14:30, 14:30:15 or an ISO 8601 date-time"
NAME = "a name of letters, digits, _ . - (not starting with a digit)"
SELF = "another step's name (a step cannot depend on itself)"
OPTIONS = (
    "after, after_any, at, backoff, cell, condition, delay, executor, no_cache, on_fail, "
    "retries, retry_on, timeout, watch"
)

BAD = [
    Bad("name-digit", {}, f"step name: expected {NAME}, got '1abc'", name="1abc"),
    Bad("name-space", {}, f"step name: expected {NAME}, got 'a b'", name="a b"),
    Bad("name-trailing-newline", {}, f"step name: expected {NAME}, got 'abc\\n'", name="abc\n"),
    Bad("name-empty", {}, f"step name: expected {NAME}, got ''", name=""),
    Bad("name-not-str", {}, f"step name: expected {NAME}, got '5'", name=5),
    Bad("unknown-keyword", {"retry": 3},
        f"step 's': option: expected one of {OPTIONS}, got 'retry'"),
    Bad("body-not-code", {}, "step 's': body: expected code (a string) or a function, got '42'",
        body=42),
    Bad("body-syntax", {}, "step 's': code does not parse (line 1): invalid syntax",
        body="x = = 1", error=StepSyntaxError),
    Bad("body-syntax-line", {}, "step 's': code does not parse (line 2): '(' was never closed",
        body="a = 1\nb = (", error=StepSyntaxError),
    Bad("body-null-byte", {}, "step 's': code does not parse: source code string cannot contain "
        "null bytes", body="x = 1\x00", error=StepSyntaxError),
    Bad("after-self", {"after": "a,s"}, f"step 's': --after: expected {SELF}, got 's'"),
    Bad("after-any-self", {"after_any": "s"}, f"step 's': --after-any: expected {SELF}, got 's'"),
    Bad("after-space", {"after": "b c"},
        "step 's': --after: expected step names separated by commas, got 'b c'"),
    Bad("after-bad-name", {"after": "a,2b"},
        "step 's': --after: expected step names separated by commas, got '2b'"),
    Bad("after-not-str", {"after": [1]},
        "step 's': --after: expected names separated by commas, got '1'"),
    Bad("after-only-commas", {"after": ","},
        "step 's': --after: expected names separated by commas, got ','"),
    Bad("after-list-of-empties", {"after": ["", ","]},
        "step 's': --after: expected names separated by commas, got ',,'"),
    Bad("watch-only-commas", {"watch": " , "},
        "step 's': --watch: expected names separated by commas, got ' , '"),
    Bad("retries-negative", {"retries": -1}, f"step 's': --retries: expected {RETRIES}, got '-1'"),
    Bad("retries-negative-str", {"retries": "-1"},
        f"step 's': --retries: expected {RETRIES}, got '-1'"),
    Bad("retries-decimal", {"retries": "2.5"}, f"step 's': --retries: expected {RETRIES}, got '2.5'"),
    Bad("retries-float", {"retries": 2.0}, f"step 's': --retries: expected {RETRIES}, got '2.0'"),
    Bad("retries-bool", {"retries": True}, f"step 's': --retries: expected {RETRIES}, got 'True'"),
    Bad("retries-word", {"retries": "many"}, f"step 's': --retries: expected {RETRIES}, got 'many'"),
    Bad("retries-superscript", {"retries": "²"}, f"step 's': --retries: expected {RETRIES}, got '²'"),
    Bad("retries-minus-inf", {"retries": -math.inf},
        f"step 's': --retries: expected {RETRIES}, got '-inf'"),
    Bad("backoff-unknown-kind", {"backoff": "cubic:1s"},
        f"step 's': --backoff: expected {BACKOFF}, got 'cubic:1s'"),
    Bad("backoff-no-kind", {"backoff": "2s"}, f"step 's': --backoff: expected {BACKOFF}, got '2s'"),
    Bad("backoff-empty-duration", {"backoff": "fixed:"},
        f"step 's': --backoff: expected {BACKOFF}, got 'fixed:'"),
    Bad("backoff-bad-duration", {"backoff": "exp:1x..2s"},
        f"step 's': --backoff: expected {BACKOFF}, got 'exp:1x..2s'"),
    Bad("backoff-three-parts", {"backoff": "exp:1s..2s..3s"},
        f"step 's': --backoff: expected {BACKOFF}, got 'exp:1s..2s..3s'"),
    Bad("backoff-exp-no-cap", {"backoff": "exp:1s"},
        "step 's': --backoff: expected exp:MIN..MAX with MAX >= MIN, got 'exp:1s'"),
    Bad("backoff-linear-cap-below", {"backoff": "linear:10s..1s"},
        "step 's': --backoff: expected linear:MIN..MAX with MAX >= MIN, got 'linear:10s..1s'"),
    Bad("backoff-fixed-two", {"backoff": "fixed:1s..2s"},
        "step 's': --backoff: expected fixed:DUR with one duration, got 'fixed:1s..2s'"),
    Bad("retry-on-digit", {"retry_on": "1Error"},
        "step 's': --retry-on: expected exception class names separated by commas, got '1Error'"),
    Bad("retry-on-space", {"retry_on": "Value Error"},
        "step 's': --retry-on: expected exception class names separated by commas, "
        "got 'Value Error'"),
    Bad("retry-on-double-dot", {"retry_on": "a..B"},
        "step 's': --retry-on: expected exception class names separated by commas, got 'a..B'"),
    Bad("timeout-zero", {"timeout": "0"},
        "step 's': --timeout: expected a duration above zero, got '0'"),
    Bad("timeout-negative", {"timeout": "-1s"}, f"step 's': --timeout: expected {DURATION}, got '-1s'"),
    Bad("timeout-word", {"timeout": "soon"}, f"step 's': --timeout: expected {DURATION}, got 'soon'"),
    Bad("timeout-inf", {"timeout": math.inf}, f"step 's': --timeout: expected {DURATION}, got 'inf'"),
    Bad("delay-words", {"delay": "5 minutes"},
        f"step 's': --delay: expected {DURATION}, got '5 minutes'"),
    Bad("delay-negative", {"delay": -5}, f"step 's': --delay: expected {DURATION}, got '-5'"),
    Bad("delay-uppercase-unit", {"delay": "10M"}, f"step 's': --delay: expected {DURATION}, got '10M'"),
    Bad("condition-syntax", {"condition": "len(rows) >"},
        "step 's': --if: expected a Python expression (invalid syntax), got 'len(rows) >'"),
    Bad("condition-statement", {"condition": "import os"},
        "step 's': --if: expected a Python expression (invalid syntax), got 'import os'"),
    Bad("condition-blank", {"condition": "  "},
        "step 's': --if: expected a Python expression, got '  '"),
    Bad("condition-not-str", {"condition": 5},
        "step 's': --if: expected a Python expression, got '5'"),
    Bad("condition-null-byte", {"condition": "x\x00"},
        "step 's': --if: expected a Python expression (source code string cannot contain null "
        "bytes), got 'x\\x00'"),
    Bad("on-fail-unknown", {"on_fail": "ignore"},
        "step 's': --on-fail: expected stop or continue, got 'ignore'"),
    Bad("on-fail-case", {"on_fail": "Stop"},
        "step 's': --on-fail: expected stop or continue, got 'Stop'"),
    Bad("executor-unknown", {"executor": "gpu"},
        "step 's': --executor: expected thread or process or dask, got 'gpu'"),
    Bad("at-hour-25", {"at": "25:00"}, f"step 's': --at: expected {AT}, got '25:00'"),
    Bad("at-minute-60", {"at": "14:60"}, f"step 's': --at: expected {AT}, got '14:60'"),
    Bad("at-word", {"at": "tomorrow"}, f"step 's': --at: expected {AT}, got 'tomorrow'"),
    Bad("at-bad-date", {"at": "2025-02-30T10:00"},
        f"step 's': --at: expected {AT}, got '2025-02-30T10:00'"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_make_spec_rejects(case: Bad) -> None:
    """Each bad value raises the expected error class with exactly the expected one-line text."""
    with pytest.raises(NbflowError) as info:
        make_spec(case.name, case.body, **case.options)
    error = info.value
    assert type(error) is case.error
    assert str(error) == case.message
    assert "\n" not in str(error)


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_errors_are_value_errors_and_pickle(case: Bad) -> None:
    """Every spec error is an NbflowError and a ValueError, and survives pickling unchanged."""
    with pytest.raises(ValueError) as info:
        make_spec(case.name, case.body, **case.options)
    error = info.value
    assert isinstance(error, NbflowError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) == case.message
    assert copy._fields == error._fields
    assert copy._fields, "an error must carry structured fields"
    for key, value in error._fields.items():
        assert getattr(copy, key) == value


@dataclass
class Fields:
    """The structured fields an error carries, checked exactly."""

    id: str
    call: Callable[[], object]
    fields: dict[str, Any]


FIELDS = [
    Fields("option-error", lambda: make_spec("clean", None, retries="-1"),
           {"step": "clean", "option": "--retries", "value": "-1", "expected": RETRIES}),
    Fields("option-error-non-str-value", lambda: make_spec("clean", None, retries=-1),
           {"step": "clean", "option": "--retries", "value": "-1", "expected": RETRIES}),
    Fields("name-error-has-no-step", lambda: make_spec("1x", None),
           {"step": None, "option": "step name", "value": "1x", "expected": NAME}),
    Fields("syntax-error", lambda: make_spec("clean", "x = (", retries=1),
           {"step": "clean", "detail": "'(' was never closed", "lineno": 1}),
]


@pytest.mark.parametrize("case", FIELDS, ids=lambda case: case.id)
def test_error_fields(case: Fields) -> None:
    """Errors expose step/option/value (or detail/lineno) as attributes, also after pickling."""
    with pytest.raises(NbflowError) as info:
        case.call()
    for error in (info.value, pickle.loads(pickle.dumps(info.value))):
        assert {key: getattr(error, key) for key in case.fields} == case.fields


def test_make_spec_function_body() -> None:
    """A function body is kept as `func`, with no code, and specs compare by its identity."""

    def step() -> None:
        """A step function."""

    spec = make_spec("s", step, retries=1)
    assert (spec.func, spec.code, spec.func_id) == (step, None, id(step))
    assert spec == make_spec("s", step, retries=1)
    assert spec != make_spec("s", lambda: None, retries=1)


def test_deps_all_of_first_without_repeats() -> None:
    """`deps` lists --after then the --after-any names not already listed."""
    spec = make_spec("s", None, after="b,a", after_any="a,c,d")
    assert spec.deps == ("b", "a", "c", "d")


# -- backoff ------------------------------------------------------------------


@dataclass
class Delays:
    """`Backoff(kind, base, cap).delay(n)` for n = 1, 2, ... must be exactly `waits`."""

    id: str
    backoff: Backoff
    waits: list[float]


DELAYS = [
    Delays("default-no-wait", Backoff(), [0.0, 0.0, 0.0]),
    Delays("fixed", Backoff("fixed", 2.0, 2.0), [2.0, 2.0, 2.0, 2.0]),
    Delays("exp-doubles-then-caps", Backoff("exp", 1.0, 60.0),
           [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]),
    Delays("exp-fraction", Backoff("exp", 0.5, 3.0), [0.5, 1.0, 2.0, 3.0, 3.0]),
    Delays("exp-cap-equals-base", Backoff("exp", 5.0, 5.0), [5.0, 5.0, 5.0]),
    Delays("linear-adds-base", Backoff("linear", 1.0, 30.0), [1.0, 2.0, 3.0, 4.0, 5.0]),
    Delays("linear-caps", Backoff("linear", 10.0, 25.0), [10.0, 20.0, 25.0, 25.0]),
    Delays("linear-zero", Backoff("linear", 0.0, 10.0), [0.0, 0.0]),
]


@pytest.mark.parametrize("case", DELAYS, ids=lambda case: case.id)
def test_backoff_delays(case: Delays) -> None:
    """The wait before retry n follows the kind's rule and never exceeds the cap."""
    assert [case.backoff.delay(n) for n in range(1, len(case.waits) + 1)] == case.waits


@pytest.mark.parametrize("backoff", [Backoff("exp", 1.0, 60.0), Backoff("linear", 1.0, 60.0)],
                         ids=["exp", "linear"])
def test_backoff_far_retry_stays_capped(backoff: Backoff) -> None:
    """A very late retry (as with --retries inf) waits exactly the cap, with no overflow."""
    assert backoff.delay(10**6) == 60.0


@pytest.mark.parametrize(("text", "shown"), [
    ("fixed:2s", "fixed:2s"),
    ("exp:1s..60s", "exp:1s..60s"),
    ("linear:500ms..1m", "linear:0.5s..60s"),
    (None, "fixed:0s"),
])
def test_backoff_str(text: str | None, shown: str) -> None:
    """A backoff prints in the form --backoff accepts, and that form parses back to it."""
    backoff = make_spec("s", None, backoff=text).backoff
    assert str(backoff) == shown
    assert make_spec("s", None, backoff=shown).backoff == backoff


# -- retry_on -----------------------------------------------------------------


class Flaky(ConnectionError):
    """A user-defined exception, for matching by dotted name and by base class."""


@dataclass
class RetryOn:
    """`make_spec(retry_on=names).retries_on(error)` must be `expected`."""

    id: str
    names: str | None
    error: BaseException
    expected: bool


RETRY_ON = [
    RetryOn("default-any-exception", None, ValueError("x"), True),
    RetryOn("default-not-base-exception", None, KeyboardInterrupt(), False),
    RetryOn("by-name", "ValueError", ValueError("x"), True),
    RetryOn("other-name", "ValueError", KeyError("x"), False),
    RetryOn("subclass-via-mro", "ValueError", UnicodeDecodeError("utf-8", b"", 0, 1, "r"), True),
    RetryOn("base-class", "LookupError", KeyError("x"), True),
    RetryOn("one-of-list", "KeyError,TimeoutError", TimeoutError(), True),
    RetryOn("none-of-list", "KeyError,TimeoutError", ValueError("x"), False),
    RetryOn("builtins-qualified", "builtins.KeyError", KeyError("x"), True),
    RetryOn("dotted-qualified", "json.decoder.JSONDecodeError", json.JSONDecodeError("m", "", 0),
            True),
    RetryOn("dotted-wrong-module", "other.JSONDecodeError", json.JSONDecodeError("m", "", 0),
            False),
    RetryOn("user-class-qualified", f"{__name__}.Flaky", Flaky(), True),
    RetryOn("user-class-by-base", "OSError", Flaky(), True),
    RetryOn("user-class-base-qualified", "builtins.ConnectionError", Flaky(), True),
    RetryOn("base-only-not-subclass", "Flaky", ConnectionError(), False),
    RetryOn("exception-not-base-exception", "Exception", KeyboardInterrupt(), False),
    RetryOn("base-exception-never", "BaseException", SystemExit(), False),
]


@pytest.mark.parametrize("case", RETRY_ON, ids=lambda case: case.id)
def test_retries_on(case: RetryOn) -> None:
    """--retry-on matches the class name, any base class in the MRO, or a qualified name."""
    assert make_spec("s", None, retry_on=case.names).retries_on(case.error) is case.expected


# -- start_time ---------------------------------------------------------------


@dataclass
class Start:
    """With dependencies ready at READY, the step may start at `start`."""

    id: str
    options: dict[str, Any]
    start: dt.datetime


STARTS = [
    Start("now", {}, READY),
    Start("delay", {"delay": "30s"}, READY + dt.timedelta(seconds=30)),
    Start("at-later-today", {"at": "14:30"}, dt.datetime(2025, 3, 1, 14, 30)),
    Start("at-past-time-means-now", {"at": "09:00"}, READY),
    Start("at-exactly-now", {"at": "12:00"}, READY),
    Start("delay-beats-at", {"at": "14:30", "delay": "3h"}, dt.datetime(2025, 3, 1, 15, 0)),
    Start("at-beats-delay", {"at": "14:30", "delay": "1h"}, dt.datetime(2025, 3, 1, 14, 30)),
    Start("at-datetime-future", {"at": "2025-03-02T08:00"}, dt.datetime(2025, 3, 2, 8, 0)),
    Start("at-datetime-past", {"at": "2025-02-01T08:00"}, READY),
    Start("at-datetime-past-plus-delay", {"at": "2025-02-01T08:00", "delay": "1m"},
          READY + dt.timedelta(minutes=1)),
]


@pytest.mark.parametrize("case", STARTS, ids=lambda case: case.id)
def test_start_time(case: Start) -> None:
    """The start is the later of ready + --delay and --at; a past --at means now."""
    assert make_spec("s", None, **case.options).start_time(READY) == case.start


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Asia/Tokyo (UTC+9, no daylight saving) for the test."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# Later than READY, and before today: a past --at is always accepted (a far one is beyond --at's horizon).
@pytest.mark.parametrize(("at", "start"), [
    ("2026-01-01T00:00:00+00:00", dt.datetime(2026, 1, 1, 9, 0)),
    ("2026-01-01T09:00:00+09:00", dt.datetime(2026, 1, 1, 9, 0)),
    ("2026-01-01T00:00:00-05:00", dt.datetime(2026, 1, 1, 14, 0)),
])
def test_start_time_aware_at_is_local(tokyo: None, at: str, start: dt.datetime) -> None:
    """An --at with a UTC offset is converted to local wall-clock time."""
    assert make_spec("s", None, at=at).start_time(READY) == start


# -- durations ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5),
    ("30s", 30.0),
    ("10m", 600.0),
    ("2h", 7200.0),
    ("1d", 86400.0),
    ("15", 15.0),
    ("1.5", 1.5),
    ("1.5m", 90.0),
    (".5s", 0.5),
    ("0", 0.0),
    (" 2 m ", 120.0),
    (3, 3.0),
    (2.5, 2.5),
    (0, 0.0),
])
def test_parse_duration(text: str | float, seconds: float) -> None:
    """Every accepted duration form gives exactly its seconds, as a float."""
    result = parse_duration(text)
    assert result == seconds
    assert type(result) is float


@pytest.mark.parametrize(("text", "message"), [
    ("", "not a duration: ''"),
    ("abc", "not a duration: 'abc'"),
    ("-1", "not a duration: '-1'"),
    ("-1s", "not a duration: '-1s'"),
    ("5 minutes", "not a duration: '5 minutes'"),
    ("1e3", "not a duration: '1e3'"),
    ("inf", "not a duration: 'inf'"),
    ("10M", "not a duration: '10M'"),
    ("1s2", "not a duration: '1s2'"),
    ("9" * 400, f"not a duration: '{'9' * 400}'"),
    (-1, "not a duration: -1"),
    (True, "not a duration: True"),
    (math.nan, "not a duration: nan"),
    (math.inf, "not a duration: inf"),
])
def test_parse_duration_rejects(text: Any, message: str) -> None:
    """Negative, non-finite, boolean and malformed durations raise ValueError naming the text."""
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""),
    (0, "0ms"),
    (0.85, "850ms"),
    (0.9994, "999ms"),
    (0.9996, "1.0s"),
    (1, "1.0s"),
    (12.34, "12.3s"),
    (59.94, "59.9s"),
    (59.96, "1m00s"),
    (60, "1m00s"),
    (245, "4m05s"),
    (3599.4, "59m59s"),
    (3599.6, "1h00m"),
    (3720, "1h02m"),
    (90000, "25h00m"),
])
def test_format_duration(seconds: float | None, text: str) -> None:
    """Durations print short, in the largest fitting unit, never as 1000ms or 60.0s."""
    assert format_duration(seconds) == text
