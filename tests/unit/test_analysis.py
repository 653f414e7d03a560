"""What a step reads and writes (docs/guide/concepts.md, "Steps"): table-driven cases for `analyze`, and an oracle."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbflow.core.analysis import CodeAnalysis, analyze


@dataclass(frozen=True)
class Case:
    """`code` has these inputs, outputs and deletes (space-separated names)."""

    id: str
    code: str
    inputs: str
    outputs: str
    deletes: str = ""
    star_import: bool = False
    since: tuple[int, int] = (3, 10)  # syntax needs this Python


CASES = [
    # ----------------------------------------------------------- assignment forms
    Case("assign constant", "x = 1", "", "x"),
    Case("assign from name", "y = x", "x", "y"),
    Case("read then rebind", "x = x + 1", "x", "x"),
    Case("bound before read", "y = 1; z = y", "", "y z"),
    Case("augmented assign", "total += 1", "total", "total"),
    Case("augmented attribute", "obj.count += step", "obj step", ""),
    Case("tuple and star unpacking", "a, (b, *c) = data", "data", "a b c"),
    Case("chained assign", "a = b = make()", "make", "a b"),
    Case("annotated with value", "n: int = size", "size", "n"),
    Case("annotated without value binds nothing", "n: Width", "Width", ""),
    Case(
        "future annotations are not evaluated",
        "from __future__ import annotations\nn: Width = 1\ndef f(a: Thing) -> Other: pass",
        "",
        "annotations n f",
    ),
    Case("attribute and subscript stores read", "cfg.x = 1\ntable[key] = v", "cfg table key v", ""),
    Case("walrus binds", "if (n := len(items)) > 3:\n    print(n)", "items", "n"),
    Case("walrus before read", "total = (y := 2) + y", "", "total y"),
    Case("read before walrus", "total = y + (y := 2)", "y", "total y"),
    Case("walrus after short circuit may not run", "ok = a and (m := b)\nprint(m)", "a b m", "ok m"),
    Case("conditional expression", "v = a if c else b", "a b c", "v"),
    Case("f-string", 'msg = f"{name}: {value:>{width}}"', "name value width", "msg"),
    Case("assert reads test and message", "assert ready, reason", "ready reason", ""),
    Case("dunder name is a builtin", 'if __name__ == "__main__":\n    main()', "main", ""),
    # ----------------------------------------------------------- comprehensions
    Case("comprehension variable is local", "[x for x in xs]", "xs", ""),
    Case("comprehension shadows outer name", "x = 5\nys = [x for x in range(x)]", "", "x ys"),
    Case(
        "nested comprehension",
        "pairs = [(i, j) for i in rows for j in i if j > limit]",
        "rows limit",
        "pairs",
    ),
    Case(
        "dict comprehension and generator",
        "d = {k: v for k, v in items}\ns = sum(v for v in vals)",
        "items vals",
        "d s",
    ),
    Case("walrus in comprehension binds at module level", "[y := f(x) for x in xs]", "f xs", "y"),
    Case(
        "comprehension walrus may not run (zero iterations)",
        "[y := f(x) for x in xs]\nz = y",
        "f xs y",
        "y z",
    ),
    Case("walrus read inside its comprehension", "r = [(y := x, y) for x in xs]", "xs", "r y"),
    Case("lambda in comprehension closes over its variable", "fs = [lambda: i for i in r]", "r", "fs"),
    # ----------------------------------------------------------- control flow
    Case("for target and body", "for i in range(n):\n    total = i", "n", "i total"),
    Case(
        "loop body may not run",
        "for row in rows:\n    last = row\nprint(last)",
        "rows last",
        "row last",
    ),
    Case("loop accumulator", "acc = 0\nfor v in vals:\n    acc += v", "vals", "acc v"),
    Case(
        "for-else with break binds on every exit",
        "for v in vals:\n    if v:\n        found = v\n        break\nelse:\n    found = None\nprint(found)",
        "vals",
        "v found",
    ),
    Case(
        "while with walrus test",
        "while (chunk := read()):\n    out = chunk\nprint(chunk)",
        "read",
        "chunk out",
    ),
    Case(
        "while True leaves by break only",
        "while True:\n    line = next(it)\n    if line:\n        break\nprint(line)",
        "it",
        "line",
    ),
    Case(
        "continue skips the rest of the body",
        "for v in vals:\n    if not v:\n        continue\n    last = v\nprint(last)",
        "vals last",
        "v last",
    ),
    Case("if and else both bind", "if flag:\n    m = 1\nelse:\n    m = 2\nprint(m)", "flag", "m"),
    Case("if without else may not bind", "if flag:\n    m = 1\nprint(m)", "flag m", "m"),
    Case("raise ends a path", "if ok:\n    v = 1\nelse:\n    raise ValueError\nw = v", "ok", "v w"),
    Case(
        "with-as and several items",
        "with open(path) as fh, lock:\n    text = fh.read()",
        "path lock",
        "fh text",
    ),
    Case(
        "top-level async with and async for",
        "async with session() as s:\n    async for item in s.stream():\n        last = item",
        "session",
        "s item last",
    ),
    # ----------------------------------------------------------- try
    Case(
        "except-as binds and is deleted after the handler",
        "try:\n    r = risky()\nexcept ValueError as err:\n    r = str(err)\nprint(r)",
        "risky",
        "r err",
        deletes="err",
    ),
    Case(
        "except-as name is gone after the handler",
        "try:\n    pass\nexcept Exception as e:\n    pass\nprint(e)",
        "e",
        "e",
        deletes="e",
    ),
    Case(
        "import fallback binds on both paths",
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\nprint(json)",
        "",
        "json",
    ),
    Case(
        "try else",
        "try:\n    import numpy as np\nexcept ImportError:\n    np = None\nelse:\n    version = np.__version__",
        "",
        "np version",
    ),
    Case(
        "finally may run before the body bound anything",
        "try:\n    x = f()\nfinally:\n    y = x\nz = x",
        "f x",
        "x y z",
    ),
    Case(
        "handler sees names deleted in the body as unbound",
        "x = 1\ntry:\n    del x\n    risky()\nexcept Exception:\n    print(x)",
        "risky x",
        "x",
        deletes="x",
    ),
    # ----------------------------------------------------------- del
    Case("del own name", "x = 1\ndel x", "", "x", deletes="x"),
    Case("del namespace name reads it", "del tmp", "tmp", "", deletes="tmp"),
    Case("read after del", "x = 1\ndel x\ny = x", "x", "x y", deletes="x"),
    Case("del attribute and item", "del cache[key], obj.attr", "cache key obj", ""),
    Case(
        "del in loop seen on the next pass",
        "x = 1\nfor i in r:\n    print(x)\n    del x",
        "r x",
        "x i",
        deletes="x",
    ),
    # ----------------------------------------------------------- imports
    Case(
        "import forms",
        "import os.path\nimport numpy as np\nfrom a.b import c, d as e\nfrom . import sibling",
        "",
        "os np c e sibling",
    ),
    Case("import dotted binds top package", "import os.path", "", "os"),
    Case("star import", "from math import *", "", "", star_import=True),
    Case("star import then read", "from math import *\ny = sqrt(2)", "sqrt", "y", star_import=True),
    # ----------------------------------------------------------- functions
    Case(
        "function reads name bound later",
        "def f():\n    return helper()\nhelper = 1",
        "",
        "f helper",
    ),
    Case("function reads unbound global", "def f():\n    return ext()", "ext", "f"),
    Case(
        "parameters and locals",
        "def f(a, /, b, *args, c=1, **kw):\n    d = a + b + c\n    return d, args, kw",
        "",
        "f",
    ),
    Case(
        "decorator, defaults and annotations run at definition",
        "@deco(opt)\ndef f(x: T = default, *, y: U = kwdefault) -> R:\n    pass",
        "deco opt T default U kwdefault R",
        "f",
    ),
    Case(
        "default bound later is still an input",
        "def f(x=limit):\n    return x\nlimit = 3",
        "limit",
        "f limit",
    ),
    Case("recursion", "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)", "", "fact"),
    Case(
        "closure over enclosing local",
        "def outer():\n    k = 1\n    def inner():\n        return k + free\n    return inner",
        "free",
        "outer",
    ),
    Case(
        "nonlocal",
        "def outer():\n    k = 0\n    def inc():\n        nonlocal k\n        k += 1\n    return inc",
        "",
        "outer",
    ),
    Case("local shadows global", "def f():\n    data = 1\n    return data", "", "f"),
    Case(
        "local annotations are not evaluated",
        "def f():\n    v: Undefined = 1\n    return v",
        "",
        "f",
    ),
    Case("async def", "async def fetch(url):\n    return await client.get(url)", "client", "fetch"),
    Case("lambda defaults and body", "f = lambda a, b=base: a + b + offset", "base offset", "f"),
    Case(
        "global assigned in function",
        "def setup():\n    global g\n    g = load()",
        "load",
        "setup g",
    ),
    Case("global read in function", "def show():\n    global g\n    return g", "g", "show"),
    Case("global bound at top level", "g = 0\ndef bump():\n    global g\n    g += 1", "", "g bump"),
    Case(
        "global import in function",
        "def lazy():\n    global np\n    import numpy as np",
        "",
        "lazy np",
    ),
    Case(
        "global del in function",
        "def drop():\n    global cache\n    del cache",
        "cache",
        "drop",
        deletes="cache",
    ),
    Case(
        "name bound only through another function's global",
        "def init():\n    global state\n    state = 0\ndef use():\n    return state",
        "",
        "init use state",
    ),
    Case(
        "global in an enclosing function reaches nested reads",
        "def outer():\n    global g\n    def inner():\n        return g\n    return inner",
        "g",
        "outer",
    ),
    # ----------------------------------------------------------- classes
    Case(
        "class body reads module name",
        "class Config:\n    size = DEFAULT\n    double = size * 2",
        "DEFAULT",
        "Config",
    ),
    Case(
        "class decorators, bases and keywords",
        "@register\nclass Model(Base, metaclass=Meta):\n    pass",
        "register Base Meta",
        "Model",
    ),
    Case(
        "methods do not see class attributes",
        "class A:\n    x = 1\n    def get(self):\n        return x",
        "x",
        "A",
    ),
    Case(
        "method reads module name bound later",
        "class A:\n    def get(self):\n        return table\ntable = {}",
        "",
        "A table",
    ),
    Case("global in class body", "class A:\n    global registry\n    registry = []", "", "A registry"),
    Case(
        "comprehension in class body skips the class scope",
        "class A:\n    n = 3\n    xs = [n for _ in range(2)]",
        "n",
        "A",
    ),
    Case(
        "super and __class__",
        "class B(A):\n    def m(self):\n        return super().m(), __class__",
        "A",
        "B",
    ),
    Case(
        "class annotations are evaluated",
        "class P:\n    x: int\n    y: Vec = origin",
        "Vec origin",
        "P",
    ),
    # ----------------------------------------------------------- match
    Case(
        "match captures",
        """\
        match cmd:
            case ["go", direction]:
                move = direction
            case {"x": px, **rest}:
                move = px
            case Point(x=0, y=py) | Point(x=py, y=0):
                move = py
            case [first, *others]:
                move = first
            case Color.RED:
                move = None
            case other:
                move = other
        print(move)
        """,
        "cmd Point Color",
        "direction px rest py first others move other",
    ),
    Case(
        "match without catch-all may not bind",
        'match v:\n    case 1:\n        r = "one"\nprint(r)',
        "v r",
        "r",
    ),
    Case("match guard", "match v:\n    case n if n > lim:\n        r = n", "v lim", "n r"),
    # ----------------------------------------------------------- builtins
    Case("builtins are not inputs", "n = len(items)\nprint(n)", "items", "n"),
    Case("builtin the step rebinds is a name", "x = list(a)\nlist = None", "list a", "x list"),
    Case("IPython builtins are not inputs", "display(get_ipython())", "", ""),
    # ----------------------------------------------------------- more scoping and flow
    Case("iterating over the name it binds", "for x in x:\n    pass", "x", "x"),
    Case("with target rebinds its source", "with open(f) as f:\n    pass", "f", "f"),
    Case(
        "while-else runs when the loop ends without break",
        "while cond():\n    pass\nelse:\n    done = True\nprint(done)",
        "cond",
        "done",
    ),
    Case(
        "class in a function reads the function's locals",
        "def f():\n    k = 1\n    class A:\n        v = k\n        def m(self):\n            return k, w\n    return A",
        "w",
        "f",
    ),
    Case(
        "long operator chain",
        "total = " + " + ".join(f"v{i}" for i in range(800)),
        " ".join(f"v{i}" for i in range(800)),
        "total",
    ),
    Case(
        "long elif chain",
        "if v == 0:\n    r = 0\n"
        + "".join(f"elif v == {i}:\n    r = {i}\n" for i in range(1, 600))
        + "else:\n    r = -1\nprint(r)",
        "v",
        "r",
    ),
    # ----------------------------------------------------------- newer syntax
    Case(
        "except star",
        "try:\n    r = f()\nexcept* ValueError as group:\n    r = group\nprint(r)",
        "f",
        "r group",
        deletes="group",
        since=(3, 11),
    ),
    Case(
        "generic function",
        "def first[T](xs: list[T]) -> T:\n    return xs[0]",
        "",
        "first",
        since=(3, 12),
    ),
    Case("generic class", "class Box[T](Base[T]):\n    item: T", "Base", "Box", since=(3, 12)),
    Case(
        "type alias value and bounds are lazy",
        "type Pair[K: Bound] = tuple[K, Other]",
        "Bound Other",
        "Pair",
        since=(3, 12),
    ),
]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c.id,
            marks=pytest.mark.skipif(sys.version_info < c.since, reason=f"needs {c.since}"),
        )
        for c in CASES
    ],
)
def test_analysis_table(case: Case) -> None:
    """Each case's inputs, outputs, deletes and star-import flag are as the table says."""
    result = analyze(textwrap.dedent(case.code))
    assert sorted(result.inputs) == sorted(case.inputs.split())
    assert sorted(result.outputs) == sorted(case.outputs.split())
    assert sorted(result.deletes) == sorted(case.deletes.split())
    assert result.star_import is case.star_import


