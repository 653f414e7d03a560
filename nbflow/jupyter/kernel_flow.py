"""The kernel side of nbflow: one Flow per kernel over the user namespace.

Created on the first `%%step` or `%flow` (not at `%load_ext`, which must stay
cheap); everything here translates between IPython (cells, display, the user
namespace) and the pure core.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..core import events as ev
from ..core.durations import format_duration
from ..core.errors import UnknownStepError, WaitInterrupted
from ..core.flow import Flow
from ..core.graph import dependency_order
from ..core.header import parse_header
from ..core.protocol import PROGRESS_MIME, STATUS_MIME, VIEW_METADATA, BatchEnv
from ..core.reads import undeclared_reads
from ..core.reporting import progress_report, status_rows, wait_reporting
from ..core.settings import FlowSettings, SettingsError
from ..core.spec import StepSpec
from ..core.states import ACTIVE, TERMINAL, UP_TO_DATE
from ..store.store import open_store
from . import attempts
from .answers import interrupted
from .host import KernelHost, notebook_dir, notebook_path
from .output import StepSink
from .previous import PreviousRun
from .replay import show_restored
from .routing import OutputRouter

SWITCH_INTERVAL = 0.0005
#: a checkpoint write at least this long is named in the step's success line (its duration is the code's alone)
WRITE_WORTH_SAYING = 0.5
_MAGIC_CALL = re.compile(r"\s*get_ipython\(\)\.run_(cell_magic\('step'|line_magic\('flow')")


@dataclass(frozen=True)
class Defined:
    """A `%%step` cell just defined: its spec, whether it differs from before, whether it is new."""

    spec: StepSpec
    changed: bool
    new: bool
    #: lines for stderr: outputs of other steps it reads without `--after`
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resumed:
    """What `%flow resume` restored, and the steps whose cells must run again."""

    restored: tuple[str, ...]
    missing: tuple[str, ...]
    #: live steps left alone, with their state: computed (or running) in this kernel
    kept: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        names = f": {', '.join(self.restored)}" if self.restored else ""
        line = f"nbflow: restored {len(self.restored)} step(s){names}"
        if self.kept:
            line += "; kept as they are in this kernel: " + ", ".join(f"{n} ({s})" for n, s in self.kept)
        if self.missing:
            line += f"; not restorable (run their cells): {', '.join(self.missing)}"
        return line


class KernelFlow:
    """The flow of one kernel: its Flow, output sinks, settings and subscriptions."""

    def __init__(self, shell: Any) -> None:
        #: what a batch run told this kernel (read first: a bad value stops here, before any hook is set)
        self.env = BatchEnv.read()
        self.shell = shell
        self.router = OutputRouter(shell)
        self.sinks: dict[str, StepSink] = {}
        self._timed_out: set[str] = set()  # steps whose last attempt timed out: their retry is said from its event
        self.folder = notebook_dir()
        path = notebook_path()
        self.flow_name = self.env.flow_name or (path.stem if path else "notebook")
        self.store = open_store(self.folder, flow_name=self.flow_name)
        self.previous = PreviousRun(self.store.manifest)  # read before this kernel records anything
        from ..executors.dask import DaskExecutor
        from ..executors.process import ProcessExecutor

        # Digests are reused while a value stays the same object: this extension sees every cell.
        self.flow = Flow(shell.user_ns, host=lambda ns: KernelHost(ns, self), cache=self.store,
                         executors=[ProcessExecutor(), DaskExecutor(lambda: self._settings.dask_address,
                                                                  store=lambda: self._settings.dask_store)],
                         trust_digests=True)
        self._settings = FlowSettings(max_workers=self.flow.max_workers, store=self.store.root)
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
        #: `nbflow run --force`: compute every step, restore nothing
        self.force = self.env.force
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
        error = getattr(result, "error_in_exec", None)
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, WaitInterrupted):
            running = [n for n, s in self.flow.status().items() if s.state in ACTIVE]  # steps go on regardless
            if running:
                print(f"nbflow: {interrupted(len(running))}", file=sys.stderr)

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
        self._settings = replace(self._settings, store=store.root)

    # -- what the magics ask for ----------------------------------------------

    def define(self, header: str, code: str, cell: str | None = None) -> Defined:
        """`%%step HEADER`: define (or update) the step and keep its cell in the store; schedules nothing yet."""
        default = self.settings.executor
        if default != "thread" and "--executor" not in header:
            header = f"{header} --executor {default}"
        spec = parse_header(header, code, cell=cell)
        previous = self.flow.status(spec.name).get(spec.name)
        changed = self.flow.define(spec)
        self.remember(spec, header, code)
        warnings = tuple(f"nbflow: step {spec.name!r} reads {variable!r}, an output of step {producer!r}, "
                         f"without --after {producer}"
                         for variable, producer in undeclared_reads(self.flow.graph, spec.name).items())
        return Defined(spec, changed, previous is None, warnings)

    def schedule(self, defined: Defined) -> None:
        """Run a just-defined step: a new or changed one (with auto_rerun), or an unchanged one whose inputs changed."""
        name = defined.spec.name
        again = not defined.changed and not defined.new
        if again:
            # The same cell run again: it re-runs if an input changed since it last ran.
            self.flow.refresh(None, name)
        state = self.flow.status(name)[name].state
        if again and state in UP_TO_DATE:
            self.sink(name).note(f"{name} is up to date ({state.value}); `%flow run {name} --force` runs it again")
            return
        if self.settings.auto_rerun or defined.new:
            self.flow.run(name, rerun_failed=False, force=self.force)

    def wait(self, steps: Sequence[str], timeout: float | None) -> None:
        """`%flow wait`: block until the steps finish, then publish every step's output and the final graph.

        Published while this cell runs, so batch runs (nbclient, papermill)
        record every step's final output in the step's own cell.
        """
        try:
            if self.env.batch and self.env.progress:
                self._wait_reporting(steps, timeout)
            else:
                self.flow.wait(*steps, timeout=timeout)
        finally:
            for sink in self.sinks.values():
                sink.resend()
                sink.publish_static()
            self._publish_graph()

    def _wait_reporting(self, steps: Sequence[str], timeout: float | None) -> None:
        """Wait in short slices, publishing progress for `nbflow run`'s terminal bar."""
        import uuid

        from IPython.display import display, update_display

        display_id = f"nbflow-progress-{uuid.uuid4().hex}"
        publish: Callable[..., Any] = display

        def report() -> None:
            nonlocal publish
            publish({PROGRESS_MIME: progress_report(self.flow.status())}, raw=True, display_id=display_id)
            publish = update_display

        wait_reporting(lambda seconds: self.flow.wait(*steps, timeout=seconds), report, timeout)

    def _publish_graph(self) -> None:
        """The final graph: refresh every `%flow show` output, and in a batch run show it here.

        Batch runs (papermill, `nbflow run`) keep only static outputs, so this
        is where the executed notebook gets its picture of the run.
        """
        from IPython.display import display, update_display

        from ..widget.widget import static_bundle
        from .graph_display import graph_bundle

        if self.graph_displays:
            if not self.env.batch:
                self.widget().resend()
            bundle = graph_bundle(self.flow, self.widget, batch=self.env.batch)
            for display_id in self.graph_displays:
                update_display(bundle, raw=True, display_id=display_id, metadata=VIEW_METADATA)
        if self.env.batch:
            static = static_bundle(self.flow)
            static[STATUS_MIME] = status_rows(self.flow.status())
            display(static, raw=True)

    def invalidate(self, step: str) -> bool:
        """`%flow invalidate`: the step and its dependents go stale and its checkpoint is dropped
        (True if there was one); with auto_rerun the step runs again."""
        key = self.flow.status(step)[step].key if step in self.flow.graph else None
        self.flow.invalidate(step)
        dropped = key is not None and self.store.checkpoints.remove(step, key)
        if self.settings.auto_rerun:
            self.flow.run(step)
        return bool(dropped)

    def resume(self) -> Resumed:
        """`%flow resume` after a restart: rebuild the steps the manifest remembers, restore their outputs.

        Steps this kernel already has (succeeded, restored, skipped or still
        running) are kept as they are and named.
        """
        keys = {r.status.name: r.status.key for r in self.store.manifest.latest() if r.status.key}
        restored: list[str] = []
        missing: list[str] = []
        live = {name: status.state for name, status in self.flow.status().items()
                if status.state in UP_TO_DATE or status.state in ACTIVE}
        # Dependencies first: the stored order numbers restart in every kernel session, so a step
        # redefined later can tie with (or precede) the steps it depends on.
        for spec in dependency_order([record.spec() for record in self.store.manifest.load_specs()]):
            if spec.name in live:  # computed (or running) here: never overwritten by an older checkpoint
                continue
            key = keys.get(spec.name)
            try:
                if live and key is not None:  # what this kernel computed may have changed its inputs
                    self.flow.define(spec)
                    key = self.flow.why(spec.name).current.value or key
                done = key is not None and self.flow.restore(spec, key)
            except UnknownStepError:  # depends on a step that was never stored
                done = False
            (restored if done else missing).append(spec.name)
        return Resumed(tuple(restored), tuple(missing), tuple((n, state.value) for n, state in live.items()))

    @property
    def settings(self) -> FlowSettings:
        """The settings `%flow config` shows; max_workers is the flow's own (`flow.max_workers` may be set directly)."""
        return replace(self._settings, max_workers=self.flow.max_workers)

    def configure(self, pairs: Sequence[str]) -> None:
        """`%flow config KEY=VALUE ...`: every pair is checked (SettingsError) before any is applied."""
        current = self.settings
        new = current.parse(pairs)
        if new.executor not in self.flow.executors:
            raise SettingsError(f"executor: {new.executor!r} is not available in this kernel "
                                f"(available: {', '.join(self.flow.executors)})")
        if new.store != current.store:
            self.use_store(new.store)
        if new.max_workers != current.max_workers:
            self.flow.max_workers = new.max_workers
        self._settings = replace(new, store=self._settings.store)

    def widget(self) -> Any:
        """The flow's one live graph widget (created on the first `%flow show`)."""
        from ..widget import flow_widget

        return flow_widget(self.flow, namespace=self.shell.user_ns, output_text=self.output_text,
                           previous=self.previous.line, tracebacks=attempts.tracebacks_of(self.sinks),
                           output_displays=self.output_displays)

    def output_text(self, step: str) -> str:
        """What the step's cell shows (head and tail of a long text), for the widget's detail pane."""
        sink = self.sinks.get(step)
        return sink.text() if sink is not None else ""

    def output_displays(self, step: str) -> list[dict[str, Any]]:
        """What the step displayed in its cell (tables, plots), for the detail pane."""
        sink = self.sinks.get(step)
        return sink.displays() if sink is not None else []

    def full_output(self, step: str) -> str:
        """Everything the step printed since its cell last ran (its output log, capped on disk)."""
        sink = self.sinks.get(step)
        return sink.full_text() if sink is not None else ""

    def sink(self, step: str) -> StepSink:
        sink = self.sinks.get(step)
        if sink is None:
            sink = self.sinks[step] = StepSink(step, self.flow.call_later, log=self.store.output_log(step))
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
        if sink is None and isinstance(event, ev.StepRestored):
            sink = self.sink(event.step)  # `%flow resume`: no cell ran, but the detail pane shows it
        if sink is None:
            return
        if isinstance(event, ev.AttemptFailed) and event.timed_out:
            # A timed-out attempt is abandoned by the scheduler, not raised in its thread.
            self._timed_out.add(event.step)
            attempts.timed_out(sink, self.flow.steps.get(event.step), event.attempt, event.error)
        elif isinstance(event, ev.StepRetrying) and event.step in self._timed_out:
            self._timed_out.discard(event.step)  # a failed attempt's thread said it already
            attempts.retrying(sink, event.step, event.attempt, event.delay)
        elif isinstance(event, ev.StepSucceeded):
            sink.collapse_attempts()
            tries = f" after {event.attempts} attempts" if event.attempts > 1 else ""
            why = f" ({event.why})" if event.why else ""
            write = event.write_seconds or 0.0
            saved = f", checkpoint written in {format_duration(write)}" if write >= WRITE_WORTH_SAYING else ""
            sink.note(f"✓ {event.step} succeeded in {format_duration(event.duration)}{tries}{saved}{why}")
        elif isinstance(event, ev.StepFailed):
            sink.note(f"✗ {event.step} failed: {event.error}")
        elif isinstance(event, ev.StepSkipped):
            sink.note(f"– {event.step} skipped: {event.reason}")
        elif isinstance(event, ev.StepCancelled):
            sink.note(f"– {event.step} cancelled: {event.reason}")
        elif isinstance(event, ev.StepUpstreamFailed):
            sink.note(f"✗ {event.step} blocked: {event.reason or f'upstream step {event.upstream!r} failed'}")
        elif isinstance(event, ev.StepRestored):
            show_restored(sink, event)
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
        for sink in self.sinks.values():
            sink.close()
        self.flow.close()
        self.store.close()
        sys.setswitchinterval(self._switch_interval)


