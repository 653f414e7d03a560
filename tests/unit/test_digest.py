"""Content digests: values a step can tell apart differ, equal values agree in any process, nothing crashes."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
import fractions
import functools
import importlib
import logging
import re
import subprocess
import sys
import textwrap
import threading
import types
import warnings
import zoneinfo
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.core.digest import Digest, Unhashable, digest


def d(value: Any, namespace: dict[str, Any] | None = None) -> bytes:
    return digest(value, namespace).value


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Shade(enum.Enum):
    RED = 2


def _cycle(depth: int) -> list[Any]:
    top: list[Any] = []
    inner = top
    for _ in range(depth - 1):
        nxt: list[Any] = []
        inner.append(nxt)
        inner = nxt
    inner.append(top)
    return top


def _matrix() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix is what is being tested
        return np.matrix([[1, 2]])


PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PLUS_ONE = dt.timezone(dt.timedelta(hours=1))

# Pairs a step can tell apart (by ==, type, order, repr or attributes): their digests must differ.
DIFFERENT = [
    (1, 1.0), (1, True), (0, False), ("1", 1), (b"1", "1"), ([1, 2], (1, 2)), (0.0, -0.0),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    (collections.OrderedDict(a=1), {"a": 1}),
    (collections.defaultdict(int), collections.defaultdict(list)),
    (np.zeros(2, dtype=[("a", "f8")]), np.zeros(2, dtype=[("b", "f8")])),
    (np.ma.array([1, 2], mask=[0, 1]), np.ma.array([1, 2], mask=[1, 0])),
    (_matrix(), np.array([[1, 2]])),
    (np.arange(3), np.arange(3.0)), (np.arange(4).reshape(2, 2), np.arange(4)),
    (pd.Series(["a", "b"], dtype="category"),
     pd.Series(["a", "b"], dtype=pd.CategoricalDtype(["a", "b"], ordered=True))),
    (pd.Series(["a"], dtype="category"), pd.Series(["a"], dtype=pd.CategoricalDtype(["a", "z"]))),
    (pd.DataFrame({"a": [1]}).rename_axis("i"), pd.DataFrame({"a": [1]})),
    (pd.DataFrame({"a": [1]}).rename_axis("c", axis=1), pd.DataFrame({"a": [1]})),
    (pd.DataFrame({1: [1]}), pd.DataFrame({"1": [1]})),
    (pd.Series([1, "1"], dtype=object), pd.Series(["1", 1], dtype=object)),
    (pd.Series([0.0]), pd.Series([-0.0])),
    (pd.Series([1], name="x"), pd.Series([1], name="y")),
    (pd.Series([1, 2]), pd.Series([1, 2], index=[1, 0])),
    (pd.Series([1, None], dtype="Int64"), pd.Series([1, 0], dtype="Int64")),
    (Color.RED, Shade.RED),
    (dt.datetime(2020, 1, 1, tzinfo=PLUS_ONE), dt.datetime(2020, 1, 1, tzinfo=PARIS)),
    (pd.Timestamp("2020-01-01", tz=PLUS_ONE), pd.Timestamp("2020-01-01", tz="Europe/Paris")),
    (_cycle(1), _cycle(2)),
    ({1, 2}, frozenset({1, 2})),
    (fractions.Fraction(1, 2), 0.5),
    (types.SimpleNamespace(a=1), types.SimpleNamespace(a=2)),
    (re.compile("a+"), re.compile("a+", re.I)),
    (np.dtype("f8"), np.dtype("f4")),
    (np.add, np.multiply),
    (np.array(["a\x00b", "c"], dtype=object), np.array(["a", "b\x00c"], dtype=object)),
    (np.array(["ab", "c"], dtype=object), np.array(["a", "bc"], dtype=object)),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT, ids=[f"{type(a).__name__}-{i}" for i, (a, _) in enumerate(DIFFERENT)])
def test_values_a_step_can_tell_apart_hash_differently(a: Any, b: Any) -> None:
    """Order, types, names, masks, categories, zones, signs and cycle shapes all count."""
    assert d(a) != d(b)


COMMON = [
    re.compile(r"\d+"), np.dtype("int64"), np.float32(1.5), np.sqrt, logging.getLogger("nbflow.test"),
    dt.timezone.utc, functools.lru_cache(maxsize=None)(abs), functools.partial(max, 1), pd.NA, pd.NaT,
    pd.Interval(0, 1), pd.Period("2020-01", "M"), types.SimpleNamespace(a=[1]), range(3), Path("a/b"),
    dt.date(2020, 1, 2), dt.timedelta(seconds=3), 10**5000, Color.BLUE,
    pd.DataFrame({"l": [[1], [2]], "d": [{"x": 1}, {}]}), np.zeros(3, dtype=[("o", "O"), ("f", "f8")]),
    pd.Series([object(), object()]), pd.date_range("2020", periods=3, freq="D"),
    pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["n", "s"]),
]


@pytest.mark.parametrize("value", COMMON, ids=[type(v).__name__ for v in COMMON])
def test_common_values_hash(value: Any) -> None:
    """Regexes, dtypes, ufuncs, loggers, zones, functools wrappers, pandas scalars, huge ints: all hash."""
    assert len(d(value)) == 32


@pytest.mark.parametrize(("value", "kind"), [(threading.Lock(), "_thread.lock"), ((i for i in range(3)), "generator")])
def test_values_without_stable_content_are_refused(value: Any, kind: str) -> None:
    """Locks and generators raise Unhashable naming their type."""
    with pytest.raises(Unhashable, match=f"cannot hash a {re.escape(kind)} value"):
        d(value)


def test_open_files_are_refused() -> None:
    """An open file's content is not its value: Unhashable."""
    with open(__file__) as handle, pytest.raises(Unhashable, match=r"cannot hash a _io\.TextIOWrapper"):
        d(handle)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=4), max_size=6), st.lists(st.text(max_size=4), max_size=6))
