"""Interim cache keys (replaced by the full module)."""

from __future__ import annotations

import ast
import hashlib
import pickle
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.spec import StepSpec

_LOCK = threading.Lock()


@dataclass(frozen=True)
class KeyResult:
    key: str | None
    reason: str | None = None


def normalized_code(code: str) -> str:
    with _LOCK:
        return ast.dump(ast.parse(code), include_attributes=False)


def step_key(spec: StepSpec, upstream: Mapping[str, str | None], inputs: Mapping[str, Any],
             watch_root: Path | None) -> KeyResult:
    h = hashlib.blake2b(digest_size=20)
    h.update(b"nbflow-key-1")
    h.update(normalized_code(spec.code or "").encode())
    h.update(repr((spec.condition, sorted(spec.after), sorted(spec.after_any))).encode())
    for name, key in sorted(upstream.items()):
        h.update(f"{name}={key}".encode())
    for name, value in sorted(inputs.items()):
        try:
            h.update(name.encode() + pickle.dumps(value, protocol=5))
        except Exception as error:
            return KeyResult(None, f"input {name!r} cannot be hashed reliably: {type(error).__name__}")
    for path in spec.watch:
        p = (watch_root or Path.cwd()) / path
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return KeyResult(h.hexdigest())
