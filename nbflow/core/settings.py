"""The kernel flow's settings, as `%flow config` shows and changes them: one frozen, typed object.

`parse` turns every `KEY=VALUE` pair into a new object before anything is
applied, so one bad pair changes nothing. Executor names are the ones step
specs accept (`spec.EXECUTORS`), so `%flow config executor=...` and
`%%step --executor ...` agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import NbflowError
from .spec import EXECUTORS

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class SettingsError(NbflowError, ValueError):
    """A `%flow config` pair with an unknown key, or a value its key does not take."""


@dataclass(frozen=True)
class FlowSettings:
    """What `%flow config` knows: each field is one KEY."""

    #: how many thread steps run at once
    max_workers: int
    #: where checkpoints go: a folder or fsspec URL (after switching: the store actually opened)
    store: str
    #: whether a changed `%%step` cell, or an invalidated step, runs again by itself
    auto_rerun: bool = True
    #: the executor of `%%step` cells without `--executor`
    executor: str = "thread"
    #: kept for the Dask executor, not built yet (README)
    dask_address: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_workers, int) or isinstance(self.max_workers, bool) or self.max_workers < 1:
            raise SettingsError(f"max_workers: expected a whole number >= 1, got {self.max_workers!r}")
        if self.executor not in EXECUTORS:
            raise SettingsError(f"executor: expected one of {', '.join(EXECUTORS)}, got {self.executor!r}")

    @classmethod
    def known_keys(cls) -> list[str]:
        return sorted(item.name for item in fields(cls))

    def text(self) -> str:
        """`%flow config` with no argument: one `key = value` line per setting, sorted by key."""
        return "\n".join(f"{key} = {getattr(self, key)!r}" for key in self.known_keys())

    def parse(self, pairs: Iterable[str]) -> FlowSettings:
        """These settings with `KEY=VALUE` pairs applied; a bad pair raises a one-line SettingsError."""
        changes: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise SettingsError(f"expected KEY=VALUE, got {pair!r}")
            changes[key] = _value(key, value)
        return replace(self, **changes)


def _value(key: str, value: str) -> Any:
    if key == "store":
        return value
    if key == "max_workers":
        if not (value.isascii() and value.isdigit()) or int(value) < 1:
            raise SettingsError(f"max_workers: expected a whole number >= 1, got {value!r}")
        return int(value)
    if key == "auto_rerun":
        lowered = value.lower()
        if lowered not in _TRUE + _FALSE:
            raise SettingsError(f"auto_rerun: expected true or false, got {value!r}")
        return lowered in _TRUE
    if key == "executor":
        if value not in EXECUTORS:
            raise SettingsError(f"executor: expected one of {', '.join(EXECUTORS)}, got {value!r}")
        return value
    if key == "dask_address":
        return value or None
    raise SettingsError(f"unknown key {key!r} (known: {', '.join(FlowSettings.known_keys())})")
