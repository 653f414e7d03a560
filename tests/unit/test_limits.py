"""Bounded inputs: every limit at its boundary, and a fuzzed header parser that raises nothing but NbflowError."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbflow.core.errors import NbflowError, OptionError, StepSyntaxError
from nbflow.core.flow import Flow
from nbflow.core.header import OPTIONS, parse_header
from nbflow.core.limits import MAX_CONDITION, MAX_DURATION, MAX_HEADER, MAX_NAME, MAX_RETRIES
from nbflow.core.spec import StepSpec, make_spec


def refused(header: str, option: str) -> OptionError:
    with pytest.raises(OptionError) as caught:
        parse_header(header)
    error = caught.value
    assert error.option == option, str(error)
    assert "\n" not in str(error) and len(str(error)) < 400, str(error)  # one short line, whatever the input
    return error


def test_step_names_up_to_the_limit() -> None:
    assert make_spec("a" * MAX_NAME).name == "a" * MAX_NAME
    assert "at most 128 characters" in str(refused("a" * (MAX_NAME + 1), "step name"))


def test_headers_up_to_the_limit_and_a_huge_one_is_refused_at_once() -> None:
    padding = " " * (MAX_HEADER - len("s --if True"))
    assert parse_header("s --if True" + padding).condition == "True"
    # Refused as a header (by its length, before any tokenizing or compiling), not as an --if.
    error = refused("s --if " + "(" * 700_000 + "1" + ")" * 700_000, "header")
    assert "characters)" in str(error)  # the value is shown cut, with its length


def test_conditions_up_to_the_limit_and_nesting_beyond_the_compiler() -> None:
    long = "x == 1 and " * ((MAX_CONDITION - 6) // 11) + "x == 1"
    assert len(long) <= MAX_CONDITION
    assert make_spec("s", condition=long).condition == long
    with pytest.raises(OptionError, match="at most 4,096 characters"):
        make_spec("s", condition=long + " or x == 2")
    with pytest.raises(OptionError, match="--if") as caught:
        make_spec("s", condition="-" * 4000 + "1")  # deep unary nesting: parses, or is refused in one line
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", [str(MAX_RETRIES), "0", "inf"])
def test_retries_within_the_limit(value: str) -> None:
    assert parse_header(f"s --retries {value}").retries == float(value)


@pytest.mark.parametrize("value", [str(MAX_RETRIES + 1), "9" * 5000, "-1", "1.5"])
def test_retries_beyond_the_limit(value: str) -> None:
    assert "a whole number from 0 to 10,000" in str(refused(f"s --retries={value}", "--retries"))


@pytest.mark.parametrize(("option", "template"), [
    ("--delay", "--delay {}"), ("--timeout", "--timeout {}"), ("--backoff", "--backoff exp:1s..{}"),
])
def test_durations_up_to_a_year(option: str, template: str) -> None:
    days = int(MAX_DURATION // 86400)
    assert isinstance(parse_header("s " + template.format(f"{days}d")), StepSpec)
    assert "at most" in str(refused("s " + template.format(f"{days + 1}d"), option))
    assert "at most" in str(refused("s " + template.format("4000000d"), option))


def test_at_up_to_a_year_from_now() -> None:
    """--at has --delay's horizon, counted from now; a minute either side of it keeps clear of the test's own time."""
    now, year = dt.datetime.now(), dt.timedelta(seconds=MAX_DURATION)
    inside, beyond = now + year - dt.timedelta(minutes=1), now + year + dt.timedelta(minutes=1)
    assert parse_header(f"s --at {inside.isoformat(timespec='seconds')}").at == inside.replace(microsecond=0)
    error = refused(f"s --at {beyond.isoformat(timespec='seconds')}", "--at")
    assert str(error).startswith("step 's': --at: expected a time at most 366d from now, got "), str(error)
    assert "366d" in str(refused("s --at 9999-12-31T23:59:59", "--at"))
    assert "366d" in str(refused("s --at 9999-12-31T23:59:59+14:00", "--at"))  # an aware time, too
    with pytest.raises(OptionError, match="--at: expected a time at most 366d from now"):
        make_spec("s", "x = 1", at=dt.datetime(9999, 12, 31))  # the Python API's datetime
    assert make_spec("s", at="2001-01-01T00:00").at == dt.datetime(2001, 1, 1)  # a time past means now
    assert make_spec("s", at="23:59").at == dt.time(23, 59)


@pytest.mark.parametrize("name", ["__builtins__", "__name__", "__IPYTHON__", "__x__"])
def test_dunder_step_names_are_refused_for_cell_and_function_steps(name: str) -> None:
    expected = f"step name: expected a name that is not __dunder__ (those are Python's own), got {name!r}"
    assert str(refused(f"{name} --retries 1", "step name")) == expected  # a %%step cell's header

    def func() -> int:
        return 1

    func.__name__ = name
    with Flow() as flow:
        with pytest.raises(OptionError, match=re.escape(expected)):
            flow.step(func)  # the decorator names the step after the function
        with pytest.raises(OptionError, match=re.escape(expected)):
            flow.add(name, func)
        with pytest.raises(OptionError, match=re.escape(expected)):
            flow.add(StepSpec(name, code="x = 1"))  # a spec built by hand follows the same rules
        with pytest.raises(OptionError, match="a name of at most"):
            flow.add(StepSpec("s" * 1_000, code="x = 1"))
        assert name not in flow.steps and name not in flow.namespace
    for fine in ("_private", "__private", "trailing__", "a__b__"):
        assert make_spec(fine, func).name == fine


def test_forty_thousand_dependencies_parse_in_linear_time() -> None:
    names = ",".join(f"s{i}" for i in range(40_000))
    spec = make_spec("sink", after=names + ",s1")  # a repeat is kept once
    assert len(spec.after) == 40_000 and spec.after[:2] == ("s0", "s1")


def test_a_body_nested_beyond_the_parser_is_a_syntax_error() -> None:
    with pytest.raises(StepSyntaxError, match=r"nested too deeply|too many nested|does not parse"):
        make_spec("s", "x = " + "[" * 200_000 + "]" * 200_000)


_FLAGS = [o.flag for o in OPTIONS]
_WORDS = st.one_of(
    st.sampled_from(_FLAGS),
    st.sampled_from(["1", "0", "-1", "inf", "nan", "1e400", "9" * 60, "30s", "4000000d", "exp:1s..2s", "fixed:1s",
                     "linear:2s..1s", "14:30", "2026-12-01T10:00", "stop", "continue", "thread", "dask", "a,b",
                     "x ==", "(((", "'", '"', "\\", "--", "-", "=", "a" * 200, "ValueError,os.error"]),
    st.text(max_size=12),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WORDS, max_size=10))
def test_fuzzed_headers_raise_nothing_but_nbflow_errors(words: list[str]) -> None:
    check_header(" ".join(words))


@pytest.mark.long
@settings(max_examples=30_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WORDS, max_size=14))
def test_fuzzed_headers_long_form(words: list[str]) -> None:
    check_header(" ".join(words))


def check_header(header: str) -> None:
    try:
        spec = parse_header(header, "x = 1")
    except NbflowError as error:
        assert "\n" not in str(error), str(error)
    else:
        assert isinstance(spec, StepSpec)
