"""The scheduler's side of caching, with an in-memory Cache (the real store is tested elsewhere)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from nbflow.core import events as ev
from nbflow.core.cache import Key, Restored, Saved
from nbflow.core.flow import Flow
from nbflow.core.namespace import Outputs
from nbflow.core.spec import StepSpec
from nbflow.core.states import State


class MemoryCache:
    """Keys from code, upstream keys and input reprs; checkpoints in a dict."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], dict[str, Any]] = {}
        self.keys: dict[str, str | None] = {}

    def key(self, spec: StepSpec, upstream: Mapping[str, str | None], inputs: Mapping[str, Any]) -> Key:
        if "unhashable" in inputs:
            return Key(None, "input 'unhashable' cannot be hashed reliably")
        values = sorted((k, repr(v)) for k, v in inputs.items() if k != "runs")  # `runs` is the test's side channel
        text = repr((spec.code, sorted(upstream.items()), values))
        value = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.keys[spec.name] = value
        return Key(value)

    def restore(self, spec: StepSpec, key: str) -> Restored | None:
        values = self.saved.get((spec.name, key))
        if values is None:
            return None
        return Restored(Outputs(dict(values)), f"mem://{spec.name}/{key}", 0.001, time_saved=1.0)

    def save(self, spec: StepSpec, key: str, outputs: Outputs, duration: float) -> Saved:
        self.saved[(spec.name, key)] = dict(outputs.values)
        return Saved(f"mem://{spec.name}/{key}", 10, 0.0)


def build(cache: MemoryCache, ns: dict[str, Any]) -> Flow:
    flow = Flow(ns, cache=cache)
    flow.add("a", "runs.append('a')\nx = base + 1")
    flow.add("b", "runs.append('b')\ny = x * 2", after="a")
    flow.add("c", "runs.append('c')\nz = y + 1", after="b", no_cache=True)
    return flow


def test_a_fresh_flow_over_the_same_cache_restores_instead_of_running() -> None:
    """The kernel-restart case: same code and inputs → restored, not executed (except --no-cache)."""
    cache = MemoryCache()
    with build(cache, {"runs": [], "base": 1}) as first:
        first.run()
        first.wait(timeout=10)
    ns: dict[str, Any] = {"runs": [], "base": 1}
    with build(cache, ns) as second:
        seen: list[ev.Event] = []
        second.subscribe(seen.append)
        second.run()
        second.wait(timeout=10)
        status = second.status()
    assert ns["runs"] == ["c"]
    assert (ns["x"], ns["y"], ns["z"]) == (2, 4, 5)
    assert [status[n].state for n in "abc"] == [State.RESTORED, State.RESTORED, State.SUCCEEDED]
    assert status["a"].checkpoint == f"mem://a/{cache.keys['a']}"
    assert status["a"].time_saved == 1.0
    assert [e.step for e in seen if isinstance(e, ev.StepRestored)] == ["a", "b"]


def test_changed_outside_input_reruns_the_step_and_its_dependents() -> None:
    """A parameter change alters the key of the step that reads it, and so of everything below."""
    cache = MemoryCache()
    with build(cache, {"runs": [], "base": 1}) as first:
        first.run()
        first.wait(timeout=10)
    ns: dict[str, Any] = {"runs": [], "base": 5}
    with build(cache, ns) as second:
        second.run()
        second.wait(timeout=10)
    assert ns["runs"] == ["a", "b", "c"]
    assert ns["z"] == 13


def test_force_executes_and_unhashable_input_turns_caching_off() -> None:
    """run(force=True) executes a matching step; an unhashable input leaves the step uncached, with a reason."""
    cache = MemoryCache()
    with build(cache, {"runs": [], "base": 1}) as first:
        first.run()
        first.wait(timeout=10)
        first.run("a", force=True)
        first.wait(timeout=10)
        assert first.namespace["runs"] == ["a", "b", "c", "a", "c"]  # b's key is unchanged: restored
        first.add("d", "runs.append('d')\nw = unhashable", after="a")
        first.namespace["unhashable"] = object()
        first.run("d")
        first.wait(timeout=10)
        status = first.status()["d"]
    assert status.state is State.SUCCEEDED
    assert status.key is None
    assert status.not_restorable == "input 'unhashable' cannot be hashed reliably"
