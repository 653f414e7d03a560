"""Digests of code: functions, classes and modules, with everything they reach.

Where a definition comes from decides how deep it is hashed:

- installed packages and the standard library: by name and the version of
  the distribution that provides them (an upgrade changes the digest);
- the notebook (`__main__`) and local modules (files that are not part of
  an installed package, such as a `mylib.py` beside the notebook or a
  package installed in editable mode): by content. A function counts with
  its bytecode, constants, argument names and kinds, defaults, keyword
  defaults, closure, attributes and the value of every global it reads,
  followed through the helpers it calls; a class with its bases and every
  attribute and method; a local module with its definitions as loaded.

Line numbers and file names do not count, so moving a function or adding a
comment above it keeps its digest.
"""

from __future__ import annotations

import builtins
import dataclasses
import dis
import functools
import importlib.metadata
import importlib.util
import os
import site
import sys
import sysconfig
import types
from typing import Any

from .encoding import Sink
from .feed import Feeder, Unhashable

_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME", "DELETE_NAME"})
# Class attributes Python derives from the class statement itself (or that cannot be hashed and say nothing).
_CLASS_NOISE = frozenset({
    "__dict__", "__weakref__", "__module__", "__qualname__", "_abc_impl", "__slotnames__",
    "__dataclass_fields__", "__dataclass_params__", "__orig_bases__", "__parameters__",
    "__annotations__", "__match_args__", "__firstlineno__", "__static_attributes__",
})


# -- where a module comes from ------------------------------------------------------


def _install_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(getattr(site, "getsitepackages", list)())
    roots.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else None)
    found = {os.path.realpath(r) + os.sep for r in roots if r}
    return tuple(sorted(found))


_ROOTS = _install_roots()


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def version_of(module_name: str) -> str | None:
    """The version that identifies an installed module's code, or None for local code."""
    top = module_name.partition(".")[0]
    if module_name == "__main__" or not top:
        return None
    if top in sys.builtin_module_names or top in sys.stdlib_module_names:
        return f"python {sys.version.split()[0]}"
    module = sys.modules.get(module_name) or sys.modules.get(top)
    if module is None:  # not imported (yet): not remembered, so a later import is seen as it is
        return None
    return _located_version(module_name, getattr(module, "__file__", None))


@functools.lru_cache(maxsize=4096)
def _located_version(module_name: str, path: str | None) -> str | None:
    top = module_name.partition(".")[0]
    if path is None:
        # Namespace packages and modules made at run time: named, never read from a file.
        return "unlocated"
    real = os.path.realpath(path)
    if not real.startswith(_ROOTS):
        return None
    for dist in _distributions().get(top, ()):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed"


def local_module(name: str) -> types.ModuleType | None:
    """The local module `name` as the step's `import` will see it (imported now if need be); None if not local.

    Installed and standard-library modules are not imported here: their
    version is what counts, and it is read without importing them.
    """
    module = sys.modules.get(name)
    if module is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        origin = getattr(spec, "origin", None)
        if spec is None or not origin or origin in ("built-in", "frozen"):
            return None
        if os.path.realpath(origin).startswith(_ROOTS):
            return None
        module = importlib.import_module(name)
    return module if is_local(name) else None


def is_local(module_name: str | None) -> bool:
    return module_name is None or version_of(module_name) is None


def global_ref(feeder: Feeder, hasher: Any, module: str | None, qualname: str) -> None:
    """A definition from an installed package: its name and the package's version."""
    feeder.text(hasher, b"global", f"{module}:{qualname}@{version_of(module or '') or 'local'}")


# -- functions ------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def code_digest(code: types.CodeType) -> tuple[bytes, tuple[str, ...]]:
    """(digest of what the code does, the global names it reads or writes), nested code included."""
    feeder = Feeder()
    hasher = Sink()
    globals_: set[str] = set()
    _code(feeder, hasher, code, globals_)
    return hasher.digest(), tuple(sorted(globals_))


def _code(feeder: Feeder, hasher: Any, code: types.CodeType, globals_: set[str]) -> None:
    shape = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
    feeder.text(hasher, b"code", f"{getattr(code, 'co_qualname', code.co_name)}:{shape}")
    feeder.put(hasher, b"bytecode", code.co_code)
    for tag, names in ((b"names", code.co_names), (b"varnames", code.co_varnames),
                       (b"freevars", code.co_freevars), (b"cellvars", code.co_cellvars)):
        feeder.text(hasher, tag, "\x00".join(names))
    feeder.count(hasher, b"consts", len(code.co_consts))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code(feeder, hasher, const, globals_)
        else:
            feeder.feed(hasher, const)
    globals_.update(str(i.argval) for i in dis.get_instructions(code) if i.opname in _GLOBAL_OPS)


