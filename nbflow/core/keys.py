"""Cache keys: a content address of everything a step's result depends on.

A key covers, as separate parts (so `%flow why` can say which one changed):

- `code`: the step's normalized code (whitespace and comments do not count,
  docstrings do), or for a function step the function's digest with
  everything it reaches;
- `options`: the options that can change the result (`--if`, `--watch`);
  retries, backoff, timeouts, delays and the executor only change *how* it
  runs, so tuning them keeps the checkpoint;
- `input NAME`: the digest of the *value* the step reads under each name,
  whoever produced it (an upstream step, a parameter, a plain cell), or
  "missing" when the name is not bound. Which step produced a value does
  not count, only what it is, so an upstream that re-runs with new data
  invalidates its readers whatever made it re-run, and one that re-runs to
  the same data does not (early cutoff);
- `module NAME`: for each local module the step's code imports (a file
  beside the notebook, not an installed package), its definitions as
  loaded; installed packages count through the version of what they define;
- `watch PATH`: the content of each watched file or folder;
- `after STEP`: for an `--after` step whose outputs it does not read, that
  step's key: such an ordering is about side effects (a file written, a
  table filled) that no value shows, so what produced them counts.

Anything that cannot be hashed reliably, or code that reads the namespace
in ways the syntax tree does not show (`globals()`, `eval`), gives no key:
caching is off for that step, with the reason. See docs/guide/checkpoints.md.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from .analysis import parse
from .digest import Digest, Unhashable, digest
from .digest.code import local_module
from .fingerprints import DigestTable
from .namespace import inputs_of
from .spec import StepSpec
from .watch import WatchResult, watch_digests

FORMAT = "nbflow-key-3"
RESULT_OPTIONS = ("condition", "watch")


@dataclass(frozen=True)
class Part:
    """One component of a key: what it is, its digest, and a short description for people."""

    kind: str  # "code" | "function" | "options" | "input" | "watch"
    name: str
    digest: str
    detail: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}".strip()

    def to_json(self) -> list[str]:
        return [self.kind, self.name, self.digest, self.detail]

    @classmethod
    def from_json(cls, data: Any) -> Part:
        kind, name, value, detail = (str(x) for x in data)
        return cls(kind, name, value, detail)


@dataclass(frozen=True)
class StepKey:
    """A step's key (hex) with its parts, or None and the reason caching is off."""

    value: str | None
    parts: tuple[Part, ...] = ()
    reason: str | None = None
    inputs: Mapping[str, Digest] = field(default_factory=dict)  # digests of the values read
    warnings: tuple[str, ...] = ()


@functools.lru_cache(maxsize=2048)
def normalized_code(code: str) -> str:
    """The code's syntax tree as text: formatting and comments leave it unchanged."""
    return ast.dump(parse(code), include_attributes=False)


def describe(value: Any) -> str:
    """A value's type and size, as `%flow why` shows it: `ndarray float64 (1000, 3)`."""
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__.partition('.')[0]}." \
        f"{kind.__qualname__}"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if isinstance(shape, tuple):
        return f"{name} {dtype} {shape}" if dtype is not None and not hasattr(value, "columns") else f"{name} {shape}"
    if isinstance(value, (list, tuple, dict, set, frozenset, str, bytes)):
        return f"{name} of {len(value)}"
    return name


def step_key(spec: StepSpec, scope: Mapping[str, Any], table: DigestTable | None = None,
             watch_root: Path | None = None, ordering: Mapping[str, str | None] | None = None,
             namespace: Mapping[str, Any] | None = None) -> StepKey:
    """The key of `spec` reading its inputs from `scope` (the values the attempt will run with).

    `ordering` maps each `--after` step whose outputs this step does not read
    to that step's key: such a dependency is about side effects (a file it
    writes, a table it fills), which no value shows, so it counts by what
    produced it. `namespace` is the live namespace `scope` was copied
    from: the globals of functions defined over either count as `reached`.
    """
    parts: list[Part] = []
    reasons: list[str] = []
    inputs: dict[str, Digest] = {}
    table = table if table is not None else DigestTable()
    if spec.code is not None:
        parts.append(_code_part(spec.code))
        found_code = spec.analysis
        assert found_code is not None
        if found_code.dynamic:
            names = ", ".join(f"{n}()" for n in found_code.dynamic)
            reasons.append(f"the code reads the namespace through {names}, which nbflow cannot follow")
        for module in found_code.imports:
            _module_part(module, parts, reasons)
    else:
        try:
            found = digest(spec.func, scope, namespace)
        except Unhashable as error:
            reasons.append(f"the function cannot be hashed reliably{_why_not(error)}")
        else:
            parts.append(Part("function", getattr(spec.func, "__qualname__", spec.name), found.hex))
    parts.append(_options_part(spec))
    for name in inputs_of(spec, scope):
        if name not in scope:
            parts.append(Part("input", name, "", "missing"))
            continue
        value = scope[name]
        try:
            found = table.digest(name, value, scope, namespace)
        except Unhashable as error:
            reasons.append(f"input {name!r} ({describe(value)}) cannot be hashed reliably{_why_not(error)}")
            continue
        inputs[name] = found
        parts.append(Part("input", name, found.hex, describe(value)))
    for dep, dep_key in sorted((ordering or {}).items()):
        if dep_key is None:
            reasons.append(f"it runs after step {dep!r} without reading its outputs, and {dep!r} has no cache key")
        else:
            parts.append(Part("after", dep, dep_key))
    watched, warnings = _watch_parts(spec, watch_root)
    parts.extend(watched)
    if reasons:
        return StepKey(None, tuple(parts), "; ".join(reasons), inputs, warnings)
    return StepKey(combine(parts), tuple(parts), None, inputs, warnings)


