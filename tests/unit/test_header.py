"""The `%%step` header parser: table-driven good and bad headers, help text, the parser."""

from __future__ import annotations

import datetime as dt
import math
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from nbflow.core.errors import NbflowError, OptionError, StepSyntaxError
from nbflow.core.header import (
    OPTIONS,
    HeaderParser,
    UnknownOptionError,
    build_parser,
    header_help,
    parse_header,
)
from nbflow.core.spec import Backoff, StepSpec, make_spec

# Exactly the documented options (docs/guide/step-options.md), in their order.
DOCUMENTED_FLAGS = (
    "--after", "--after-any", "--retries", "--backoff", "--retry-on", "--timeout", "--if",
    "--on-fail", "--delay", "--at", "--executor", "--no-cache", "--watch",
)

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
}


def spec_fields(spec: StepSpec) -> dict[str, Any]:
    """The option fields of a spec, for exact comparison with DEFAULTS plus overrides."""
    return {key: getattr(spec, key) for key in DEFAULTS}


# -- good headers -------------------------------------------------------------


@dataclass
class Good:
    """`parse_header(header)` must give step `name` with DEFAULTS updated by `fields`."""

    header: str
    name: str
    fields: dict[str, Any] = field(default_factory=dict)


GOOD = [
    Good("load", "load"),
    Good("  load   ", "load"),
    Good("load.v2-b_c", "load.v2-b_c"),
    Good("clean --after load", "clean", {"after": ("load",)}),
    Good("clean --after a,b --after c", "clean", {"after": ("a", "b", "c")}),
    Good("clean --after=a", "clean", {"after": ("a",)}),
    Good("clean --after 'a, b'", "clean", {"after": ("a", "b")}),
    Good("clean --after-any c,d --after a", "clean", {"after": ("a",), "after_any": ("c", "d")}),
    Good("clean --after-any c --after-any d,c", "clean", {"after_any": ("c", "d")}),
    Good("clean --retries 3", "clean", {"retries": 3}),
    Good("clean --retries=0", "clean", {"retries": 0}),
    Good("clean --retries inf", "clean", {"retries": math.inf}),
    Good("clean --retries INF", "clean", {"retries": math.inf}),
    Good("clean --backoff fixed:2s", "clean", {"backoff": Backoff("fixed", 2.0, 2.0)}),
    Good("clean --backoff exp:1s..60s", "clean", {"backoff": Backoff("exp", 1.0, 60.0)}),
    Good("clean --backoff linear:500ms..30s", "clean",
         {"backoff": Backoff("linear", 0.5, 30.0)}),
    Good("clean --backoff exp:1.5s..2m", "clean", {"backoff": Backoff("exp", 1.5, 120.0)}),
    Good("clean --retry-on ValueError,KeyError --retry-on requests.HTTPError", "clean",
         {"retry_on": ("ValueError", "KeyError", "requests.HTTPError")}),
    Good("clean --timeout 10m", "clean", {"timeout": 600.0}),
    Good("clean --timeout 1.5", "clean", {"timeout": 1.5}),
    Good('clean --if "len(rows) > 0"', "clean", {"condition": "len(rows) > 0"}),
    Good("clean --if 'name == \"x y\"'", "clean", {"condition": 'name == "x y"'}),
    Good("clean --if ' ready '", "clean", {"condition": "ready"}),
    Good("clean --if -x", "clean", {"condition": "-x"}),
    Good("clean --if=a==1", "clean", {"condition": "a==1"}),
    Good("clean --on-fail continue", "clean", {"on_fail": "continue"}),
    Good("clean --on-fail stop", "clean", {"on_fail": "stop"}),
    Good("clean --delay 500ms", "clean", {"delay": 0.5}),
    Good("clean --delay=2h", "clean", {"delay": 7200.0}),
    Good("clean --at 14:30", "clean", {"at": dt.time(14, 30)}),
    Good("clean --at 14:30:15", "clean", {"at": dt.time(14, 30, 15)}),
    Good("clean --at 2025-03-01T14:30:00", "clean", {"at": dt.datetime(2025, 3, 1, 14, 30)}),
    Good("clean --at 2025-03-01T14:30:00+00:00", "clean",
         {"at": dt.datetime(2025, 3, 1, 14, 30, tzinfo=dt.timezone.utc)}),
    Good("clean --executor process", "clean", {"executor": "process"}),
    Good("clean --executor dask", "clean", {"executor": "dask"}),
    Good("clean --no-cache", "clean", {"no_cache": True}),
    Good("clean --watch data/a.csv --watch 'my data/b.csv'", "clean",
         {"watch": ("data/a.csv", "my data/b.csv")}),
    Good("clean --watch a.csv,raw/", "clean", {"watch": ("a.csv", "raw/")}),
    Good('clean --after load --retries 3 --backoff exp:1s..30s --if "len(rows) > 0"', "clean",
         {"after": ("load",), "retries": 3, "backoff": Backoff("exp", 1.0, 30.0),
          "condition": "len(rows) > 0"}),
    Good("report --no-cache --after stats,plot --on-fail continue --delay 1s --at 06:00 "
         "--executor thread --timeout 2m --retries 1 --retry-on OSError --watch out/", "report",
         {"after": ("stats", "plot"), "no_cache": True, "on_fail": "continue", "delay": 1.0,
          "at": dt.time(6, 0), "timeout": 120.0, "retries": 1, "retry_on": ("OSError",),
          "watch": ("out/",)}),
]


