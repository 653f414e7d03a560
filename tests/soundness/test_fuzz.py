"""Cached sessions restore exactly what fresh sessions compute, over random notebooks and edits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .fuzz import fuzz

FIGURES: list[str] = []  # printed at the end of the run by conftest.py


def _check(sequences: int, rounds: int, seed: int, work: Path) -> None:
    report = fuzz(sequences, rounds, seed, work)
    FIGURES.extend([f"soundness fuzzer ({sequences} notebooks x {rounds} edits, seed {seed}):", *report.lines()])
    assert report.false_hits == 0, "\n".join(report.examples)
    assert report.needless_reruns == 0, "\n".join(report.examples)
    assert report.restored > 0 and report.executed > 0  # both paths were exercised


def test_short_form(tmp_path: Path) -> None:
    """A few hundred edit rounds: no restore differs from a fresh run, and nothing re-runs needlessly."""
    _check(int(os.environ.get("NBFLOW_FUZZ_SEQUENCES", "250")), 3, 20261201, tmp_path)


@pytest.mark.long
def test_long_form(tmp_path: Path) -> None:
    """The long form (pytest -m long): thousands of notebooks, more edits each."""
    _check(2000, 5, 7, tmp_path)
