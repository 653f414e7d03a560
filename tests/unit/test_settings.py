"""`%flow config` settings: KEY=VALUE parsing, one-line errors naming key and allowed values, one executor list."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from nbflow.core.settings import FlowSettings, SettingsError
from nbflow.core.spec import EXECUTORS

BASE = FlowSettings(max_workers=4, store="/data/.nbflow")

GOOD: list[tuple[list[str], dict[str, Any]]] = [
    ([], {}),
    (["max_workers=1"], {"max_workers": 1}),
    (["max_workers=16"], {"max_workers": 16}),
    (["auto_rerun=false"], {"auto_rerun": False}),
    (["auto_rerun=OFF"], {"auto_rerun": False}),
    (["auto_rerun=no", "auto_rerun=Yes"], {"auto_rerun": True}),  # the last pair of a key wins
    (["auto_rerun=0"], {"auto_rerun": False}),
    (["auto_rerun=on"], {"auto_rerun": True}),
    (["executor=process"], {"executor": "process"}),
    (["executor=dask"], {"executor": "dask"}),
    (["store=s3://bucket/x"], {"store": "s3://bucket/x"}),
    (["store="], {"store": ""}),  # the default store, as `open_store` reads an empty location
    (["dask_address=tcp://h:8786"], {"dask_address": "tcp://h:8786"}),
    (["dask_address="], {"dask_address": None}),
    (["dask_address=10.0.0.5:8786"], {"dask_address": "10.0.0.5:8786"}),  # tcp, as Dask reads it
    (["dask_address=tls://[::1]:8786"], {"dask_address": "tls://[::1]:8786"}),
    (["dask_store=shared"], {"dask_store": "shared"}),
    (["dask_store=shared", "dask_store=local"], {"dask_store": "local"}),
    (["max_workers=2", "executor=process", "auto_rerun=false"],
     {"max_workers": 2, "executor": "process", "auto_rerun": False}),
]

BAD: list[tuple[list[str], str]] = [
    (["colour=blue"], "unknown key 'colour' (known: auto_rerun, dask_address, dask_store, executor, max_workers, "
                      "store)"),
    (["max_workers"], "expected KEY=VALUE, got 'max_workers'"),
    (["max_workers=zero"], "max_workers: expected a whole number >= 1, got 'zero'"),
    (["max_workers=0"], "max_workers: expected a whole number >= 1, got '0'"),
    (["max_workers=-2"], "max_workers: expected a whole number >= 1, got '-2'"),
    (["max_workers=²"], "max_workers: expected a whole number >= 1, got '²'"),
    (["max_workers="], "max_workers: expected a whole number >= 1, got ''"),
    (["auto_rerun=maybe"], "auto_rerun: expected true or false, got 'maybe'"),
    (["executor=gpu"], "executor: expected one of thread, process, dask, got 'gpu'"),
    (["executor=Thread"], "executor: expected one of thread, process, dask, got 'Thread'"),
    (["max_workers=2", "colour=blue"], "unknown key 'colour'"),
    (["dask_address=scheduler"], "dask_address: expected a scheduler address such as tcp://host:8786 "
                                 "(tcp, tls, ws, wss, ucx), got 'scheduler'"),
    (["dask_address=http://h:8787"], "dask_address: expected a scheduler address such as tcp://host:8786"),
    (["dask_address=tcp://h:0"], "dask_address: expected a scheduler address"),
    (["dask_address=tcp://h:8786 extra"], "dask_address: expected a scheduler address"),
    (["dask_store=nfs"], "dask_store: expected local (the kernel writes a Dask step's checkpoint) or shared "
                         "(its worker does, on storage both reach), got 'nfs'"),
    (["dask_store=Shared"], "dask_store: expected local"),
]


@pytest.mark.parametrize(("pairs", "changes"), GOOD, ids=[" ".join(p) or "none" for p, _ in GOOD])
def test_parse_applies_the_pairs(pairs: list[str], changes: dict[str, Any]) -> None:
    parsed = BASE.parse(pairs)
    expected = {"max_workers": 4, "store": "/data/.nbflow", "auto_rerun": True, "executor": "thread",
                "dask_address": None, "dask_store": "local", **changes}
    assert {key: getattr(parsed, key) for key in FlowSettings.known_keys()} == expected
    assert BASE.max_workers == 4 and BASE.auto_rerun is True  # parsing makes a new object


@pytest.mark.parametrize(("pairs", "message"), BAD, ids=[" ".join(p) for p, _ in BAD])
def test_bad_pair_is_one_line_naming_key_and_allowed_values(pairs: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        BASE.parse(pairs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_executor_names_are_the_specs() -> None:
    """One list: every executor a spec accepts is a valid setting, and the error lists exactly those."""
    for name in EXECUTORS:
        assert BASE.parse([f"executor={name}"]).executor == name
    with pytest.raises(SettingsError, match="expected one of " + ", ".join(EXECUTORS) + ", got"):
        BASE.parse(["executor=nope"])


def test_listing_is_sorted_key_equals_repr() -> None:
    assert BASE.text().splitlines() == [
        "auto_rerun = True",
        "dask_address = None",
        "dask_store = 'local'",
        "executor = 'thread'",
        "max_workers = 4",
        "store = '/data/.nbflow'",
    ]


def test_settings_are_frozen_and_checked_when_built() -> None:
    with pytest.raises(FrozenInstanceError):
        BASE.max_workers = 2  # type: ignore[misc]
    with pytest.raises(SettingsError, match="max_workers: expected a whole number >= 1, got 0"):
        FlowSettings(max_workers=0, store="x")
    with pytest.raises(SettingsError, match="max_workers: expected a whole number >= 1, got True"):
        FlowSettings(max_workers=True, store="x")
    with pytest.raises(SettingsError, match="executor: expected one of thread, process, dask, got 'gpu'"):
        FlowSettings(max_workers=1, store="x", executor="gpu")
    with pytest.raises(SettingsError, match="dask_store: expected local or shared, got 'nfs'"):
        FlowSettings(max_workers=1, store="x", dask_store="nfs")
