"""The hashing walk: a type-tagged, prefix-free encoding of a value fed to BLAKE3.

Every value is written as a tag, a length and a payload, and containers as
a tag and a count followed by their items, so no two different values can
produce the same byte stream. Built-in types have exact encodings
(`builtin_types.py`, looked up by exact type before anything else); numpy and
pandas values go to `arrays.py`; functions, classes and modules to `code.py`;
anything else is hashed through the same reduction pickle would use
(`copyreg` first, then `__reduce_ex__`), which is what the object says its
state is. Cycles are written as references to the enclosing object by
relative depth, so the shape of a cyclic structure counts and the encoding
of a sub-object does not depend on where the walk entered it.
"""

from __future__ import annotations

import copyreg
import enum
import functools
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import NbflowError
from .builtin_types import DERIVED, EXACT
from .encoding import LEN, PLAIN_MIN, Sink, plain_digest


class Unhashable(NbflowError, TypeError):
    """A value whose content cannot be hashed reliably; caching is off for what reads it."""

    def __init__(self, type_name: str, where: str = "", reason: str = "") -> None:
        at = f" at {where}" if where else ""
        why = f" ({reason})" if reason else ""
        super().__init__(f"cannot hash a {type_name} value reliably{at}{why}",
                         type_name=type_name, where=where, reason=reason)


@dataclass(frozen=True)
class Digest:
    """A 32-byte content digest, the namespace names it reached, and whether it may be cached."""

    value: bytes
    reached: frozenset[str] = frozenset()
    volatile: bool = False

    @property
    def hex(self) -> str:
        return self.value.hex()


def type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


#: Compound values one digest may walk. A value whose parts are shared many
#: times over (a matplotlib Figure: axes, artists and transforms pointing at
#: each other) is walked once per path to each part; past this it is
#: `Unhashable` (not cached, said under the cell) instead of hashing for minutes.
MAX_OBJECTS = 200_000


