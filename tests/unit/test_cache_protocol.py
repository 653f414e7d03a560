"""The scheduler's side of caching, with an in-memory Cache (the real store is tested elsewhere)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import cloudpickle

from nbflow.core import events as ev
from nbflow.core.cache import Previous, Refused, Restored, Saved, Snapshot
from nbflow.core.flow import Flow
from nbflow.core.namespace import Outputs
from nbflow.core.spec import StepSpec
from nbflow.core.states import State


class Tally:
    """A side channel that records which steps ran; it hashes as a constant, so it never changes a key."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tally, ())


class MemoryCache:
    """Checkpoints in a dict, keyed as the scheduler says; values are pickled, as a store would."""

    watch_root = Path(".")

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], Snapshot] = {}
        self.pickled: dict[tuple[str, str], bytes] = {}
        self.discarded: list[tuple[str, str]] = []

    def restore(self, spec: StepSpec, key: str, live: Any = None) -> Restored | Refused | None:
        snap = self.saved.get((spec.name, key))
        if snap is None:
            return None
        outputs = Outputs(cloudpickle.loads(self.pickled[(spec.name, key)]), snap.outputs.deleted)
        assert not callable(snap.digests)
        return Restored(outputs, f"mem://{spec.name}/{key}", 0.001, snap.digests, snap.parts, snap.mutated,
                        duration=1.0)

    def save(self, spec: StepSpec, key: str, snapshot: Snapshot, live: Any = None) -> Saved:
        digests = dict(snapshot.digests() if callable(snapshot.digests) else snapshot.digests)
        self.saved[(spec.name, key)] = dataclasses.replace(snapshot, digests=digests)
        self.pickled[(spec.name, key)] = cloudpickle.dumps(dict(snapshot.outputs.values))
        return Saved(f"mem://{spec.name}/{key}", 10, 0.0, digests=digests)

    def discard(self, spec: StepSpec, key: str) -> None:
        self.discarded.append((spec.name, key))
        self.saved.pop((spec.name, key), None)

    def previous(self, spec: StepSpec) -> Previous | None:
        mine = [(k, s) for (n, k), s in self.saved.items() if n == spec.name]
        return Previous(mine[-1][0], mine[-1][1].parts, 0.0) if mine else None

    def exists(self, spec: StepSpec, key: str) -> bool:
        return (spec.name, key) in self.saved

    def keys(self, step: str) -> list[str]:
        return [k for n, k in self.saved if n == step]


def build(cache: MemoryCache, ns: dict[str, Any]) -> Flow:
    flow = Flow(ns, cache=cache)
    flow.add("a", "tally.seen.append('a')\nx = base + 1")
    flow.add("b", "tally.seen.append('b')\ny = x * 2", after="a")
    flow.add("c", "tally.seen.append('c')\nz = y + 1", after="b", no_cache=True)
    return flow


def run(flow: Flow, *names: str, force: bool = False) -> dict[str, State]:
    flow.run(*names, force=force)
    flow.wait(timeout=10, raise_on_failure=False)
    return {n: s.state for n, s in flow.status().items()}


def test_a_fresh_flow_over_the_same_cache_restores_instead_of_running() -> None:
    """The kernel-restart case: same code and inputs → restored, not executed (except --no-cache)."""
    cache = MemoryCache()
    with build(cache, {"tally": Tally(), "base": 1}) as first:
        run(first)
    ns: dict[str, Any] = {"tally": Tally(), "base": 1}
    with build(cache, ns) as second:
        seen: list[ev.Event] = []
        second.subscribe(seen.append)
        states = run(second)
        status = second.status()
    assert ns["tally"].seen == ["c"]
    assert (ns["x"], ns["y"], ns["z"]) == (2, 4, 5)
    assert [states[n] for n in "abc"] == [State.RESTORED, State.RESTORED, State.SUCCEEDED]
    assert status["a"].checkpoint == f"mem://a/{cache.keys('a')[0]}"
    assert status["a"].time_saved is not None and 0.99 < status["a"].time_saved < 1.0
    assert [e.step for e in seen if isinstance(e, ev.StepRestored)] == ["a", "b"]


def test_changed_outside_input_reruns_the_step_and_its_dependents() -> None:
    """A parameter change alters the key of the step that reads it, and of every reader of its output."""
    cache = MemoryCache()
    with build(cache, {"tally": Tally(), "base": 1}) as first:
        run(first)
    ns: dict[str, Any] = {"tally": Tally(), "base": 5}
    with build(cache, ns) as second:
        run(second)
    assert ns["tally"].seen == ["a", "b", "c"]
    assert ns["z"] == 13


def test_an_upstream_that_reruns_with_new_data_reruns_its_readers() -> None:
    """Forced or uncached, an upstream producing different data invalidates its readers; the same data does not."""
    cache = MemoryCache()
    ns: dict[str, Any] = {"tally": Tally(), "clock": iter(range(100)).__next__}
    with Flow(ns, cache=cache) as flow:
        flow.add("src", "tally.seen.append('src')\nvalue = clock() // 2", no_cache=True)
        flow.add("use", "tally.seen.append('use')\nresult = value * 10", after="src")
        run(flow)
        assert ns["result"] == 0
        flow.invalidate("src")
        run(flow)  # clock() is 1: value is still 0 -> early cutoff
        assert flow.status()["use"].state is State.RESTORED
        flow.invalidate("src")
        run(flow)  # clock() is 2: value is 1 -> the reader runs
        assert flow.status()["use"].state is State.SUCCEEDED
    assert ns["result"] == 10
    assert ns["tally"].seen == ["src", "use", "src", "src", "use"]