def test_string_columns_hash_equal_exactly_when_equal(a: list[str], b: list[str]) -> None:
    """The one-pass string path splits back uniquely, separators inside the strings or not."""
    left, right = np.array([*a, 0], dtype=object)[:-1], np.array([*b, 0], dtype=object)[:-1]
    assert (d(left) == d(right)) is (a == b)


PLAIN_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3)
    | st.binary(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=2), inner,
                                                                                          max_size=3),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(PLAIN_VALUES, min_size=64, max_size=70), st.lists(PLAIN_VALUES, min_size=64, max_size=70))
def test_big_plain_containers_hash_equal_exactly_when_identical(a: list[Any], b: list[Any]) -> None:
    """The one-pass pickle path for big plain data: equal digests exactly when values and types are the same."""
    same = repr(a) == repr(b)  # repr tells 1 from 1.0 from True, -0.0 from 0.0, nan included
    assert (d(a) == d(b)) is same


@pytest.mark.parametrize(("a", "b"), [
    ([0.0] * 64, [-0.0] * 64), ([1] * 64, [True] * 64), ([1] * 64, [1.0] * 64), (["1"] * 64, [b"1"] * 64),
    (list(range(64)), tuple(range(64))), ({i: i for i in range(64)}, {i: i for i in reversed(range(64))}),
    ([{1}] + [0] * 63, [frozenset({1})] + [0] * 63), ([1 << 70] * 64, [(1 << 70) + 1] * 64),
    (_cycle(1) + [0] * 64, _cycle(2) + [0] * 64),
])
def test_big_plain_containers_tell_apart_what_small_ones_do(a: Any, b: Any) -> None:
    """Types, signs, order and big ints count on the pickle path too (sets go the walk's way)."""
    assert d(a) != d(b)


def test_big_plain_containers_do_not_depend_on_sharing() -> None:
    """The same string object 64 times, or 64 equal strings: equal values, equal digests."""
    shared = "".join(["a label", "!"])
    distinct = ["".join(["a label", "!"]) for _ in range(64)]
    assert len({id(x) for x in distinct}) == 64
    assert d([shared] * 64) == d(distinct)


def test_deep_nesting_is_refused_not_crashed() -> None:
    """A structure nested past the recursion limit is Unhashable, not a RecursionError."""
    deep: list[Any] = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(Unhashable, match="nested too deeply"):
        d(deep)


NOTEBOOK = textwrap.dedent("""
    import dataclasses
    SCALE = 2
    OFFSET = 1

    def g(x):
        return x + OFFSET

    def f(x, *, k=3):
        return g(x) * SCALE + k

    lam = lambda x: x * SCALE

    class Model:
        rate = 0.5
        def predict(self, x):
            return x * SCALE * self.rate

    @dataclasses.dataclass
    class Config:
        size: int = 3
        def total(self):
            return self.size * SCALE

    model = Model()
    bound = model.predict

    def countdown(n):
        return countdown(n - 1) if n else 0
""")


def notebook() -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(NOTEBOOK, ns)
    return ns


@pytest.mark.parametrize("name", ["f", "lam", "Model", "model", "bound", "Config"])
@pytest.mark.parametrize("edit", ["SCALE = 3", "OFFSET = 5", "def g(x):\n    return x - OFFSET",
                                  "Model.rate = 0.25", "model.extra = 1"])
def test_functions_and_classes_count_with_what_they_reach(name: str, edit: str) -> None:
    """A global, a helper, a class attribute or the bound instance changes the digest exactly when reached."""
    ns = notebook()
    before = digest(ns[name], ns)
    exec(edit, ns)
    after = digest(ns[name], ns)
    reaches = {
        "SCALE = 3": True,
        "OFFSET = 5": name == "f",
        "def g(x):\n    return x - OFFSET": name == "f",
        "Model.rate = 0.25": name in ("Model", "model", "bound"),
        "model.extra = 1": name in ("model", "bound"),
    }[edit]
    assert (before.value != after.value) is reaches
    assert ("SCALE" in before.reached) is True


