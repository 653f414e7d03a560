"""The kernel side of nbflow: one Flow per kernel over the user namespace.

Created on the first `%%step` or `%flow` (not at `%load_ext`, which must stay
cheap); everything here translates between IPython (cells, display, the user
namespace) and the pure core.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from ..core import events as ev
from ..core.durations import format_duration
from ..core.flow import Flow
from ..core.namespace import NamespaceHost, Outputs, format_error
from ..core.spec import StepSpec
from ..core.states import TERMINAL
from ..store.store import open_store
from .output import OutputRouter, StepSink


def notebook_path() -> Path | None:
    """The notebook's path: Jupyter Server tells the kernel via JPY_SESSION_NAME."""
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        path = Path(session)
        if path.suffix == ".ipynb" and path.parent.is_dir():
            return path.resolve()
    return None


def notebook_dir() -> Path:
    """The notebook's folder, else the working directory (where kernels start)."""
    path = notebook_path()
    return path.parent if path is not None else Path.cwd()


SWITCH_INTERVAL = 0.0005
_MAGIC_CALL = re.compile(r"\s*get_ipython\(\)\.run_(cell_magic\('step'|line_magic\('flow')")


class KernelHost(NamespaceHost):
    """Runs steps over the user namespace, with each step's output captured to its sink."""

    def __init__(self, namespace: MutableMapping[str, Any], kernel_flow: KernelFlow) -> None:
        super().__init__(namespace)
        self._kernel_flow = kernel_flow

    def execute(self, spec: StepSpec, attempt: int = 1, scope: dict[str, Any] | None = None) -> Outputs:
        """Run with the thread's output going to the step's sink, labelled per attempt.

        Labels and tracebacks are written here, on the step's own thread, so
        they interleave correctly with what the attempt prints.
        """
        sink = self._kernel_flow.sink(spec.name)
        if attempt > 1:
            total = "" if spec.retries == float("inf") else f" of {1 + int(spec.retries)}"
            sink.note(f"── {spec.name}: attempt {attempt}{total} ──")
        with self._kernel_flow.router.capture(sink):
            try:
                return super().execute(spec, attempt, scope)
            except Exception as error:
                line, text = format_error(error)  # a remote failure's text is its remote traceback
                sink.error(type(error).__name__, str(error), text)
                sink.note(f"{spec.name}: attempt {attempt} failed: {line}")
                raise


