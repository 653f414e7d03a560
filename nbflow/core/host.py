"""What the scheduler and an attempt need from whatever runs a step's body.

In practice that is the notebook's namespace (`namespace.NamespaceHost`, or the
kernel's subclass of it). The protocols live here, apart from both of their
users, so that the scheduler and the attempt it starts depend on them and not
on each other.
"""

from __future__ import annotations

from typing import Any, Protocol

from .namespace import Outputs
from .spec import StepSpec


class Runner(Protocol):
    """What an attempt needs from the host: a snapshot to run in, and running the body there."""

    namespace: Any

    def snapshot(self) -> dict[str, Any]: ...
    def runs_here(self, spec: StepSpec) -> bool: ...
    def execute(self, spec: StepSpec, attempt: int = 1, scope: dict[str, Any] | None = None) -> Outputs: ...


class Host(Runner, Protocol):
    """What runs a step's body and binds its outputs (the namespace, in practice)."""

    def prepare(self, spec: StepSpec) -> None: ...
    def evaluate_condition(self, spec: StepSpec) -> bool: ...
    def commit(self, spec: StepSpec, outputs: Outputs) -> dict[str, Any]: ...