def test_force_reruns_the_named_step_and_everything_below_it() -> None:
    """run(name, force=True) executes the step and its dependents even when their checkpoints match."""
    cache = MemoryCache()
    ns: dict[str, Any] = {"tally": Tally(), "base": 1}
    with build(cache, ns) as flow:
        run(flow)
        states = run(flow, "a", force=True)
    assert ns["tally"].seen == ["a", "b", "c", "a", "b", "c"]
    assert states == {"a": State.SUCCEEDED, "b": State.SUCCEEDED, "c": State.SUCCEEDED}


def test_unhashable_input_turns_caching_off_with_a_warning_naming_it() -> None:
    """A lock read by a step: the step runs, gets no key, and a warning names the variable and its type."""
    cache = MemoryCache()
    ns: dict[str, Any] = {"lock": threading.Lock()}
    with Flow(ns, cache=cache) as flow:
        warnings: list[str] = []
        flow.subscribe(lambda e: warnings.append(e.message) if isinstance(e, ev.StepWarning) else None)
        flow.add("d", "w = lock.locked()")
        run(flow)
        status = flow.status()["d"]
    assert status.state is State.SUCCEEDED and status.key is None
    assert status.not_restorable is not None and "input 'lock' (_thread.lock)" in status.not_restorable
    assert any(w.startswith("not cached: input 'lock' (_thread.lock) cannot be hashed") for w in warnings)


def test_a_restore_replays_in_place_changes_and_deletions() -> None:
    """An input changed in place and a deleted name come back as running the step left them."""
    cache = MemoryCache()
    code_a = "rows = [1, 2]\nscratch = 0"
    code_b = "rows.append(3)\ntmp = len(rows)\ndel scratch"
    code_c = "total = sum(rows)"
    fresh: dict[str, Any] = {}
    with Flow(fresh, cache=cache) as flow:
        flow.add("a", code_a)
        flow.add("b", code_b, after="a")
        flow.add("c", code_c, after="b")
        run(flow)
    restored: dict[str, Any] = {}
    with Flow(restored, cache=cache) as flow:
        flow.add("a", code_a)
        flow.add("b", code_b, after="a")
        flow.add("c", code_c, after="b")
        states = run(flow)
    assert set(states.values()) == {State.RESTORED}
    for ns in (fresh, restored):
        assert ns["rows"] == [1, 2, 3] and ns["tmp"] == 3 and ns["total"] == 6
        assert "scratch" not in ns


def test_a_timed_out_attempt_never_writes_a_checkpoint() -> None:
    """The body finishes after its timeout: the result is dropped and nothing is saved under its key."""
    cache = MemoryCache()
    release = threading.Event()
    ns: dict[str, Any] = {"release": release}
    with Flow(ns, cache=cache) as flow:
        timed_out = threading.Event()
        flow.subscribe(lambda e: timed_out.set() if isinstance(e, ev.AttemptFailed) and e.timed_out else None)
        flow.add("slow", "release.wait(10)\nvalue = 1", timeout=0.05)
        flow.run()
        assert timed_out.wait(10)
        finished = threading.Event()
        ns["finished"] = finished
        flow.add("after", "finished.set()")  # runs on the pool once the abandoned thread is free
        release.set()
        flow.wait("after", timeout=10, raise_on_failure=False)
        flow.wait(timeout=10, raise_on_failure=False)
        state = flow.status()["slow"].state
    assert state is State.FAILED
    assert cache.keys("slow") == []
    assert "value" not in ns


def test_after_any_keys_do_not_depend_on_which_upstream_finished_first() -> None:
    """A step reading only the finished branch gets the same key whether or not the other branch ran."""
    keys = []
    for other_done in (True, False):
        gate = threading.Event()
        if other_done:
            gate.set()
        with Flow({"gate": gate}, cache=MemoryCache()) as flow:
            flow.add("fast", "x = 1")
            flow.add("slow", "gate.wait(10)\ny = 2")
            flow.run()
            flow.wait(*(() if other_done else ("fast",)), timeout=10)
            flow.add("either", "z = x + 1", after_any="fast,slow")
            flow.run("either")
            flow.wait("either", timeout=10)
            keys.append(flow.status()["either"].key)
            gate.set()
            flow.wait(timeout=10)
    assert keys[0] is not None and keys[0] == keys[1]


def test_refresh_marks_readers_of_a_changed_value_stale() -> None:
    """A value changed outside any step makes its readers stale, naming the input; untouched steps stay."""
    cache = MemoryCache()
    ns: dict[str, Any] = {"limit": 3, "data": [1, 2, 3, 4]}
    with Flow(ns, cache=cache) as flow:
        flow.add("keep", "kept = [d for d in data if d < limit]")
        flow.add("other", "n = len(data)")
        run(flow)
        ns["limit"] = 4
        stale = flow.refresh({"limit"})
        assert stale == {"keep": "input 'limit' changed (int)"}
        assert flow.status()["other"].state is State.SUCCEEDED
        ns["data"].append(5)  # in place: found only when `data` is named as touched
        assert flow.refresh({"data"}) == {"other": "input 'data' changed (list of 5)"}
        run(flow)
    assert ns["kept"] == [1, 2, 3] and ns["n"] == 5