def test_code_too_deep_to_walk_gets_a_rough_superset() -> None:
    """Nesting beyond the recursion limit over-states instead of failing."""
    branches = "".join(f"    elif v == {i}:\n        r = {i}\n" for i in range(1, 2000))
    code = f"def f(v):\n    if v == 0:\n        r = 0\n{branches}    return r + w\nout = f(1)"
    result = analyze(code)
    assert result.inputs >= {"w"}
    assert result.outputs >= {"f", "out"}
    assert not result.star_import


def test_syntax_error_propagates() -> None:
    """Invalid code raises SyntaxError rather than returning a guess."""
    with pytest.raises(SyntaxError):
        analyze("x = (")


def test_result_is_cached_and_frozen() -> None:
    """The same code string gives the same immutable object."""
    first = analyze("a = b")
    assert analyze("a = b") is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.inputs = frozenset()  # type: ignore[misc]
    assert first == CodeAnalysis(frozenset({"b"}), frozenset({"a"}), frozenset(), False)


def test_private_names_are_never_outputs_nor_deletes() -> None:
    """`coef, *_ = ...` and `_tmp = ...` bind nothing the namespace keeps (IPython's `_` survives)."""
    result = analyze("coef, *_ = fit()\n_tmp = coef * 2\ntotal = _tmp\ndel _tmp\n__x = 1")
    assert result.outputs == {"coef", "total"}
    assert result.deletes == frozenset()
    assert "_" not in result.inputs and "_tmp" not in result.inputs  # bound before read: not inputs either