class Feeder:
    """One walk over one value. Not thread-safe; make one per digest."""

    def __init__(self, namespace: Mapping[str, Any] | None = None, also: Mapping[str, Any] | None = None) -> None:
        self.namespace = namespace
        self.also = also  # the same namespace under another dict (an attempt's working copy)
        self.reached: set[str] = set()
        self.volatile = False
        self._depth: dict[int, int] = {}  # id of an object being walked -> its depth
        self._keep: list[Any] = []  # keeps walked objects alive, so ids stay unique
        self._lowest_ref = sys.maxsize  # shallowest depth a back-reference pointed at
        self._memo: dict[int, bytes] = {}  # sub-digests of functions, classes and modules
        self._entered = 0  # compound values walked: bounded, so a web of shared parts cannot hang a step
        # Where the walk is, for error messages: labels, list indexes (int) or dict keys (1-tuples).
        self.where: list[Any] = []

    def run(self, value: Any) -> Digest:
        if type(value) in (dict, list, tuple) and len(value) >= PLAIN_MIN:
            plain = plain_digest(value)
            if plain is not None:
                return Digest(plain)
        hasher = Sink()
        try:
            self.feed(hasher, value)
        except Unhashable:
            raise
        except RecursionError:
            raise Unhashable(type_name(value), self.path()[:200], "nested too deeply") from None
        except Exception as error:  # hashing never fails a step: it turns caching off
            raise Unhashable(type_name(value), self.path(), f"{type(error).__name__}: {error}") from None
        return Digest(hasher.digest(), frozenset(self.reached), self.volatile)

    def is_namespace(self, scope: Any) -> bool:
        """Whether `scope` (a function's globals) is the namespace the digest is taken in."""
        return scope is not None and (scope is self.namespace or scope is self.also)

    def path(self) -> str:
        return "".join(f"[{w}]" if isinstance(w, int) else f"[{w[0]!r}]" if isinstance(w, tuple) else str(w)
                       for w in self.where)

    # -- the encoding ------------------------------------------------------------

    @staticmethod
    def put(hasher: Any, tag: bytes, payload: bytes = b"") -> None:
        if len(payload) > 4096:
            hasher.update(tag + b"\x00" + LEN(len(payload)))
            hasher.update(payload)
        else:
            hasher.update(tag + b"\x00" + LEN(len(payload)) + payload)

    def text(self, hasher: Any, tag: bytes, text: str) -> None:
        self.put(hasher, tag, text.encode("utf-8", "surrogatepass"))

    def count(self, hasher: Any, tag: bytes, number: int) -> None:
        self.put(hasher, tag, LEN(number))

    def at(self, where: Any, hasher: Any, value: Any) -> None:
        """Feed a part of a value, remembering where it is for error messages.

        No `finally`: after an error `where` still says where it happened; a
        caller that recovers from an Unhashable truncates it (`recover`).
        """
        self.where.append(where)
        self.feed(hasher, value)
        self.where.pop()

    def recover(self, mark: int) -> None:
        """After catching an Unhashable from a part: forget where that part's walk stopped."""
        del self.where[mark:]

    # -- identity: cycles and memoized sub-digests ----------------------------------

    def enter(self, hasher: Any, value: Any) -> bool:
        """Start walking a compound value; False (a back-reference written) if it is already open."""
        depth = self._depth.get(id(value))
        if depth is not None:
            self._lowest_ref = min(self._lowest_ref, depth)
            self.count(hasher, b"ref", len(self._depth) - depth)
            return False
        self._depth[id(value)] = len(self._depth)
        self._keep.append(value)
        self._entered += 1
        if self._entered > MAX_OBJECTS:
            raise Unhashable(type_name(value), self.path()[:200],
                             f"more than {MAX_OBJECTS:,} objects to walk (parts it shares are walked each time)")
        return True

    def leave(self, value: Any) -> None:
        del self._depth[id(value)]

    def sub(self, hasher: Any, value: Any, body: Callable[[Any], None]) -> None:
        """Feed `value` as its own sub-digest (computed once per walk when it is self-contained)."""
        known = self._memo.get(id(value))
        if known is not None:
            self.put(hasher, b"sub", known)
            return
        if not self.enter(hasher, value):
            return
        depth = self._depth[id(value)]
        outer_lowest, self._lowest_ref = self._lowest_ref, sys.maxsize
        inner = Sink()
        try:
            body(inner)
        finally:
            self.leave(value)
        result = inner.digest()
        if self._lowest_ref >= depth:  # refers to nothing outside itself: same wherever it is met
            self._memo[id(value)] = result
        self._lowest_ref = min(outer_lowest, self._lowest_ref)
        self.put(hasher, b"sub", result)

    # -- dispatch --------------------------------------------------------------------

    def feed(self, hasher: Any, value: Any) -> None:
        handler = EXACT.get(type(value))
        if handler is not None:
            handler(self, hasher, value)
            return
        from . import arrays, code, opaque

        if isinstance(value, type):
            code.klass(self, hasher, value)
        elif isinstance(value, enum.Enum):
            self._enum(hasher, value)
        elif type(value).__module__.partition(".")[0] in arrays.MODULES and arrays.feed(self, hasher, value):
            return
        elif type(value).__module__.partition(".")[0] in opaque.MODULES and (why := opaque.why_not(value)):
            raise Unhashable(type_name(value), self.path(), why)
        elif isinstance(value, functools._lru_cache_wrapper):
            self.put(hasher, b"lru_cache", repr(value.cache_parameters()).encode())
            self.at("<wrapped>", hasher, value.__wrapped__)
        elif isinstance(value, (staticmethod, classmethod)):
            self.text(hasher, b"descriptor", type(value).__name__)
            self.at("<func>", hasher, value.__func__)
        elif isinstance(value, property):
            self.put(hasher, b"property")
            for part in (value.fget, value.fset, value.fdel, value.__doc__):
                self.feed(hasher, part)
        elif isinstance(value, functools.cached_property):
            self.text(hasher, b"cached_property", value.attrname or "")
            self.feed(hasher, value.func)
        elif isinstance(value, DERIVED):
            self.text(hasher, b"slot", f"{type(value).__name__}:{getattr(value, '__qualname__', '')}")
        else:
            self.reduced(hasher, value)

    def _enum(self, hasher: Any, value: enum.Enum) -> None:
        from . import code

        self.put(hasher, b"enum")
        code.klass(self, hasher, type(value))
        self.text(hasher, b"member", value.name)
        self.at(f".{value.name}", hasher, value.value)

    def reduced(self, hasher: Any, value: Any) -> None:
        """Any other object, by the reduction pickle would use: callable, arguments and state."""
        from . import code

        reducer = copyreg.dispatch_table.get(type(value))
        try:
            parts = reducer(value) if reducer is not None else value.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise Unhashable(type_name(value), self.path(), first) from None
        if isinstance(parts, str):  # a module-level singleton, pickled by name
            module = getattr(value, "__module__", None) or pickle.whichmodule(value, parts)  # type: ignore[attr-defined]
            code.global_ref(self, hasher, module, parts)
            return
        if not isinstance(parts, tuple) or len(parts) < 2:
            raise Unhashable(type_name(value), self.path(), "unusual __reduce__ result")
        if not self.enter(hasher, value):
            return
        try:
            self.text(hasher, b"object", type_name(value))
            callable_, args, *rest = parts
            self.at("<reduce>", hasher, callable_)
            self.at("<args>", hasher, args)
            state, items, pairs = [*rest, None, None, None][:3]
            self.at("<state>", hasher, state)
            self.at("<items>", hasher, None if items is None else list(items))
            self.at("<dictitems>", hasher, None if pairs is None else list(pairs))
        finally:
            self.leave(value)
