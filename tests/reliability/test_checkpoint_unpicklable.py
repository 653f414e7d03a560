"""A corpus of values that cannot be pickled: each is named with its reason, the rest is saved."""

from __future__ import annotations

import asyncio
import mmap
import socket
import sqlite3
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbflow.store import CheckpointRefused, CheckpointStore

SECRET = b"u" * 32


class _Node:
    pass


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Twelve kinds of unpicklable value a notebook step can easily leave behind."""
    lock = threading.Lock()
    sock = socket.socket()
    handle = open(tmp_path / "log.txt", "w")  # noqa: SIM115 - the open file is the point
    conn = sqlite3.connect(":memory:")
    mapped = mmap.mmap(-1, 4096)
    node = _Node()
    loop = asyncio.new_event_loop()

    async def fetch() -> int:
        return 1

    coroutine = fetch()
    values: dict[str, Any] = {
        "lock": lock,
        "rlock": threading.RLock(),
        "conn": sock,
        "handle": handle,
        "rows": (i for i in range(3)),
        "worker": threading.Thread(target=print),
        "locked_fn": lambda: lock.locked(),
        "db": conn,
        "frame": sys._getframe(),
        "ref": weakref.ref(node),
        "mapped": mapped,
        "pending": coroutine,
        "loop": loop,
    }
    yield values
    coroutine.close()
    loop.close()
    mapped.close()
    conn.close()
    handle.close()
    sock.close()


def test_each_unpicklable_value_is_named_on_its_own(corpus: dict[str, Any], tmp_path: Path) -> None:
    """Written one at a time beside a good value: 13/13 named, each with a 'cannot pickle' style reason."""
    store = CheckpointStore(tmp_path / "store", secret=SECRET)
    named = 0
    for name, value in corpus.items():
        result = store.write("step", name, {name: value, "good": [1, 2]})
        assert list(result.unpicklable) == [name], name
        reason = result.unpicklable[name]
        assert reason and "\n" not in reason
        assert "pickle" in reason.lower(), (name, reason)
        assert store.read("step", name, partial=True) == {"good": [1, 2]}
        named += 1
    assert named == len(corpus) >= 10


def test_all_at_once_every_one_is_named_and_the_rest_restorable(
    corpus: dict[str, Any], tmp_path: Path
) -> None:
    """All in one step with good outputs: every bad one named, read refuses naming them, partial read works."""
    store = CheckpointStore(tmp_path / "store", secret=SECRET)
    good = {"n": 3, "arr": np.arange(100_000), "text": "kept"}
    result = store.write("mixed", "k", {**corpus, **good})
    assert set(result.unpicklable) == set(corpus)
    assert result.unpicklable["conn"] == "cannot pickle 'socket' object"
    assert result.unpicklable["lock"] == "cannot pickle '_thread.lock' object"
    assert result.reason is not None and "conn: cannot pickle 'socket' object" in result.reason
    with pytest.raises(CheckpointRefused) as caught:
        store.read("mixed", "k")
    message = str(caught.value)
    assert message.startswith("step 'mixed': checkpoint refused: not restorable: ")
    assert all(f"{name}: " in message for name in corpus)
    back = store.read("mixed", "k", partial=True)
    assert set(back) == set(good)
    assert np.array_equal(back["arr"], good["arr"]) and back["text"] == "kept"