def function(feeder: Feeder, hasher: Any, fn: types.FunctionType) -> None:
    if not is_local(fn.__module__):
        global_ref(feeder, hasher, fn.__module__, fn.__qualname__)
        return
    feeder.sub(hasher, fn, lambda inner: _function_body(feeder, inner, fn))


def _function_body(feeder: Feeder, hasher: Any, fn: types.FunctionType) -> None:
    feeder.text(hasher, b"function", fn.__qualname__)
    digest, names = code_digest(fn.__code__)
    feeder.put(hasher, b"code", digest)
    feeder.at("<defaults>", hasher, fn.__defaults__)
    feeder.at("<kwdefaults>", hasher, fn.__kwdefaults__)
    feeder.count(hasher, b"closure", len(fn.__closure__ or ()))
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            contents = cell.cell_contents
        except ValueError:  # not assigned yet
            feeder.text(hasher, b"empty-cell", name)
            continue
        feeder.at(f"<closure {name}>", hasher, contents)
    if fn.__dict__:
        feeder.at("<attributes>", hasher, dict(fn.__dict__))
    _globals(feeder, hasher, fn.__globals__, names)


def _globals(feeder: Feeder, hasher: Any, scope: dict[str, Any], names: tuple[str, ...]) -> None:
    ours = feeder.is_namespace(scope)
    for name in names:
        if name in scope:
            feeder.text(hasher, b"reads", name)
            if ours:
                feeder.reached.add(name)
            else:
                feeder.volatile = True  # another module's state: can change without us seeing it
            feeder.at(f"<global {name}>", hasher, scope[name])
        elif hasattr(builtins, name):
            feeder.text(hasher, b"builtin", name)
        else:
            feeder.text(hasher, b"unbound", name)


# -- classes ----------------------------------------------------------------------------


def klass(feeder: Feeder, hasher: Any, cls: type) -> None:
    if not is_local(cls.__module__):
        global_ref(feeder, hasher, cls.__module__, cls.__qualname__)
        return
    feeder.sub(hasher, cls, lambda inner: _class_body(feeder, inner, cls))


def _class_body(feeder: Feeder, hasher: Any, cls: type) -> None:
    feeder.text(hasher, b"class", cls.__qualname__)
    feeder.at("<bases>", hasher, cls.__bases__)
    if type(cls) is not type:
        feeder.at("<metaclass>", hasher, type(cls))
    annotations = cls.__dict__.get("__annotations__")  # noqa: RUF063 - the class's own, unevaluated
    if annotations:
        feeder.text(hasher, b"annotations", repr(sorted((str(k), repr(v)) for k, v in annotations.items())))
    if dataclasses.is_dataclass(cls):
        feeder.text(hasher, b"dataclass", repr(cls.__dict__.get("__dataclass_params__")))
        for field in dataclasses.fields(cls):
            feeder.text(hasher, b"field", f"{field.name}:{field.init}:{field.kw_only}:{field.type!r}")
            feeder.at(f".{field.name}<default>", hasher, None if field.default is dataclasses.MISSING
                      else ("default", field.default))
            feeder.at(f".{field.name}<factory>", hasher, None if field.default_factory is dataclasses.MISSING
                      else field.default_factory)
    for name in sorted(k for k in cls.__dict__ if k not in _CLASS_NOISE):
        feeder.text(hasher, b"attr", name)
        feeder.at(f".{name}", hasher, cls.__dict__[name])


# -- modules ------------------------------------------------------------------------------


def module(feeder: Feeder, hasher: Any, mod: types.ModuleType) -> None:
    name = mod.__name__
    if not is_local(name):
        feeder.text(hasher, b"module", f"{name}@{version_of(name)}")
        return
    if name == "__main__":
        raise Unhashable("module __main__", feeder.path(), "it is the whole namespace")
    feeder.volatile = True  # its globals can be changed from anywhere
    feeder.sub(hasher, mod, lambda inner: _module_body(feeder, inner, mod))


def _module_body(feeder: Feeder, hasher: Any, mod: types.ModuleType) -> None:
    feeder.text(hasher, b"local-module", mod.__name__)
    for name, value in sorted(vars(mod).items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        feeder.text(hasher, b"member", name)
        mark = len(feeder.where)
        try:
            inner = Sink()
            feeder.at(f"{mod.__name__}.{name}", inner, value)
        except Unhashable:
            feeder.recover(mark)
            # Module-level objects with no stable content (locks, connections): only their kind counts.
            feeder.text(hasher, b"opaque", f"{type(value).__module__}.{type(value).__qualname__}")
        else:
            feeder.put(hasher, b"value", inner.digest())
