"""What a batch run and its kernel agree on: environment variables, the activity probe, MIME types.

`nbflow run` and `papermill --engine nbflow` (`nbflow.batch`) start a kernel
and tell it through its environment that it runs unattended; the kernel
extension (`nbflow.jupyter`) answers with displays under the MIME types
below. Neither side imports the other: both import this module, so each
variable's name, type, writer and reader are written down once, here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import NbflowError

# -- MIME types nbflow emits (and reads back from executed notebooks) ----------

TEXT_MIME = "text/plain"
HTML_MIME = "text/html"
SVG_MIME = "image/svg+xml"
PNG_MIME = "image/png"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: `%flow wait` in a batch run with progress on: {"done", "total", "running"}; the engine draws a bar
#: from it and keeps it out of the notebook.
PROGRESS_MIME = "application/vnd.nbflow.progress+json"
#: the final `%flow wait` in a batch run: one row per step, which the engine copies into the
#: notebook's metadata (`nbflow.steps`), where `nbflow run` reads its summary.
STATUS_MIME = "application/vnd.nbflow.status+json"
#: the metadata of every display that carries a widget view beside static forms: where the widget's
#: model is gone (a notebook saved without widget state), the JupyterLab extension shows the static
#: form instead of "model not found" (docs/guide/jupyterlab.md).
VIEW_METADATA: dict[str, Any] = {"nbflow": {"static_fallback": True}}


# -- the environment -----------------------------------------------------------


class BatchEnvError(NbflowError, ValueError):
    """A variable of the batch environment holds a value its reader cannot take."""


@dataclass(frozen=True)
class Variable:
    """One environment variable of the contract: who sets it, who acts on it."""

    name: str
    writer: str
    reader: str

    def text(self, environ: Mapping[str, str] | None = None) -> str:
        return (os.environ if environ is None else environ).get(self.name, "")


@dataclass(frozen=True)
class Flag(Variable):
    """A yes/no variable: "1" is yes; "0" or unset is no; anything else is an error."""

    def read(self, environ: Mapping[str, str] | None = None) -> bool:
        text = self.text(environ)
        if text not in ("", "0", "1"):
            raise BatchEnvError(f"{self.name}: expected 1 or 0, got {text!r}")
        return text == "1"

    def write(self, value: bool) -> dict[str, str]:
        return {self.name: "1"} if value else {}


@dataclass(frozen=True)
class Text(Variable):
    """A string variable: unset or empty means None."""

    def read(self, environ: Mapping[str, str] | None = None) -> str | None:
        return self.text(environ) or None

    def write(self, value: str | None) -> dict[str, str]:
        return {self.name: value} if value else {}


BATCH = Flag("NBFLOW_BATCH", "nbflow.batch.engine, for every batch run",
             "the kernel: `%flow wait` publishes static outputs, the final graph and the status rows")
FORCE = Flag("NBFLOW_FORCE", "nbflow.batch.engine, for `nbflow run --force`",
             "the kernel: every step computes, none is restored")
PROGRESS = Flag("NBFLOW_PROGRESS", "nbflow.batch.engine, when the terminal bar is on",
                "the kernel: `%flow wait` publishes PROGRESS_MIME reports while it waits")
STORE = Text("NBFLOW_STORE", "nbflow.batch.engine for `--store`, or the user (README)",
             "nbflow.store.open_store, when no store is configured")
FLOW_NAME = Text("NBFLOW_FLOW_NAME", "the user; nothing in nbflow",
                 "the kernel: the flow's name in its store, instead of the notebook's file name")
NOTEBOOK = Text("JPY_SESSION_NAME", "Jupyter Server, or nbflow.batch.engine (the input's path)",
                "the kernel: the notebook's path, whose folder holds the default store")

VARIABLES: tuple[Flag | Text, ...] = (BATCH, FORCE, PROGRESS, STORE, FLOW_NAME, NOTEBOOK)


@dataclass(frozen=True)
class BatchEnv:
    """The batch environment, typed: what the engine writes and the kernel reads."""

    batch: bool = False
    force: bool = False
    progress: bool = False
    store: str | None = None
    flow_name: str | None = None
    notebook: str | None = None

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> BatchEnv:
        """This process's environment (or `environ`); a bad flag value is a one-line BatchEnvError."""
        return cls(batch=BATCH.read(environ), force=FORCE.read(environ), progress=PROGRESS.read(environ),
                   store=STORE.read(environ), flow_name=FLOW_NAME.read(environ), notebook=NOTEBOOK.read(environ))

    def environ(self) -> dict[str, str]:
        """The variables to add to a kernel's environment (unset flags and strings are left out)."""
        return {**BATCH.write(self.batch), **FORCE.write(self.force), **PROGRESS.write(self.progress),
                **STORE.write(self.store), **FLOW_NAME.write(self.flow_name), **NOTEBOOK.write(self.notebook)}


# -- is nbflow active in the kernel? --------------------------------------------

#: Evaluated in the kernel (a `user_expressions` entry) by the batch engine before it appends
#: `%flow wait`: `nbflow.jupyter.extension.is_active(shell)`, without importing nbflow there if the
#: notebook never loaded it.
ACTIVE_PROBE = ("(lambda module: module is not None and module.is_active(get_ipython()))"
                "(__import__('sys').modules.get('nbflow.jupyter.extension'))")


def probe_says_active(result: Mapping[str, Any]) -> bool:
    """The kernel's answer to ACTIVE_PROBE (one `user_expressions` result): True only if it evaluated to True."""
    data = result.get("data") or {}
    return bool(result.get("status") == "ok" and data.get(TEXT_MIME) == "True")
