"""`%flow why STEP` in words: will the step be restored or re-run, and which part of its key decides.

The parts of a key are stored with each checkpoint, so explaining a re-run
compares the key the step would get now with the parts of its newest
checkpoint, without recomputing anything of the old run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .cache import Previous
from .keys import Part, StepKey, changed_parts


@dataclass(frozen=True)
class Explanation:
    """What `why` found for one step."""

    step: str
    current: StepKey
    previous: Previous | None  # the newest checkpoint of the step, under any key
    stored: bool  # a checkpoint exists under the current key
    last_key: str | None = None  # the key of the step's last run in this session
    last_why: str | None = None  # what that run said (ran because ..., restored ...)
    state: str = ""

    def text(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        name, current = self.step, self.current
        if current.value is None:
            lines = [f"{name}: not cached: {current.reason}"]
        elif self.stored:
            same = self.last_key == current.value and self.state in ("succeeded", "restored")
            lines = [f"{name}: up to date; its key matches its checkpoint" if same else
                     f"{name}: will be restored: a checkpoint with its current key is stored"]
        elif self.previous is None:
            lines = [f"{name}: will run: it has no checkpoint yet"]
        else:
            changes = changed_parts(self.previous.parts, current.parts) or ["its key changed"]
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.previous.created))
            lines = [f"{name}: will re-run: {'; '.join(changes)} since its checkpoint of {when}"]
        if self.last_why:
            lines.append(f"last run: {self.last_why}")
        lines.extend(f"  {line}" for line in describe_parts(current.parts))
        lines.extend(f"  warning: {w}" for w in current.warnings)
        return lines


def describe_parts(parts: tuple[Part, ...]) -> list[str]:
    """One line per key part: `input 'raw' (list of 10)  3f2a9c01d4e5`."""
    return [f"{part.label}{f' ({part.detail})' if part.detail else ''}  {part.digest[:12] or '-'}"
            for part in parts]
