"""`papermill --engine nbflow`: papermill's nbclient engine, plus waiting for the steps.

Cells run exactly as papermill runs them (parameters injected, papermill's
metadata and error cells). Then, if the notebook uses nbflow and does not
already end with a `%flow wait` that ran, one more cell, `%flow wait`, is
appended and run: it waits for every step, refreshes each
step's output in its own cell, shows the final graph as SVG and the status
table, and raises FlowFailed naming every failed step, which papermill turns
into a PapermillExecutionError. The kernel learns it runs in batch (and
where its store is) from environment variables set here; both sides take
them, and the MIME types of the kernel's reports, from `core/protocol.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellExecutionError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from ...core.protocol import ACTIVE_PROBE, PROGRESS_MIME, STATUS_MIME, BatchEnv, probe_says_active
from ..cells import uses_nbflow
from ..progress import StepProgress

FINAL_SOURCE = "%flow wait"
FINAL_TAG = "nbflow-final"
#: a last cell that waits for every step, as the appended one would (`%flow wait`, maybe with --timeout)
_WAITS_FOR_ALL = re.compile(r"%flow\s+wait(\s+--timeout(\s+|=)\S+)?")


def kernel_environment(input_path: str | None, store: str | None = None, force: bool = False,
                       progress: bool = False) -> dict[str, str]:
    """What the kernel needs to know: batch mode, and which notebook it runs.

    JPY_SESSION_NAME is how Jupyter Server tells a kernel its notebook; with
    it the store, manifest and flow name are the same as in JupyterLab, so a
    batch run restores what an interactive session computed, and back.
    """
    notebook = str(Path(input_path).resolve()) if input_path and "://" not in str(input_path) else None
    return BatchEnv(batch=True, force=force, progress=progress, store=store, notebook=notebook).environ()


class NbflowNotebookClient(PapermillNotebookClient):
    """Papermill's client, with the kernel told it runs in batch and a final wait for the steps."""

    def __init__(self, nb_man: Any, *, nbflow_env: dict[str, str], progress: bool, **kw: Any) -> None:
        super().__init__(nb_man, **kw)
        self._nbflow_env = nbflow_env
        self._progress = StepProgress(enabled=progress)

    def execute(self, **kwargs: Any) -> Any:
        env = dict(kwargs.get("env", os.environ))
        env.update(self._nbflow_env)
        kwargs["env"] = env
        try:
            return super().execute(**kwargs)
        finally:
            self._progress.close()

    def papermill_execute_cells(self) -> None:
        super().papermill_execute_cells()
        if not uses_nbflow(self.nb) or self._harvest(self._final_wait()) or not self._nbflow_loaded():
            return
        self._finish()

    def _final_wait(self) -> Any:
        """The notebook's last code cell if it is a `%flow wait` for every step, else None."""
        code = [cell for cell in self.nb.cells if cell.cell_type == "code" and cell.source.strip()]
        if code and _WAITS_FOR_ALL.fullmatch(code[-1].source.strip()):
            return code[-1]
        return None

    def _harvest(self, cell: Any) -> bool:
        """Take the status table from a final wait's outputs; False if it has none (it did not run)."""
        for output in cell.outputs if cell is not None else ():
            data = output.get("data", {})
            if STATUS_MIME in data:
                self.nb.metadata["nbflow"] = {"steps": data[STATUS_MIME]}
                return True
        return False

    def _nbflow_loaded(self) -> bool:
        """Whether the kernel's nbflow extension has a flow (see `protocol.ACTIVE_PROBE`)."""
        reply = self.wait_for_reply(self.kc.execute("", silent=True, store_history=False,
                                                    user_expressions={"active": ACTIVE_PROBE}))
        return probe_says_active((reply or {}).get("content", {}).get("user_expressions", {}).get("active", {}))

    def _finish(self) -> None:
        cell = nbformat.v4.new_code_cell(FINAL_SOURCE, metadata={"tags": [FINAL_TAG], "papermill": {
            "exception": None, "start_time": None, "end_time": None, "duration": None,
            "status": self.nb_man.PENDING}})
        self.nb.cells.append(cell)
        index = len(self.nb.cells) - 1
        try:
            self.nb_man.cell_start(cell, index)
            self.execute_cell(cell, index)
        except CellExecutionError as error:
            self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=error)
        finally:
            self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)
        self._harvest(cell)

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        """Progress reports from the final wait drive the terminal bar and stay out of the notebook."""
        data = msg.get("content", {}).get("data") or {}
        if PROGRESS_MIME in data:
            self._progress.update(data[PROGRESS_MIME])
            return None
        return super().output(outs, msg, display_id, cell_index)


class NbflowEngine(NBClientEngine):
    """Registered as the `nbflow` papermill engine (entry point `papermill.engine`)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: float | None = None, **kwargs: Any) -> Any:
        progress = bool(kwargs.pop("nbflow_progress", False))
        env = kernel_environment(kwargs.get("input_path"), store=kwargs.pop("nbflow_store", None),
                                 force=bool(kwargs.pop("nbflow_force", False)), progress=progress)
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        return NbflowNotebookClient(nb_man, nbflow_env=env, progress=progress, **final_kwargs).execute()