def test_private_name_read_before_binding_is_still_an_input() -> None:
    assert analyze("x = _ + 1").inputs == {"_"}


# --------------------------------------------------------------------------- oracle

NAMES = ("a", "b", "c", "d")
_name = st.sampled_from(NAMES)
_expr = st.lists(_name, max_size=3).map(lambda names: " + ".join(names) or "1")
_simple = st.one_of(
    st.tuples(_name, _expr).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(_name, _expr).map(lambda t: f"{t[0]} += {t[1]}"),
    st.tuples(_name, _name, _expr, _expr).map(lambda t: f"{t[0]}, {t[1]} = {t[2]}, {t[3]}"),
    st.tuples(_name, _name, _expr, _name).map(lambda t: f"{t[0]} = ({t[1]} := {t[2]}) + {t[3]}"),
)


def _block(lines: list[str]) -> str:
    return textwrap.indent("\n".join(lines), "    ")


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    body = st.lists(children, min_size=1, max_size=2)
    return st.one_of(
        st.tuples(_name, body, st.lists(children, max_size=2)).map(
            lambda t: f"if {t[0]}:\n{_block(t[1])}" + (f"\nelse:\n{_block(t[2])}" if t[2] else "")
        ),
        st.tuples(_name, _name, body).map(lambda t: f"for {t[0]} in range({t[1]} % 3):\n{_block(t[2])}"),
        st.tuples(body, body).map(lambda t: f"try:\n{_block(t[0])}\nexcept NameError:\n{_block(t[1])}"),
    )


