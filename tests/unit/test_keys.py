"""Cache keys: cosmetic edits keep them, anything that changes the result changes them."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.core.keys import changed_parts, describe, step_key
from nbflow.core.spec import make_spec

BASE = "rows = [r for r in raw if r > limit]\ntotal = sum(rows)\n"
INPUTS = {"raw": [1, 5, 9], "limit": 3}


def key(code: str = BASE, inputs: dict[str, Any] | None = None, root: Path | None = None,
        **options: Any) -> str | None:
    spec = make_spec("s", code, **options)
    return step_key(spec, INPUTS if inputs is None else inputs, watch_root=root).value


COSMETIC = [
    "rows = [r for r in raw if r > limit]\n\n\ntotal = sum(rows)\n",
    "rows = [ r for r in raw if r > limit ]  # keep the big ones\ntotal = sum( rows )\n",
    "# a comment\nrows = [r for r in raw\n        if r > limit]\ntotal = sum(rows)",
]
CHANGES = [
    "rows = [r for r in raw if r >= limit]\ntotal = sum(rows)\n",
    "rows = [r for r in raw if r > limit]\ntotal = max(rows)\n",
    "rows = [r for r in raw if r > limit]\ntotal = sum(rows) + 0\n",
    "rows = [r for r in raw if r > limit]\ntotal = sum(rows)\n'a docstring-like string'\n",
    "rows = [x for x in raw if x > limit]\ntotal = sum(rows)\n",
]


@pytest.mark.parametrize("code", COSMETIC)
def test_cosmetic_edits_keep_the_key(code: str) -> None:
    """Whitespace, blank lines, comments and line breaks inside brackets do not count."""
    assert key(code) == key()


@pytest.mark.parametrize("code", CHANGES)
def test_code_changes_change_the_key(code: str) -> None:
    """An operator, a call, a constant, a string or a name changes the key."""
    assert key(code) != key()


@pytest.mark.parametrize(("option", "value", "changes"), [
    ("condition", "len(raw) > 0", True),
    ("watch", "data.csv", True),
    ("retries", 3, False),
    ("backoff", "exp:1s..30s", False),
    ("retry_on", "OSError", False),
    ("timeout", "10m", False),
    ("delay", "1s", False),
    ("on_fail", "continue", False),
    ("executor", "process", False),
    ("after", "other", False),
])
def test_only_result_changing_options_count(tmp_path: Path, option: str, value: Any, changes: bool) -> None:
    """--if and --watch change the key; dependencies, retries, timeouts and other run settings do not."""
    assert (key(root=tmp_path, **{option: value}) != key(root=tmp_path)) is changes


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(values, values)
def test_different_inputs_never_share_a_key(a: Any, b: Any) -> None:
    """Keys are equal exactly when the input values are equal, of the same types and in the same order."""
    same = a == b and repr(a) == repr(b)
    assert (key(inputs={"raw": [], "limit": a}) == key(inputs={"raw": [], "limit": b})) is same


def test_a_name_read_and_rebound_still_counts_as_an_input() -> None:
    """`n = n * 2` reads n before it binds it: its value is part of the key."""
    code = "n = n * 2"
    assert key(code, {"n": 1}) != key(code, {"n": 2})


def test_a_builtin_name_rebound_in_the_namespace_is_an_input() -> None:
    """A plain-cell `max = 10` read by a step counts; the real builtin adds nothing."""
    code = "top = max"
    assert key(code, {"max": 10}) != key(code, {"max": 11})
    assert key(code, {}) == key(code, {"max": max})


@pytest.mark.parametrize("code", ["y = globals()['x']", "y = eval('x')", "exec('y = x')", "y = vars()['x']",
                                  "def f():\n    return globals()['x']\ny = f()"])
def test_reads_the_analysis_cannot_see_turn_caching_off(code: str) -> None:
    """globals(), vars(), eval and exec read names nobody can list: no key, and the reason says so."""
    result = step_key(make_spec("s", code), {"x": 1})
    assert result.value is None
    assert result.reason is not None and "reads the namespace through" in result.reason


def test_missing_inputs_count_as_missing() -> None:
    """A name the step reads that is not bound gives a key part of its own."""
    assert key(BASE, {"raw": [1]}) != key(BASE, {"raw": [1], "limit": None})


@pytest.mark.parametrize("value", [threading.Lock(), (i for i in range(3))])
def test_unhashable_input_turns_caching_off_naming_the_variable(value: Any) -> None:
    """A lock or a generator: no key, and the reason names the variable and its type."""
    result = step_key(make_spec("s", "y = conn"), {"conn": value})
    assert result.value is None
    assert result.reason is not None and result.reason.startswith(f"input 'conn' ({describe(value)}) cannot be hashed")


def test_watched_file_content_counts_and_touching_does_not(tmp_path: Path) -> None:
    """Editing a watched file changes the key; rewriting the same bytes keeps it; folders count too."""
    data = tmp_path / "data.csv"
    data.write_text("1,2\n")
    first = key(root=tmp_path, watch="data.csv")
    data.write_text("1,2\n")
    assert key(root=tmp_path, watch="data.csv") == first
    data.write_text("1,3\n")
    assert key(root=tmp_path, watch="data.csv") != first
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    before = key(root=tmp_path, watch="raw")
    (folder / "b.txt").write_text("b")
    assert key(root=tmp_path, watch="raw") != before
    assert key(root=tmp_path, watch="missing.csv") != key(root=tmp_path, watch="data.csv")


def test_watch_follows_symlinked_folders_without_looping(tmp_path: Path) -> None:
    """A linked folder below a watched one is read; a link back up is not followed forever."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.csv").write_text("1")
    watched = tmp_path / "data"
    watched.mkdir()
    os.symlink(outside, watched / "linked")
    os.symlink(watched, watched / "loop")
    before = key(root=tmp_path, watch="data")
    (outside / "x.csv").write_text("2")
    assert key(root=tmp_path, watch="data") != before