class KernelFlow:
    """The flow of one kernel: its Flow, output sinks, settings and subscriptions."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.router = OutputRouter(shell)
        self.sinks: dict[str, StepSink] = {}
        self.settings: dict[str, Any] = {"auto_rerun": True, "executor": "thread", "dask_address": None}
        self.folder = notebook_dir()
        path = notebook_path()
        self.flow_name = os.environ.get("NBFLOW_FLOW_NAME") or (path.stem if path else "notebook")
        self.store = open_store(self.folder, flow_name=self.flow_name)
        self.settings["store"] = self.store.root
        from ..executors.process import ProcessExecutor

        # Digests are reused while a value stays the same object: this extension sees every cell.
        self.flow = Flow(shell.user_ns, host=lambda ns: KernelHost(ns, self), cache=self.store,
                         executors=[ProcessExecutor()], trust_digests=True)
        self.settings["max_workers"] = self.flow.max_workers
        self.flow.subscribe(self.store.manifest)
        self.flow.subscribe(self._on_event)
        self.router.install()
        self._before_cell: dict[str, bytes | None] = {}
        self._touched_cell: set[str] = set()
        shell.events.register("pre_run_cell", self.before_cell)
        shell.events.register("post_run_cell", self.after_cell)
        self._spec_order = 0
        #: display ids of `%flow show` outputs, refreshed with the final graph at `%flow wait`
        self.graph_displays: list[str] = []
        self.batch = os.environ.get("NBFLOW_BATCH") == "1"
        #: `nbflow run --force`: compute every step, restore nothing
        self.force = os.environ.get("NBFLOW_FORCE") == "1"
        self._switch_interval = sys.getswitchinterval()

    def before_cell(self, info: Any) -> None:
        """Before a plain cell: the digests of the step inputs it may change (see `after_cell`)."""
        self._before_cell = {}
        self._touched_cell = self._touched(getattr(info, "raw_cell", None))
        if self._touched_cell:
            self._before_cell = self.flow.before_change(self._touched_cell)

    def after_cell(self, result: Any) -> None:
        """After a plain cell: the steps whose inputs it changed become stale, and the cell says so.

        Only the names the cell touched (read, bound or deleted, and the
        globals the functions among them reach) that some finished step reads
        are hashed, before and after; so this costs microseconds per step.
        """
        before, self._before_cell = self._before_cell, {}
        touched, self._touched_cell = self._touched_cell, set()
        stale = self.flow.after_change(before, touched) if touched else {}
        if stale:
            listed = "; ".join(f"{step} ({why})" for step, why in stale.items())
            print(f"nbflow: now stale: {listed}. `%flow run` updates them.")

    def _touched(self, raw: str | None) -> set[str]:
        if not raw or not self.flow.graph:
            return set()
        code = self.shell.transform_cell(raw)
        if _MAGIC_CALL.match(code):
            return set()  # a %%step or %flow cell: the magic itself keeps the flow up to date
        return self.flow.touched_by(code)

    def remember(self, spec: StepSpec, header: str, code: str) -> None:
        """Keep the cell's header and code in the store, so `%flow resume` can rebuild the step."""
        self._spec_order += 1
        self.store.manifest.save_spec(spec.name, header, code, spec.cell, self._spec_order)

    def use_store(self, location: str) -> None:
        """`%flow config store=...`: checkpoints go there from now on."""
        store = open_store(self.folder, flow_name=self.flow_name, configured=location)
        self.flow.unsubscribe(self.store.manifest)
        self.store.close()
        self.store = store
        self.flow.set_cache(store)
        self.flow.subscribe(store.manifest)
        self.settings["store"] = store.root

    def widget(self) -> Any:
        """The flow's one live graph widget (created on the first `%flow show`)."""
        from ..widget import flow_widget

        return flow_widget(self.flow, namespace=self.shell.user_ns, output_text=self.output_text)

    def output_text(self, step: str) -> str:
        sink = self.sinks.get(step)
        return sink.text() if sink is not None else ""

    def sink(self, step: str) -> StepSink:
        sink = self.sinks.get(step)
        if sink is None:
            sink = self.sinks[step] = StepSink(step, self.flow.call_later)
        return sink

    def _on_event(self, event: ev.Event) -> None:
        """Narrate attempts, retries and outcomes under each step's cell."""
        if isinstance(event, ev.FlowStarted):
            # Pure-Python steps hold the GIL for 5 ms slices by default; shorter
            # slices keep the user's cells answering while steps run.
            sys.setswitchinterval(SWITCH_INTERVAL)
        elif isinstance(event, ev.FlowFinished):
            sys.setswitchinterval(self._switch_interval)
        if not isinstance(event, ev.StepEvent):
            return
        sink = self.sinks.get(event.step)
        if sink is None:
            return
        if isinstance(event, ev.AttemptFailed) and event.timed_out:
            # A timed-out attempt is abandoned by the scheduler, not raised in its thread.
            sink.note(f"{event.step}: attempt {event.attempt} failed: {event.error}")
        elif isinstance(event, ev.StepRetrying):
            sink.note(f"{event.step}: retrying in {event.delay:g}s (attempt {event.attempt})")
        elif isinstance(event, ev.StepSucceeded):
            tries = f" after {event.attempts} attempts" if event.attempts > 1 else ""
            why = f" ({event.why})" if event.why else ""
            sink.note(f"✓ {event.step} succeeded in {format_duration(event.duration)}{tries}{why}")
        elif isinstance(event, ev.StepFailed):
            sink.note(f"✗ {event.step} failed: {event.error}")
        elif isinstance(event, ev.StepSkipped):
            sink.note(f"– {event.step} skipped: {event.reason}")
        elif isinstance(event, ev.StepCancelled):
            sink.note(f"– {event.step} cancelled: {event.reason}")
        elif isinstance(event, ev.StepUpstreamFailed):
            sink.note(f"✗ {event.step} not run: upstream step {event.upstream!r} failed")
        elif isinstance(event, ev.StepRestored):
            saved = f", saved {format_duration(event.time_saved)}" if event.time_saved else ""
            when = ""
            if event.computed_at:
                when = " computed " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.computed_at))
            sink.note(f"↺ {event.step} restored from the checkpoint{when}, "
                      f"loaded in {format_duration(event.load_seconds)}{saved}")
        elif isinstance(event, ev.StepWarning):
            sink.note(f"⚠ {event.step}: {event.message}")
        elif isinstance(event, ev.StepStale):
            sink.note(f"… {event.step} is stale: {event.reason}")
        if event.state is not None and event.state in TERMINAL:
            sink.publish_static()

    def close(self) -> None:
        for event, callback in (("pre_run_cell", self.before_cell), ("post_run_cell", self.after_cell)):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(event, callback)
        self.router.uninstall()
        self.flow.close()
        self.store.close()
        sys.setswitchinterval(self._switch_interval)


