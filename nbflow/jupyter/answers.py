"""The one line each `%flow` command prints to say what it did.

A command that changes the flow answers, so a user never has to guess
whether `%flow run a --force` or `%flow retry a` did anything; the lines
are built here, apart from the magics, from what the Flow call returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..core.graph import Graph

_SHOWN = 8  # names listed before "… and N more"


def names(steps: Iterable[str], graph: Graph) -> str:
    """Steps in dependency order, the first few by name: "a, b, c and 4 more"."""
    ordered = graph.ordered({n for n in steps if n in graph})
    if len(ordered) <= _SHOWN:
        return ", ".join(ordered)
    return ", ".join(ordered[:_SHOWN]) + f" and {len(ordered) - _SHOWN} more"


def plural(count: int, word: str = "step") -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def ran(started: frozenset[str], named: Sequence[str], force: bool, graph: Graph) -> str:
    """`%flow run [STEP ...] [--force]`."""
    if not started:
        return "nbflow: everything is up to date"
    if force and named:
        forced = set(named) & started
        below = (graph.descendants_of(forced) & started) - forced
        needs = started - forced - below
        line = f"nbflow: re-running {names(forced, graph)}, restoring nothing"
        if below:
            line += f", and downstream {names(below, graph)}"
        if needs:
            line += f"; first {names(needs, graph)}, which they need"
        return line
    forced_text = ", computing them all (nothing restored)" if force else ""
    return f"nbflow: running {plural(len(started))}: {names(started, graph)}{forced_text}"


def retried(step: str, started: frozenset[str], graph: Graph) -> str:
    """`%flow retry STEP`."""
    after = started - {step}
    then = f", then {names(after, graph)}" if after else ""
    return f"nbflow: retrying {step}{then}"


def cancelled(done: frozenset[str], graph: Graph) -> str:
    """`%flow cancel [STEP ...] [--downstream]`: every step it cancelled, the ones that depended on them too."""
    if not done:
        return "nbflow: cancelled nothing (no step was waiting or running)"
    return f"nbflow: cancelled {names(done, graph)}"


def invalidated(step: str, dropped: bool, rerun: bool, graph: Graph) -> str:
    """`%flow invalidate STEP`."""
    what = f"dropped the checkpoint of {step!r}" if dropped else f"{step!r} had no checkpoint to drop"
    below = graph.descendants(step)
    stale = f"{step} and downstream {names(below, graph)} are stale" if below else f"{step} is stale"
    then = "running again" if rerun else "`%flow run` runs them again"
    return f"nbflow: {what}; {stale}, {then}"


def interrupted(running: int) -> str:
    """Interrupting `%flow wait`: the steps go on in the background."""
    if not running:
        return "interrupted; no step is still running"
    return f"interrupted; {plural(running)} still running — %flow cancel stops them"
