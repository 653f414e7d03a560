"""What a step's code reads from the namespace and what it binds there.

Checkpoints save a step's outputs, isolated executors ship its inputs and bring its
outputs back, and the graph warns when a step reads another step's output without
depending on it. All of that is decided before the code runs, so it comes from the
syntax tree alone (stdlib `ast`, no execution, no IPython).

The rules, in short:

- Code that runs when the step runs (the module level, class bodies, comprehensions,
  decorators, default values, base classes, annotations) is followed in execution
  order. A name read there is an input unless every path to the read has bound it:
  branches of ``if``/``try``/``match`` are merged by intersection, a loop body may run
  zero times, ``raise``/``break``/``continue`` end a path. ``with`` bodies are taken to
  run to the end (a context manager that swallows exceptions is not seen).
  (`immediate.py`)
- Code that runs later (function and lambda bodies) is resolved by scope only: a name
  there that resolves to a module global is an input unless the step binds it anywhere
  at top level (including through ``global`` in a function). (`walker.py`, `scopes.py`)
- Names in the ``builtins`` module (plus what IPython adds there) are not inputs unless
  the step binds that name itself. (`result.py`)
- ``except E as e`` deletes ``e`` when the handler ends, so such names are outputs
  and deletes at once, like ``x = 1; del x``.
- Code nested too deeply to walk gets a rough answer that only over-states. (`rough.py`)
"""

from __future__ import annotations

import functools

from .immediate import Immediate
from .parsing import parse
from .result import DYNAMIC as DYNAMIC
from .result import CodeAnalysis, build
from .rough import rough
from .scopes import Findings
from .syntax import has_future_annotations

__all__ = ["CodeAnalysis", "analyze", "parse"]


def analyze(code: str) -> CodeAnalysis:
    """Inputs, outputs and deletes of `code`; a SyntaxError from `ast.parse` propagates."""
    try:
        return _analyze(code)
    except RecursionError:  # not cached: the caller's own stack depth may have caused it
        return rough(parse(code))


@functools.lru_cache(maxsize=1024)
def _analyze(code: str) -> CodeAnalysis:
    tree = parse(code)
    result = Findings(lazy_annotations=has_future_annotations(tree))
    Immediate(result).run(tree.body)
    outputs = frozenset(result.outputs)
    return build(result.reads | (result.deferred_reads - outputs), outputs, result.deletes, result.star_import, tree)
