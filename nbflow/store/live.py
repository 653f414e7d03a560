"""Plain-cell classes and functions in a checkpoint: saved as references to the live namespace.

cloudpickle saves classes and functions of `__main__` by value, so a restored
instance of a plain-cell class would belong to a copy of the class (not an
`isinstance` of the one the notebook defined) and a restored function would
read a private copy of its globals. What running the step leaves behind
points at the notebook's own definitions, so a restore must too.

When a checkpoint is written, a class or function of the notebook that is
bound under its own name in the namespace is written as a reference: its
name and its content digest. When the checkpoint is loaded, the reference is
resolved in the namespace it is loaded into; if the name is missing there or
its definition has changed (another digest), the load fails and the step is
run again rather than restored with the wrong class.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
import types
from collections.abc import Iterator, Mapping
from typing import Any

from ..core.digest import Unhashable, digest
from ..core.namespace import NOTEBOOK_MODULES

_loading = threading.local()


class LiveDefinitionMissing(LookupError):
    """A checkpoint refers to a plain-cell definition the namespace does not have (any more)."""


def reference(obj: Any, namespace: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """The reduction of `obj` as a live reference, or None to pickle it by value."""
    if namespace is None or not isinstance(obj, (type, types.FunctionType)):
        return None
    name = getattr(obj, "__qualname__", "")
    if getattr(obj, "__module__", None) not in NOTEBOOK_MODULES or getattr(builtins, name, None) is obj:
        return None
    if namespace.get(name) is not obj:
        return None  # defined by the step itself, nested, or renamed: by value
    try:
        found = digest(obj, namespace).hex
    except Unhashable:
        return None
    return (resolve, (name, found))


@contextlib.contextmanager
def loading_into(namespace: Mapping[str, Any] | None) -> Iterator[None]:
    """Resolve live references against `namespace` while unpickling on this thread."""
    previous = getattr(_loading, "namespace", None)
    _loading.namespace = namespace
    try:
        yield
    finally:
        _loading.namespace = previous


def resolve(name: str, expected: str) -> Any:
    """Called by the unpickler: the namespace's definition of `name`, if it is the one saved."""
    namespace = getattr(_loading, "namespace", None)
    if namespace is None or name not in namespace:
        raise LiveDefinitionMissing(f"the notebook's {name!r} is not defined; run the cell that defines it")
    value = namespace[name]
    try:
        now = digest(value, namespace).hex
    except Unhashable:
        now = ""
    if now != expected:
        raise LiveDefinitionMissing(f"the notebook's {name!r} changed since the checkpoint was written")
    return value