def test_watch_globs_expand_and_missing_paths_warn(tmp_path: Path) -> None:
    """`data/*.csv` covers every match, a new match changes the key, and no match is a warning."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("a")
    spec = make_spec("s", "pass", watch="data/*.csv,nothing/*.csv,gone.txt")
    first = step_key(spec, {}, watch_root=tmp_path)
    assert [w.split(" in ")[0] for w in first.warnings] == [
        "--watch pattern 'nothing/*.csv' matches no file", "--watch path 'gone.txt' does not exist"]
    (folder / "b.csv").write_text("b")
    second = step_key(spec, {}, watch_root=tmp_path)
    assert second.value != first.value
    assert changed_parts(first.parts, second.parts) == ["watched path 'data/*.csv' changed (2 matches, 2 files)"]


def test_changed_parts_name_what_differs() -> None:
    """The words `%flow why` uses: which input changed, with its type and size."""
    spec = make_spec("s", BASE)
    old = step_key(spec, INPUTS).parts
    new = step_key(spec, {"raw": [1, 5, 9, 11], "limit": 3}).parts
    assert changed_parts(old, new) == ["input 'raw' changed (list of 4)"]
    edited = step_key(make_spec("s", CHANGES[0]), INPUTS).parts
    assert changed_parts(old, edited) == ["the code changed"]


def test_function_steps_key_on_their_code_and_what_they_read() -> None:
    """Function steps: the body counts, and so do the parameters they take from the namespace."""
    def one(limit: int) -> int:
        return 1 + limit

    def two(limit: int) -> int:
        return 2 + limit

    k1 = step_key(make_spec("f", one), {"limit": 1}).value
    assert k1 == step_key(make_spec("f", one), {"limit": 1}).value
    assert k1 != step_key(make_spec("f", two), {"limit": 1}).value
    assert k1 != step_key(make_spec("f", one), {"limit": 2}).value
