"""Print the fuzzer's figures (false_hits, needless_reruns) after the test summary."""

from __future__ import annotations

from typing import Any

from .test_fuzz import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("soundness")
        for line in FIGURES:
            terminalreporter.write_line(line)