@pytest.mark.parametrize("case", GOOD, ids=lambda case: case.header)
def test_parse_header_accepts(case: Good) -> None:
    """Each good header gives exactly the expected name and option fields."""
    spec = parse_header(case.header, "x = 1", cell="c3")
    assert spec.name == case.name
    assert spec_fields(spec) == {**DEFAULTS, **case.fields}
    for key, value in case.fields.items():
        assert type(getattr(spec, key)) is type(value), key
    assert (spec.code, spec.cell) == ("x = 1", "c3")


def test_parse_header_matches_make_spec() -> None:
    """The header goes through make_spec: the same options give an equal spec."""
    header = "clean --after load --retries 3 --backoff exp:1s..30s --if 'n > 0' --watch d/"
    expected = make_spec("clean", "rows = 1", after="load", retries="3", backoff="exp:1s..30s",
                         condition="n > 0", watch="d/")
    assert parse_header(header, "rows = 1") == expected


def test_parse_header_without_body() -> None:
    """With no body the spec has no code (the header alone is checked)."""
    spec = parse_header("clean --retries 2")
    assert (spec.code, spec.func, spec.cell, spec.retries) == (None, None, None, 2)


# -- bad headers --------------------------------------------------------------


@dataclass
class Bad:
    """`parse_header(header, body)` must raise `error` with exactly `message`."""

    header: str
    message: str
    error: type[NbflowError] = OptionError
    body: str = "x = 1"


FLAG_LIST = ", ".join(DOCUMENTED_FLAGS)
NAME_FIRST = "a step name first, as in %%step NAME [options]"
SHAPE = "one step name followed by options (quote a value that contains spaces)"
SELF = "another step's name (a step cannot depend on itself)"

