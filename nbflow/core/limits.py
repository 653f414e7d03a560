"""The bounds on what a step definition may hold, checked when the step is defined.

Each guards against a definition that would be accepted and then fail later
or hang: a name too long for the store's file names, a header so big that
parsing it takes seconds, an expression nested deeper than the compiler's
stack, a retry count or duration beyond any real use (a delay of 4,000,000
days overflows the event loop's timer). A definition past a bound is refused
with a one-line `OptionError` naming the option, and the previous definition
stays. `docs/guide/step-options.md` lists them.
"""

from __future__ import annotations

#: Characters in a step name. The store names a folder after the step, and file names stay under 255 bytes.
MAX_NAME = 128
#: Characters of a `%%step` header (the text after `%%step`).
MAX_HEADER = 64 * 1024
#: Characters of an `--if` expression.
MAX_CONDITION = 4096
#: `--retries` (besides `inf`).
MAX_RETRIES = 10_000
#: Seconds of any duration: `--delay`, `--timeout`, `--backoff` (a year), how far ahead `--at` may be,
#: and how errors say it.
MAX_DURATION = 366 * 86400.0
MAX_DURATION_TEXT = "366d"
#: Characters of an option value shown in an error message.
SHOWN_CHARS = 80


def shown(text: str) -> str:
    """`text` as an error message shows it: cut, with its length, when it is long."""
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"
