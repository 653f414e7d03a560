"""The `%%step NAME [options]` header line (docs/guide/step-options.md), parsed into a `StepSpec`.

The header is split with shell quoting rules (`shlex`) and read with
`argparse`; this module only knows which options exist and how many values
each takes. Every value is checked by `make_spec`, the single validation path,
so a bad value gets the same one-line `OptionError` here as from the Python API.
Nothing here prints or exits: every problem is raised as an `OptionError`.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import NbflowError, OptionError
from .limits import MAX_HEADER
from .spec import StepSpec, make_spec

PROG = "%%step"
USAGE = "%(prog)s NAME [options]"


@dataclass(frozen=True)
class HeaderOption:
    """One `%%step` option: its flag, the `make_spec` keyword, how it reads, its help."""

    flag: str
    dest: str
    metavar: str | None  # None: a flag that takes no value
    repeatable: bool
    help: str


OPTIONS: tuple[HeaderOption, ...] = (
    HeaderOption("--after", "after", "A,B", True,
                 "run when every listed step has succeeded, been skipped or been restored"),
    HeaderOption("--after-any", "after_any", "C,D", True,
                 "run when at least one listed step has succeeded or been restored"),
    HeaderOption("--retries", "retries", "N", False,
                 "up to N more attempts after a failure (default 0); inf: until it succeeds"),
    HeaderOption("--backoff", "backoff", "SPEC", False,
                 "wait before a retry: fixed:2s, exp:1s..60s or linear:1s..30s (default fixed:0s)"),
    HeaderOption("--retry-on", "retry_on", "EXC,...", True,
                 "retry only these exception types (default: any Exception)"),
    HeaderOption("--timeout", "timeout", "DUR", False,
                 "an attempt running longer fails with TimeoutError (and may be retried)"),
    HeaderOption("--if", "condition", "EXPR", False,
                 "run only if EXPR is true in the notebook namespace, else skip the step"),
    HeaderOption("--on-fail", "on_fail", "stop|continue", False,
                 "stop (default): block dependents; continue: dependents run as if skipped"),
    HeaderOption("--delay", "delay", "DUR", False,
                 "wait this long after the dependencies are ready"),
    HeaderOption("--at", "at", "TIME", False,
                 "start no earlier than this wall-clock time (14:30 or ISO 8601)"),
    HeaderOption("--executor", "executor", "thread|process|dask", False,
                 "where the code runs (default thread, in the kernel)"),
    HeaderOption("--no-cache", "no_cache", None, False,
                 "never restore this step from a checkpoint"),
    HeaderOption("--watch", "watch", "PATH,...", True,
                 "files or folders the step reads; their content joins the cache key"),
)

FLAGS: tuple[str, ...] = tuple(option.flag for option in OPTIONS)
_BY_FLAG = {option.flag: option for option in OPTIONS}

_DESCRIPTION = "Define this cell as the workflow step NAME."
_EPILOG = (
    "DUR is a duration: 500ms, 30s, 10m, 2h or plain seconds. "
    "Lists take commas or a repeated option (--after a --after b). "
    "Values are split like a shell command line: quote one that contains spaces, "
    "as in --if \"len(rows) > 0\"."
)
_HEADER_SHAPE = "one step name followed by options (quote a value that contains spaces)"


class UnknownOptionError(OptionError):
    """An option `%%step` does not have; `suggestions` are the closest real ones, if any."""

    suggestions: tuple[str, ...]

    def __init__(self, step: str | None, given: str) -> None:
        suggestions = () if given in ("-h", "--help") else _closest(given)
        expected = "one of " + ", ".join(FLAGS)
        where = f"step {step!r}: " if step else ""
        if suggestions:
            hint = f" (did you mean {' or '.join(suggestions)}?)"
        else:
            hint = f" ({PROG}? shows them all)" if given in ("-h", "--help") else ""
        NbflowError.__init__(
            self,
            f"{where}option: expected {expected}, got {given!r}{hint}",
            step=step,
            option="option",
            value=given,
            expected=expected,
            suggestions=suggestions,
        )


def _closest(given: str) -> tuple[str, ...]:
    """The best difflib match, plus the runner-up when it is nearly as close.

    `--retry` is as likely a misspelt `--retries` as a cut-short `--retry-on`,
    so both are offered; `--after_any` gets only `--after-any`.
    """
    scored = sorted(
        ((difflib.SequenceMatcher(None, given, flag).ratio(), flag) for flag in FLAGS),
        reverse=True,
    )
    best = [(score, flag) for score, flag in scored[:2] if score >= 0.6]
    if len(best) == 2 and best[1][0] < best[0][0] - 0.1:
        best = best[:1]
    return tuple(flag for _, flag in best)


class HeaderParser(argparse.ArgumentParser):
    """An `ArgumentParser` for the header that raises `OptionError` and never prints or exits.

    `parse_args(words)` takes the header already split into words, NAME first,
    and returns a namespace holding only the options given (repeatable ones as
    lists); errors name the step. The parser keeps no state between calls.
    """

    def parse_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> Any:
        words = list(args) if args is not None else []
        step = _step_of(words)
        if step is None:
            raise OptionError(None, "step name", " ".join(words),
                              f"a step name first, as in {PROG} NAME [options]")
        parsed, extras = self.parse_known_args(words, namespace)
        if extras:
            first = extras[0]
            if first.startswith("-") and first != "-":
                raise UnknownOptionError(step, first.split("=", 1)[0])
            raise OptionError(step, "header", first, _HEADER_SHAPE)
        return parsed

    def parse_known_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> Any:
        words = list(args) if args is not None else []
        try:
            return super().parse_known_args(_attach_dash_values(words), namespace)
        except argparse.ArgumentError as error:
            problem = _option_error(_step_of(words), error)
        # Raised outside the handler, so the error has no argparse context (which holds the parser):
        # where tblib is installed (importing dask.distributed does it) an exception pickles with its context.
        raise problem

    def error(self, message: str) -> NoReturn:
        raise OptionError(None, "header", message, f"{PROG} NAME [options]")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise OptionError(None, "header", message or f"exit status {status}",
                          f"{PROG} NAME [options]")


def _step_of(words: Sequence[str]) -> str | None:
    """The step name: the first word, unless the header starts with an option."""
    return words[0] if words and not words[0].startswith("-") else None


class _Repeated(argparse.ArgumentError):
    """A single-value option given twice (carries the second value)."""

    def __init__(self, action: argparse.Action, value: str) -> None:
        super().__init__(action, "given more than once")
        self.value = value


class _Once(argparse.Action):
    """Store one value; a second occurrence of the option is an error, not an override."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if self.dest in vars(namespace):
            raise _Repeated(self, str(values))
        setattr(namespace, self.dest, values)