BAD = [
    Bad("", f"step name: expected {NAME_FIRST}, got ''"),
    Bad("   ", f"step name: expected {NAME_FIRST}, got ''"),
    Bad("--after load", f"step name: expected {NAME_FIRST}, got '--after load'"),
    Bad("-x clean", f"step name: expected {NAME_FIRST}, got '-x clean'"),
    Bad("1load", "step name: expected a name of letters, digits, _ . - (not starting with a "
        "digit), got '1load'"),
    Bad('clean --if "len(rows) > 0', "step 'clean': header: expected balanced quotes, "
        "got 'clean --if \"len(rows) > 0'"),
    Bad("clean --if 'x", "step 'clean': header: expected balanced quotes, got \"clean --if 'x\""),
    Bad('"clean --retries 1', "header: expected balanced quotes, got '\"clean --retries 1'"),
    Bad("clean --watch data\\", "step 'clean': header: expected no lone backslash at the end, "
        "got 'clean --watch data\\\\'"),
    Bad("clean --retry 3", f"step 'clean': option: expected one of {FLAG_LIST}, got '--retry' "
        "(did you mean --retry-on or --retries?)", UnknownOptionError),
    Bad("clean --retires 3", f"step 'clean': option: expected one of {FLAG_LIST}, "
        "got '--retires' (did you mean --retries?)", UnknownOptionError),
    Bad("clean --after_any a", f"step 'clean': option: expected one of {FLAG_LIST}, "
        "got '--after_any' (did you mean --after-any?)", UnknownOptionError),
    Bad("clean --nocache", f"step 'clean': option: expected one of {FLAG_LIST}, "
        "got '--nocache' (did you mean --no-cache?)", UnknownOptionError),
    Bad("clean --timout=5s", f"step 'clean': option: expected one of {FLAG_LIST}, "
        "got '--timout' (did you mean --timeout?)", UnknownOptionError),
    Bad("clean --after a --frobnicate", f"step 'clean': option: expected one of {FLAG_LIST}, "
        "got '--frobnicate'", UnknownOptionError),
    Bad("clean -x", f"step 'clean': option: expected one of {FLAG_LIST}, got '-x'",
        UnknownOptionError),
    Bad("clean --help", f"step 'clean': option: expected one of {FLAG_LIST}, got '--help' "
        "(%%step? shows them all)", UnknownOptionError),
    Bad("clean -h", f"step 'clean': option: expected one of {FLAG_LIST}, got '-h' "
        "(%%step? shows them all)", UnknownOptionError),
    Bad("clean --retries", "step 'clean': --retries: expected a value, got ''"),
    Bad("clean --after --retries 2", "step 'clean': --after: expected a value, got ''"),
    Bad("clean --if", "step 'clean': --if: expected a value, got ''"),
    Bad("clean --retries 3 --retries 4",
        "step 'clean': --retries: expected one value (the option is given twice), got '4'"),
    Bad("clean --on-fail stop --on-fail=continue",
        "step 'clean': --on-fail: expected one value (the option is given twice), got 'continue'"),
    Bad("clean --no-cache=yes", "step 'clean': --no-cache: expected no value (it is a flag), "
        "got 'yes'"),
    Bad("clean --if len(rows) > 0", f"step 'clean': header: expected {SHAPE}, got '>'"),
    Bad("clean extra", f"step 'clean': header: expected {SHAPE}, got 'extra'"),
    Bad("clean --retries 3 4", f"step 'clean': header: expected {SHAPE}, got '4'"),
    Bad("clean -", f"step 'clean': header: expected {SHAPE}, got '-'"),
    Bad("clean --retries -1",
        "step 'clean': --retries: expected a whole number from 0 to 10,000 or 'inf', got '-1'"),
    Bad("clean --retries 1.5",
        "step 'clean': --retries: expected a whole number from 0 to 10,000 or 'inf', got '1.5'"),
    Bad("clean --delay -5s", "step 'clean': --delay: expected a duration such as 500ms, 30s, 10m, "
        "2h or plain seconds, got '-5s'"),
    Bad("clean --timeout 0", "step 'clean': --timeout: expected a duration above zero, got '0'"),
    Bad("clean --timeout 5min", "step 'clean': --timeout: expected a duration such as 500ms, 30s, "
        "10m, 2h or plain seconds, got '5min'"),
    Bad("clean --backoff exp:1s",
        "step 'clean': --backoff: expected exp:MIN..MAX with MAX >= MIN, got 'exp:1s'"),
    Bad("clean --backoff exp:10s..1s",
        "step 'clean': --backoff: expected exp:MIN..MAX with MAX >= MIN, got 'exp:10s..1s'"),
    Bad("clean --backoff 2s", "step 'clean': --backoff: expected fixed:DUR, exp:MIN..MAX or "
        "linear:MIN..MAX (e.g. exp:1s..60s), got '2s'"),
    Bad("clean --retry-on 1Error", "step 'clean': --retry-on: expected exception class names "
        "separated by commas, got '1Error'"),
    Bad('clean --if "x >"',
        "step 'clean': --if: expected a Python expression (invalid syntax), got 'x >'"),
    Bad("clean --if=", "step 'clean': --if: expected a Python expression, got ''"),
    Bad("clean --on-fail ignore", "step 'clean': --on-fail: expected stop or continue, "
        "got 'ignore'"),
    Bad("clean --executor gpu", "step 'clean': --executor: expected thread or process or dask, "
        "got 'gpu'"),
    Bad("clean --at 25:00", "step 'clean': --at: expected a time such as 14:30, 14:30:15 or an "
        "ISO 8601 date-time, got '25:00'"),
    Bad("clean --after clean", f"step 'clean': --after: expected {SELF}, got 'clean'"),
    Bad("clean --after-any load,clean", f"step 'clean': --after-any: expected {SELF}, got 'clean'"),
    Bad("clean --after 'a b'",
        "step 'clean': --after: expected step names separated by commas, got 'a b'"),
    Bad("clean --after ''", "step 'clean': --after: expected names separated by commas, got ''"),
    Bad("clean --after -x",
        "step 'clean': --after: expected step names separated by commas, got '-x'"),
    Bad("clean --retries 2", "step 'clean': code does not parse (line 1): '(' was never closed",
        StepSyntaxError, body="rows = ("),
]


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.header)
def test_parse_header_rejects(case: Bad) -> None:
    """Each bad header raises the expected error class with exactly the expected one-line text."""
    with pytest.raises(NbflowError) as info:
        parse_header(case.header, case.body)
    assert type(info.value) is case.error
    assert str(info.value) == case.message


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.header)
def test_header_errors_are_value_errors_and_pickle(case: Bad) -> None:
    """Every header error is an NbflowError and a ValueError and pickles with its fields intact."""
    with pytest.raises(ValueError) as info:
        parse_header(case.header, case.body)
    error = info.value
    assert isinstance(error, NbflowError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) == case.message
    assert copy._fields == error._fields
    for key, value in error._fields.items():
        assert getattr(copy, key) == value