def offline_parts(spec: StepSpec, watch_root: Path | None = None) -> tuple[list[Part], tuple[str, ...]]:
    """The parts a notebook file and the disk decide, without running anything: code, options, watched paths."""
    parts = [_code_part(spec.code)] if spec.code is not None else []
    parts.append(_options_part(spec))
    watched, warnings = _watch_parts(spec, watch_root)
    return parts + watched, warnings


def _code_part(code: str) -> Part:
    return Part("code", "", _text_digest(normalized_code(code)))


def _options_part(spec: StepSpec) -> Part:
    return Part("options", "", digest(tuple((name, _option(spec, name)) for name in RESULT_OPTIONS)).hex)


def _watch_parts(spec: StepSpec, watch_root: Path | None) -> tuple[list[Part], tuple[str, ...]]:
    if not spec.watch:
        return [], ()
    watched: WatchResult = watch_digests(spec.watch, watch_root or Path.cwd())
    return [Part("watch", path, value, detail) for path, value, detail in watched.parts], watched.warnings


def _module_part(name: str, parts: list[Part], reasons: list[str]) -> None:
    """A local module the step imports counts with its content (installed ones by their version, in code)."""
    try:
        module = local_module(name)
    except Exception as error:  # the step's own import will fail the same way
        reasons.append(f"local module {name!r} cannot be imported ({type(error).__name__}: {error})")
        return
    if module is None:
        return
    try:
        parts.append(Part("module", name, digest(module).hex, "local module"))
    except Unhashable as error:
        reasons.append(f"local module {name!r} cannot be hashed reliably{_why_not(error)}")


def combine(parts: Iterable[Part]) -> str:
    """The key of a set of parts: order-independent, length-prefixed, versioned."""
    hasher = blake3.blake3(FORMAT.encode())
    for part in sorted(parts, key=lambda p: (p.kind, p.name)):
        for text in (part.kind, part.name, part.digest):
            data = text.encode("utf-8", "surrogatepass")
            hasher.update(len(data).to_bytes(8, "little") + data)
    return hasher.hexdigest(length=20)


def changed_parts(old: Iterable[Part], new: Iterable[Part]) -> list[str]:
    """What differs between two keys' parts, in words (`input 'x' changed (int)`)."""
    before = {(p.kind, p.name): p for p in old}
    after = {(p.kind, p.name): p for p in new}
    found: list[str] = []
    for ident in sorted(before.keys() | after.keys()):
        a, b = before.get(ident), after.get(ident)
        kind, name = ident
        what = {"code": "the code", "function": f"the function {name}", "options": "an option (--if, --watch)",
                "input": f"input {name!r}", "watch": f"watched path {name!r}",
                "after": f"step {name!r} (run before it for its side effects)",
                "module": f"local module {name!r}"}.get(kind, f"{kind} {name}")
        if a is None:
            found.append(f"{what} is new" + (f" ({b.detail})" if b is not None and b.detail else ""))
        elif b is None:
            found.append(f"{what} is no longer read" if kind == "input" else f"{what} is gone")
        elif a.digest != b.digest:
            detail = f" ({b.detail})" if b.detail else ""
            found.append(f"{what} changed{detail}")
    return found


def _why_not(error: Unhashable) -> str:
    """`: a _thread.lock at .conn (cannot pickle ...)`, the details of an Unhashable."""
    where = f" at {error.where}" if error.where else ""  # type: ignore[attr-defined]
    reason = f" ({error.reason})" if error.reason else ""  # type: ignore[attr-defined]
    return f": a {error.type_name}{where}{reason}"  # type: ignore[attr-defined]


def _text_digest(text: str) -> str:
    return blake3.blake3(text.encode("utf-8", "surrogatepass")).hexdigest()


def _option(spec: StepSpec, name: str) -> Any:
    value = getattr(spec, name)
    return tuple(sorted(value)) if isinstance(value, tuple) else value
