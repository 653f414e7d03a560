"""What the JupyterLab extension and the kernel say over the `nbflow` comm (protocol version 1).

The kernel side (`nbflow.jupyter.comm`) and the browser side
(`labextension/src/protocol.ts`) both name every message from here; the
contract is written out in docs/guide/jupyterlab.md ("The comm protocol").
Each message is a JSON object with a `type`; a step travels as a *row*: its
summary status (`StepStatus.to_json(detail=False)`, the widget's rows) plus
the id of the cell that defined it, so a badge can find its cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import NbflowError
from .status import StepStatusJSON

#: The comm target the kernel registers at `%load_ext nbflow`.
TARGET = "nbflow"
#: The protocol version this nbflow speaks. A front end reads `version` in every kernel message and
#: ignores messages of a version it does not know (a newer kernel), showing nothing rather than guessing.
VERSION = 1

# -- front end -> kernel --------------------------------------------------------

#: comm_open data: {"type": "hello", "version": 1}. Answered with a SNAPSHOT on that comm.
HELLO = "hello"
#: {"type": "request_snapshot"}: answered with a SNAPSHOT (after a gap in `seq`, say).
REQUEST_SNAPSHOT = "request_snapshot"
#: {"type": "run", "steps": [name], "force": bool}: `%flow run [STEP ...] [--force]`; answered with an ANSWER.
RUN = "run"
#: {"type": "cancel", "steps": [name]}: `%flow cancel [STEP ...]` (no steps: every active one); an ANSWER.
CANCEL = "cancel"
#: {"type": "retry", "steps": [name]}: `%flow retry STEP` for each (no steps: every failed one); an ANSWER.
RETRY = "retry"
#: {"type": "request_detail", "step": name}: answered with a DETAIL (the widget's detail pane of that step).
REQUEST_DETAIL = "request_detail"
#: {"type": "request_layout"}: answered with a LAYOUT, and another whenever the graph changes shape after.
REQUEST_LAYOUT = "request_layout"

# -- kernel -> front end --------------------------------------------------------

#: {"type", "version", "seq", "active", "steps": {name: row}, "saved", "palette"}: every step, in dependency
#: order. `active` is false until the kernel's first `%%step` or `%flow` creates its flow; `palette` is
#: {state: [fill, text]}, the widget's colours, so the badges need no table of their own.
SNAPSHOT = "snapshot"
#: {"type", "version", "seq", "steps": {name: row}, "removed": [name], "saved"}: what changed since the
#: message with `seq - 1`; at most one per 100 ms (the widget's coalescing), and one at each run's end.
UPDATE = "update"
#: {"type", "version", "message"}: a request the kernel could not take (one line).
ERROR = "error"
#: {"type", "version"}: `%unload_ext nbflow`; the kernel closes the comm after it.
BYE = "bye"
#: {"type", "version", "request", "message"}: what RUN, CANCEL or RETRY did, the line `%flow` prints.
ANSWER = "answer"
#: {"type", "version", "step", "detail"}: one step's error, traceback, attempts, provenance and why it ran.
DETAIL = "detail"
#: {"type", "version", "svg", "message"}: the widget's live layout (nodes to recolour by the rows), or "" and
#: why it was not drawn.
LAYOUT = "layout"

FRONT_END_MESSAGES = (HELLO, REQUEST_SNAPSHOT, RUN, CANCEL, RETRY, REQUEST_DETAIL, REQUEST_LAYOUT)
KERNEL_MESSAGES = (SNAPSHOT, UPDATE, ERROR, BYE, ANSWER, DETAIL, LAYOUT)
#: the requests that change the flow (the others only ask)
COMMANDS = (RUN, CANCEL, RETRY)


class StepRowJSON(StepStatusJSON, total=False):
    """A step as the extension receives it: the summary status, and `cell` when the kernel knows it."""

    cell: str


class LabCommError(NbflowError, ValueError):
    """A message on the `nbflow` comm that the kernel cannot take."""


@dataclass(frozen=True)
class Request:
    """A front end's message, checked: its type, (for HELLO) the version it speaks, and the steps it names."""

    type: str
    version: int = VERSION
    steps: tuple[str, ...] = ()
    force: bool = False


def parse_request(data: Any) -> Request:
    """The front end's message; anything else is a one-line LabCommError naming the problem."""
    if not isinstance(data, Mapping):
        raise LabCommError(f"nbflow comm: expected a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in FRONT_END_MESSAGES:
        raise LabCommError(f"nbflow comm: unknown message type {kind!r} (expected one of {FRONT_END_MESSAGES})")
    version = data.get("version", VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise LabCommError(f"nbflow comm: version must be a whole number >= 1, got {version!r}")
    if kind == REQUEST_DETAIL:
        step = data.get("step")
        if not isinstance(step, str) or not step:
            raise LabCommError(f"nbflow comm: {kind} needs a step name, got {step!r}")
        return Request(str(kind), version, (step,))
    steps = data.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(s, str) and s for s in steps):
        raise LabCommError(f"nbflow comm: {kind}: steps must be a list of step names, got {steps!r}")
    force = data.get("force", False)
    if not isinstance(force, bool):
        raise LabCommError(f"nbflow comm: {kind}: force must be true or false, got {force!r}")
    return Request(str(kind), version, tuple(steps), force)


def row(status: StepStatusJSON, cell: str | None) -> StepRowJSON:
    """One step's row: its summary status with the cell id added."""
    data: StepRowJSON = {**status}
    if cell:
        data["cell"] = cell
    return data


def snapshot(seq: int, active: bool, steps: Mapping[str, StepRowJSON], saved: float,
             palette: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    return {"type": SNAPSHOT, "version": VERSION, "seq": seq, "active": active, "steps": dict(steps),
            "saved": saved, "palette": {state: list(colours) for state, colours in palette.items()}}


def update(seq: int, steps: Mapping[str, StepRowJSON], removed: list[str], saved: float) -> dict[str, Any]:
    return {"type": UPDATE, "version": VERSION, "seq": seq, "steps": dict(steps), "removed": removed,
            "saved": saved}


def error(message: str) -> dict[str, Any]:
    return {"type": ERROR, "version": VERSION, "message": message}


def bye() -> dict[str, Any]:
    return {"type": BYE, "version": VERSION}


def answer(request: str, message: str) -> dict[str, Any]:
    return {"type": ANSWER, "version": VERSION, "request": request, "message": message}


def detail(step: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": DETAIL, "version": VERSION, "step": step, "detail": dict(data)}


def layout(svg: str, message: str = "") -> dict[str, Any]:
    return {"type": LAYOUT, "version": VERSION, "svg": svg, "message": message}