@pytest.mark.parametrize(("header", "fields"), [
    ("clean --retry 3", {"step": "clean", "option": "option", "value": "--retry",
                         "suggestions": ("--retry-on", "--retries")}),
    ("clean --bogus", {"step": "clean", "option": "option", "value": "--bogus",
                       "suggestions": ()}),
    ("clean --retries 3 --retries 4", {"step": "clean", "option": "--retries", "value": "4"}),
    ("clean --delay", {"step": "clean", "option": "--delay", "value": ""}),
    ("clean --if 'x", {"step": "clean", "option": "header", "value": "clean --if 'x"}),
    ("--after a", {"step": None, "option": "step name", "value": "--after a"}),
    ("clean extra", {"step": "clean", "option": "header", "value": "extra"}),
])
def test_header_error_fields(header: str, fields: dict[str, Any]) -> None:
    """Header errors carry the step, option, value (and suggestions) a program reads."""
    with pytest.raises(OptionError) as info:
        parse_header(header)
    assert {key: getattr(info.value, key) for key in fields} == fields


# -- help and the reusable parser ---------------------------------------------


def test_options_are_exactly_the_documented_ones() -> None:
    """The parser knows exactly the documented options, in the documented order."""
    assert tuple(option.flag for option in OPTIONS) == DOCUMENTED_FLAGS


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.flag)
def test_help_lists_every_option(option: Any) -> None:
    """The help text has each option, its value placeholder and its one-line description."""
    text = " ".join(header_help().split())
    usage = option.flag if option.metavar is None else f"{option.flag} {option.metavar}"
    assert f" {usage} {option.help} " in f" {text} "
    assert option.help and "\n" not in option.help


