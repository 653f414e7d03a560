"""Cache keys: cosmetic edits keep them, anything that changes the result changes them."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.core.spec import make_spec
from nbflow.store.hashing import Unhashable, stable_hash
from nbflow.store.keys import step_key

BASE = "rows = [r for r in raw if r > limit]\ntotal = sum(rows)\n"


def key(code: str = BASE, upstream: dict[str, str | None] | None = None, inputs: dict[str, Any] | None = None,
        root: Path | None = None, **options: Any) -> str | None:
    spec = make_spec("s", code, **options)
    return step_key(spec, upstream or {}, inputs or {}, root).key


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
])
def test_only_result_changing_options_count(tmp_path: Path, option: str, value: Any, changes: bool) -> None:
    """--if and --watch change the key; retries, timeouts and other run settings do not."""
    assert (key(root=tmp_path, **{option: value}) != key(root=tmp_path)) is changes


def test_upstream_keys_count() -> None:
    """A different upstream key gives a different key; no upstream key turns caching off."""
    assert key(upstream={"load": "k1"}) != key(upstream={"load": "k2"})
    spec = make_spec("s", BASE)
    result = step_key(spec, {"load": None}, {}, None)
    assert result.key is None and result.reason == "upstream step 'load' has no cache key"


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
    """Keys are equal exactly when the input values are equal (and of the same types)."""
    same = a == b and repr(a) == repr(b)
    assert (key(inputs={"limit": a}) == key(inputs={"limit": b})) is same


@pytest.mark.parametrize(("a", "b"), [
    (1, 1.0), (1, True), (0, False), ("1", 1), (b"1", "1"), ([1, 2], (1, 2)), ({"a": 1}, {"a": 1.0}),
    (0.0, -0.0), (np.arange(3), np.arange(3.0)), (np.arange(4).reshape(2, 2), np.arange(4)), ({1, 2}, [1, 2]),
])
def test_values_equal_in_python_but_different_in_kind_differ(a: Any, b: Any) -> None:
    """1 vs 1.0 vs True, list vs tuple, int vs float arrays: different keys."""
    assert stable_hash(a) != stable_hash(b)


def test_equal_values_built_differently_share_a_key() -> None:
    """Dict insertion order and set order do not matter; equal arrays hash equal."""
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash({3, 1, 2}) == stable_hash({1, 2, 3})
    assert stable_hash(np.arange(6)[::2].copy()) == stable_hash(np.array([0, 2, 4]))


@pytest.mark.parametrize("value", [threading.Lock(), (i for i in range(3)), object(), open])
def test_unhashable_input_turns_caching_off_naming_the_variable(value: Any) -> None:
    """A lock, a generator or a plain object: no key, and the reason names the variable."""
    spec = make_spec("s", BASE)
    if value is open:  # builtins are named, not hashed: that one is fine
        assert step_key(spec, {}, {"conn": value}, None).key is not None
        return
    result = step_key(spec, {}, {"conn": value}, None)
    assert result.key is None
    assert result.reason is not None and result.reason.startswith("input 'conn' cannot be hashed reliably")
    with pytest.raises(Unhashable):
        stable_hash(value)


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


def test_hash_is_the_same_in_another_process() -> None:
    """The same value hashes to the same digest in a fresh interpreter (no per-process salt)."""
    value = {"a": [1, 2.5, "x", None], "b": (True, b"\x00"), "c": {3, 4}}
    here = stable_hash(value).hex()
    code = "from nbflow.store.hashing import stable_hash; " \
           f"print(stable_hash({value!r}).hex())"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert there == here


def test_function_steps_key_on_their_code() -> None:
    """Two function steps with different bodies get different keys; the same function the same key."""
    def one() -> int:
        return 1

    def two() -> int:
        return 2

    k1 = step_key(make_spec("f", one), {}, {}, None).key
    assert k1 == step_key(make_spec("f", one), {}, {}, None).key
    assert k1 != step_key(make_spec("f", two), {}, {}, None).key