_statement = st.recursive(st.one_of(_simple, _name.map(lambda n: f"del {n}")), _compound, max_leaves=8)


class _Recorder(dict[str, Any]):
    """Module locals that remember which names were needed before being bound."""

    def __init__(self) -> None:
        super().__init__()
        self.missing: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            self.missing.add(key)
        return super().__getitem__(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            self.missing.add(key)
        super().__delitem__(key)


def _run(code: str, values: dict[str, int]) -> _Recorder:
    scope = _Recorder()
    with contextlib.suppress(NameError):  # `del` of a name bound only in globals
        exec(code, dict(values), scope)
    return scope


@settings(max_examples=300, deadline=None)
@given(st.lists(_simple, min_size=1, max_size=6))
def test_straight_line_code_matches_execution(lines: list[str]) -> None:
    """Without branches, inputs are exactly the names looked up before being bound."""
    code = "\n".join(lines)
    scope = _run(code, dict.fromkeys(NAMES, 1))
    result = analyze(code)
    assert result.inputs == scope.missing
    assert result.outputs == set(scope)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(_statement, min_size=1, max_size=6),
    st.fixed_dictionaries({n: st.integers(0, 2) for n in NAMES}),
)
def test_any_run_stays_within_the_analysis(lines: list[str], values: dict[str, int]) -> None:
    """With branches, loops, try and del, a run needs only inputs and binds only outputs."""
    code = "\n".join(lines)
    scope = _run(code, values)
    result = analyze(code)
    assert scope.missing - set(dir(builtins)) <= result.inputs
    assert set(scope) <= result.outputs
