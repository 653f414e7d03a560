"""The one lock every `ast.parse` in nbflow goes through.

Python 3.11's `ast` module is not thread-safe: concurrent `ast.parse` calls can
raise "SystemError: AST constructor recursion depth mismatch". Steps are
analyzed from worker threads too, so nothing in nbflow calls `ast.parse` directly.
"""

from __future__ import annotations

import ast
import threading

_PARSE_LOCK = threading.RLock()


def parse(code: str) -> ast.Module:
    """`ast.parse` under nbflow's one parse lock."""
    with _PARSE_LOCK:
        return ast.parse(code)