def test_keyword_defaults_closures_and_recursion() -> None:
    """Keyword-only defaults and closures count; a self-recursive function hashes without looping."""
    ns = notebook()
    one = digest(ns["f"], ns)
    ns["f"].__kwdefaults__ = {"k": 4}
    assert digest(ns["f"], ns).value != one.value
    assert len(d(ns["countdown"], ns)) == 32

    def make(n: int) -> Any:
        def inner() -> int:
            return n
        return inner

    assert d(make(1)) != d(make(2))


def test_moving_a_function_keeps_its_digest() -> None:
    """Line numbers and comments are not part of a function's digest."""
    a: dict[str, Any] = {"__name__": "__main__"}
    b: dict[str, Any] = {"__name__": "__main__"}
    exec("def f(x):\n    return x + 1\n", a)
    exec("\n\n# a comment\ndef f(x):\n    # another\n    return x + 1\n", b)
    assert d(a["f"], a) == d(b["f"], b)


def test_local_modules_count_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module beside the notebook is hashed by what it defines; editing and reloading it changes the digest."""
    (tmp_path / "mylib_digest_test.py").write_text("FACTOR = 2\ndef f(x):\n    return x * FACTOR\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("mylib_digest_test")
    try:
        first = digest(module)
        assert first.volatile  # its globals can change: never kept in the table
        func_first = digest(module.f)
        (tmp_path / "mylib_digest_test.py").write_text("FACTOR = 3\ndef f(x):\n    return x * FACTOR\n")
        importlib.reload(module)
        assert digest(module).value != first.value
        assert digest(module.f).value != func_first.value
    finally:
        sys.modules.pop("mylib_digest_test", None)


def test_installed_packages_count_by_version() -> None:
    """numpy's functions are named with numpy's version, not hashed by their code."""
    assert digest(np.mean).value == digest(np.mean).value
    assert digest(np.mean).value != digest(np.median).value
    assert not digest(np.mean).volatile


def test_digests_are_the_same_in_another_process() -> None:
    """No per-process salt: sets, frames, functions, objects of plain classes agree across interpreters."""
    code = textwrap.dedent("""
        import pandas as pd, numpy as np
        from nbflow.core.digest import digest
        ns = {"__name__": "__main__"}
        exec("K = 3\\ndef f(x):\\n    return x * K\\nclass Plain:\\n    def __init__(self, v):\\n"
             "        self.v = v\\n", ns)
        mixed = np.zeros(2, dtype=[("o", "O"), ("f", "f8")])
        mixed["o"] = ["x", ns["Plain"](1)]
        value = [{"a": {"x", "y", "zz"}}, pd.DataFrame({"s": ["a", "b"], "n": [1.5, 2]}), ns["f"],
                 np.arange(5), frozenset({"p", "q"}), pd.Series([ns["Plain"](1), ns["Plain"](2)]), mixed]
        print(digest(value, ns).hex)
    """)
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout.strip() for seed in (1, 2)}
    assert len(runs) == 1 and len(runs.pop()) == 64


def test_digest_is_a_frozen_record() -> None:
    """What the cache keeps per value: 32 bytes, the names reached, and whether it may be kept."""
    ns = notebook()
    found = digest(ns["f"], ns)
    assert isinstance(found, Digest) and len(found.value) == 32
    assert found.reached >= {"SCALE", "g", "OFFSET"} and not found.volatile
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.value = b""  # type: ignore[misc]


def test_a_web_of_shared_parts_is_unhashable_instead_of_hanging() -> None:
    """Shared parts are walked once per path to them: 2**40 paths would hash for ever, so the walk is bounded."""
    from nbflow.core.digest.feed import MAX_OBJECTS

    class Node:
        def __init__(self, child: object) -> None:
            self.left = self.right = child

    value: object = Node(None)
    for _ in range(40):
        value = Node(value)
    with pytest.raises(Unhashable, match=f"more than {MAX_OBJECTS:,} objects"):
        digest(value, {}, {})
    small: object = Node(None)
    for _ in range(8):  # 2**8 paths: well within the bound, and still a real digest
        small = Node(small)
    assert digest(small, {}, {}).value == digest(small, {}, {}).value


def test_matplotlib_figures_are_refused_without_walking_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Figure, its Axes and a Transform are Unhashable at once, not after reaching the object limit."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import Affine2D

    from nbflow.core.digest import feed

    entered: list[object] = []
    real_enter = feed.Feeder.enter
    monkeypatch.setattr(feed.Feeder, "enter", lambda self, h, v: entered.append(v) or real_enter(self, h, v))
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    try:
        for value in (fig, ax, Affine2D(), {"plot": [fig]}):
            with pytest.raises(Unhashable, match="matplotlib keeps its drawing state"):
                digest(value)
        assert len(entered) <= 2  # the dict and the list around the last figure: nothing of matplotlib's
    finally:
        plt.close(fig)
