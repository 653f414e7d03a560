"""The user guide keeps up with the code: every `%%step` option and `%flow` subcommand has its section."""

from __future__ import annotations

import re
from pathlib import Path

from nbflow.core.header import OPTIONS
from nbflow.jupyter.magics import SUBCOMMANDS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"


def _headings(page: str) -> list[str]:
    """The Markdown headings of a guide page, without their `#` marks."""
    text = (GUIDE / page).read_text(encoding="utf-8")
    return [line.lstrip("#").strip() for line in text.splitlines() if re.match(r"#{1,6} ", line)]


def _section_for(headings: list[str], code: str) -> bool:
    """Whether a heading starts with `code` in backticks, followed by a space or the closing backtick."""
    pattern = re.compile(rf"`{re.escape(code)}[ `]")
    return any(pattern.match(heading) for heading in headings)


def test_every_step_option_has_a_section_in_step_options() -> None:
    """Each flag in OPTIONS heads a section of step-options.md (`--after` does not count for `--after-any`)."""
    headings = _headings("step-options.md")
    missing = [option.flag for option in OPTIONS if not _section_for(headings, option.flag)]
    assert OPTIONS and not missing, f"step-options.md has no section for {missing}"


def test_every_flow_subcommand_has_a_section_in_commands() -> None:
    """Each subcommand `%flow` accepts heads a section of commands.md."""
    headings = _headings("commands.md")
    missing = [name for name in SUBCOMMANDS if not _section_for(headings, f"%flow {name}")]
    assert SUBCOMMANDS and not missing, f"commands.md has no section for %flow {missing}"
