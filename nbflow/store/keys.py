"""Cache keys: what a step's result depends on, hashed.

A key covers the step's normalized code (whitespace and comments do not
count, docstrings do), the options that can change its result, the keys of
its upstream steps, the content of its `--watch` paths and the values of the
inputs it reads from outside any step (parameters, plain cells). Options that
only change *how* it runs (retries, backoff, retry-on, timeout, delay, at,
on-fail, executor) are left out, so tuning them keeps the checkpoint.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.spec import StepSpec
from .hashing import Unhashable, stable_hash

FORMAT = b"nbflow-key-2"
# Spec fields that can change what a step produces.
RESULT_OPTIONS = ("condition", "after", "after_any", "watch")
_AST_LOCK = threading.Lock()  # Python 3.11's ast module is not thread-safe


@dataclass(frozen=True)
class KeyResult:
    """A key (hex), or None with the reason caching is off for this step."""

    key: str | None
    reason: str | None = None


@functools.lru_cache(maxsize=2048)
def normalized_code(code: str) -> str:
    """The code's syntax tree as text: formatting and comments leave it unchanged."""
    with _AST_LOCK:
        return ast.dump(ast.parse(code), include_attributes=False)


def step_key(spec: StepSpec, upstream: Mapping[str, str | None], inputs: Mapping[str, Any],
             watch_root: Path | None) -> KeyResult:
    """The key of `spec` given its upstream keys and outside input values."""
    digest = hashlib.blake2b(digest_size=20)
    part = _part(digest)
    part(FORMAT)
    if spec.code is not None:
        part(b"code", normalized_code(spec.code).encode())
    else:
        try:
            part(b"func", stable_hash(spec.func))
        except Unhashable as error:
            return KeyResult(None, f"the function cannot be hashed reliably: {error}")
    part(b"options", stable_hash(tuple(_option(spec, name) for name in RESULT_OPTIONS)))
    for name, key in sorted(upstream.items()):
        if key is None:
            return KeyResult(None, f"upstream step {name!r} has no cache key")
        part(b"upstream", name.encode(), key.encode())
    for name, value in sorted(inputs.items()):
        try:
            part(b"input", name.encode(), stable_hash(value))
        except Unhashable as error:
            return KeyResult(None, f"input {name!r} cannot be hashed reliably: {error}")
    if spec.watch:
        part(b"watch", watch_hash(spec.watch, watch_root or Path.cwd()))
    return KeyResult(digest.hexdigest())


def watch_hash(paths: Iterable[str], root: Path) -> bytes:
    """Content hash of files and folders (every file below, by sorted relative path)."""
    digest = hashlib.blake2b(digest_size=32)
    part = _part(digest)
    for path in paths:
        full = Path(root, path)
        part(b"path", path.encode())
        if full.is_file():
            part(b"file", _file_hash(full))
        elif full.is_dir():
            for below in sorted(p for p in full.rglob("*") if p.is_file()):
                part(b"member", below.relative_to(full).as_posix().encode(), _file_hash(below))
        else:
            part(b"missing")
    return digest.digest()


def _file_hash(path: Path) -> bytes:
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _option(spec: StepSpec, name: str) -> Any:
    value = getattr(spec, name)
    return tuple(sorted(value)) if isinstance(value, tuple) else value


def _part(digest: Any) -> Any:
    """Feed length-prefixed parts, so no two sequences of parts hash alike."""

    def feed(*chunks: bytes) -> None:
        for chunk in chunks:
            digest.update(len(chunk).to_bytes(8, "little") + chunk)

    return feed


