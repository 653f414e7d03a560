"""The kernel flow's settings, as `%flow config` shows and changes them: one frozen, typed object.

`parse` turns every `KEY=VALUE` pair into a new object before anything is
applied, so one bad pair changes nothing. Executor names are the ones step
specs accept (`spec.EXECUTORS`), so `%flow config executor=...` and
`%%step --executor ...` agree.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import NbflowError
from .spec import EXECUTORS

_TRUE = ("true", "1", "yes", "on")
DASK_STORES = ("local", "shared")
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
    #: the Dask scheduler `--executor dask` steps go to (None: DASK_SCHEDULER_ADDRESS, the kernel's
    #: client, else a LocalCluster; README "Beyond one machine")
    dask_address: str | None = None
    #: who writes a Dask step's checkpoint: `local` (the kernel) or `shared` (the worker, on storage both reach)
    dask_store: str = "local"

    def __post_init__(self) -> None:
        if not isinstance(self.max_workers, int) or isinstance(self.max_workers, bool) or self.max_workers < 1:
            raise SettingsError(f"max_workers: expected a whole number >= 1, got {self.max_workers!r}")
        if self.executor not in EXECUTORS:
            raise SettingsError(f"executor: expected one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.dask_store not in DASK_STORES:
            raise SettingsError(f"dask_store: expected local or shared, got {self.dask_store!r}")

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
        if value == "dask" and importlib.util.find_spec("distributed") is None:
            raise SettingsError("executor: dask needs dask.distributed, which is not installed here; "
                                "install it with: pip install 'jupyter-nbflow[dask]'")
        return value
    if key == "dask_address":
        return _dask_address(value)
    if key == "dask_store":
        if value not in DASK_STORES:
            raise SettingsError(f"dask_store: expected local (the kernel writes a Dask step's checkpoint) or "
                                f"shared (its worker does, on storage both reach), got {value!r}")
        return value
    raise SettingsError(f"unknown key {key!r} (known: {', '.join(FlowSettings.known_keys())})")


_ADDRESS = re.compile(r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})/?")
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def _dask_address(value: str) -> str | None:
    """A scheduler address as Dask takes it (`tcp://host:8786`, or `host:8786` for tcp); empty: none."""
    if not value:
        return None
    found = _ADDRESS.fullmatch(value)
    scheme = found.group("scheme") if found else None
    if found is None or (scheme is not None and scheme not in _SCHEMES) or not 0 < int(found.group("port")) < 65536:
        raise SettingsError(f"dask_address: expected a scheduler address such as tcp://host:8786 "
                            f"({', '.join(_SCHEMES)}), got {value!r}")
    return value