class _HelpFormatter(argparse.HelpFormatter):
    """A fixed width, so the help text does not depend on the terminal."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)


def build_parser() -> HeaderParser:
    """A fresh parser for the `%%step` header (NAME plus every option in OPTIONS).

    Options left out are absent from the parsed namespace (not None), so only
    what the user wrote reaches `make_spec`. Repeatable options collect lists.
    """
    parser = HeaderParser(
        prog=PROG,
        usage=USAGE,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
        add_help=False,
        allow_abbrev=False,
        exit_on_error=False,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="the step's name: letters, digits, _ . - (not starting with a digit)")
    for option in OPTIONS:
        if option.metavar is None:
            parser.add_argument(option.flag, dest=option.dest, action="store_true",
                                help=option.help)
        elif option.repeatable:
            parser.add_argument(option.flag, dest=option.dest, action="append",
                                metavar=option.metavar, help=option.help)
        else:
            parser.add_argument(option.flag, dest=option.dest, action=_Once,
                                metavar=option.metavar, help=option.help)
    return parser


@functools.lru_cache(maxsize=1)
def _shared_parser() -> HeaderParser:
    """Built once: building one costs more than parsing a header, and parsing keeps no state in it."""
    return build_parser()


def header_help() -> str:
    """The full usage text: every option with a one-line description."""
    return build_parser().format_help()


def parse_header(header: str, body: str | None = None, *, cell: str | None = None) -> StepSpec:
    """The validated spec for a `%%step` header line (the text after `%%step`).

    `body` is the cell's code (checked to parse); `cell` is the id of the cell
    that owns the step. Raises `OptionError` (or `StepSyntaxError` for a body
    that does not parse) with a one-line message naming the step and option.
    """
    if len(header) > MAX_HEADER:
        raise OptionError(_first_word(header[:1000]), "header", header,
                          f"a header of at most {MAX_HEADER:,} characters")
    try:
        tokens = shlex.split(header)
    except ValueError as error:  # "No closing quotation", "No escaped character"
        detail = str(error).lower()
        expected = "balanced quotes" if "quotation" in detail else "no lone backslash at the end"
        raise OptionError(_first_word(header), "header", header, expected) from None
    options = vars(_shared_parser().parse_args(tokens))
    name = options.pop("name")
    return make_spec(name, body, cell=cell, **options)


def _first_word(header: str) -> str | None:
    """The step name as best it can be read from a header shlex rejects."""
    words = header.split()
    return words[0] if words and re.match(r"^[A-Za-z_][\w.\-]*\Z", words[0]) else None


def _attach_dash_values(tokens: list[str]) -> list[str]:
    """`--delay -5s` → `--delay=-5s`: the word after a value option is always its value.

    argparse would read `-5s` as an option and report a missing value; joined,
    the value reaches `make_spec`, which names what is wrong with it. A word
    starting with `--` is left alone (it is an option, and the value is missing).
    """
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        option = _BY_FLAG.get(token)
        if (
            option is not None
            and option.metavar is not None
            and index + 1 < len(tokens)
            and tokens[index + 1].startswith("-")
            and not tokens[index + 1].startswith("--")
        ):
            out.append(f"{token}={tokens[index + 1]}")
            index += 2
            continue
        out.append(token)
        index += 1
    return out


def _option_error(name: str | None, error: argparse.ArgumentError) -> OptionError:
    """An argparse complaint about one option, as an `OptionError` for step `name`."""
    option = error.argument_name or "header"
    if isinstance(error, _Repeated):
        return OptionError(name, option, error.value, "one value (the option is given twice)")
    if error.message.startswith("expected one argument"):
        return OptionError(name, option, "", "a value")
    ignored = re.match(r"ignored explicit argument (.*)$", error.message)
    if ignored:
        value = ignored.group(1).strip("'\"")
        return OptionError(name, option, value, "no value (it is a flag)")
    return OptionError(name, option, error.message, "a valid use of the option")