def test_help_usage_and_durations() -> None:
    """The help starts with the usage line and explains durations and quoting."""
    text = header_help()
    assert text.startswith("usage: %%step NAME [options]\n")
    flat = " ".join(text.split())
    assert "500ms, 30s, 10m, 2h or plain seconds" in flat
    assert '--if "len(rows) > 0"' in flat


@pytest.mark.parametrize("columns", ["40", "300"])
def test_help_does_not_depend_on_terminal_width(monkeypatch: pytest.MonkeyPatch,
                                                columns: str) -> None:
    """The help text is the same whatever the terminal width."""
    wide = header_help()
    monkeypatch.setenv("COLUMNS", columns)
    assert header_help() == wide


@dataclass
class ParserCase:
    """`build_parser().parse_args(words)` must give `parsed`, or raise with `message`."""

    words: list[str]
    parsed: dict[str, Any] | None = None
    message: str | None = None


PARSER = [
    ParserCase(["load"], {"name": "load"}),
    ParserCase(["clean", "--after", "a", "--after", "b,c", "--no-cache", "--retries", "3"],
               {"name": "clean", "after": ["a", "b,c"], "no_cache": True, "retries": "3"}),
    ParserCase(["clean", "--delay", "-1s"], {"name": "clean", "delay": "-1s"}),
    ParserCase([], message=f"step name: expected {NAME_FIRST}, got ''"),
    ParserCase(["clean", "--bogus"], message=f"step 'clean': option: expected one of "
               f"{FLAG_LIST}, got '--bogus'"),
    ParserCase(["clean", "--timeout"], message="step 'clean': --timeout: expected a value, got ''"),
    ParserCase(["clean", "x"], message=f"step 'clean': header: expected {SHAPE}, got 'x'"),
]


@pytest.mark.parametrize("case", PARSER, ids=lambda case: " ".join(case.words) or "empty")
def test_parser_reusable(case: ParserCase, capsys: pytest.CaptureFixture[str]) -> None:
    """The parser alone reads only the given options and never prints or exits on errors."""
    parser = build_parser()
    if case.message is None:
        assert vars(parser.parse_args(case.words)) == case.parsed
    else:
        with pytest.raises(OptionError) as info:
            parser.parse_args(case.words)
        assert str(info.value) == case.message
    assert capsys.readouterr() == ("", "")


def test_parser_keeps_no_state_between_calls() -> None:
    """One parser parses several headers, each error naming its own step."""
    parser = build_parser()
    assert vars(parser.parse_args(["a", "--retries", "1"])) == {"name": "a", "retries": "1"}
    with pytest.raises(OptionError, match=r"^step 'b': --retries: expected a value"):
        parser.parse_args(["b", "--retries"])
    assert vars(parser.parse_args(["c"])) == {"name": "c"}


@pytest.mark.parametrize(("call", "args", "got"), [
    ("error", ("something broke",), "something broke"),
    ("exit", (2, "something broke"), "something broke"),
    ("exit", (), "exit status 0"),
])
def test_parser_error_and_exit_raise(call: str, args: tuple[Any, ...], got: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's error() and exit() raise OptionError instead of printing and exiting."""
    parser = build_parser()
    assert isinstance(parser, HeaderParser)
    with pytest.raises(OptionError) as info:
        getattr(parser, call)(*args)
    assert str(info.value) == f"header: expected %%step NAME [options], got {got!r}"
    assert capsys.readouterr() == ("", "")


def test_header_imports_no_ipython() -> None:
    """The header parser (like all of nbflow.core) imports no IPython."""
    code = (
        "import sys, nbflow.core.header\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipykernel'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
