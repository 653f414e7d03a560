"""`%%step` and `%flow`: thin translations from cells to the Flow API.

Errors a user causes (a bad option, an unknown step, a cycle) are shown as
one line and change nothing; the previous definition of the step stays.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..core.durations import parse_duration
from ..core.errors import NbflowError
from ..core.header import header_help, parse_header
from ..core.states import UP_TO_DATE

if TYPE_CHECKING:
    from .kernel_flow import KernelFlow


def _cell_id(shell: Any) -> str | None:
    """The id JupyterLab sends with each execute request (None elsewhere)."""
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else None
    except Exception:
        return None
    if not parent:
        return None
    return (parent.get("metadata") or {}).get("cellId")


STEP_DOC = f"""Define (or update) a workflow step and schedule it.

    %%step NAME [options]
    <python code>

The cell returns at once; the step runs in the background when its
dependencies are satisfied, and its output appears under this cell.

{header_help()}
"""


@magics_class
class FlowMagics(Magics):
    def __init__(self, shell: Any, kernel_flow: Callable[[], KernelFlow]) -> None:
        super().__init__(shell)
        self._kernel_flow = kernel_flow

    @property
    def kf(self) -> KernelFlow:
        return self._kernel_flow()

    @cell_magic
    def step(self, line: str, cell: str) -> None:
        kf = self.kf
        flow = kf.flow
        assert self.shell is not None
        code = self.shell.transform_cell(cell) if cell.strip() else "pass\n"
        default = kf.settings["executor"]
        if default != "thread" and "--executor" not in line:
            line = f"{line} --executor {default}"
        try:
            spec = parse_header(line, code, cell=_cell_id(self.shell))
            previous = flow.status().get(spec.name)
            changed = flow.define(spec)
        except NbflowError as error:
            raise error.with_traceback(None) from None
        kf.remember(spec, line, code)
        from ..core.reads import undeclared_reads

        for variable, producer in undeclared_reads(flow.graph, spec.name).items():
            print(f"nbflow: step {spec.name!r} reads {variable!r}, an output of step {producer!r}, "
                  f"without --after {producer}", file=sys.stderr)
        sink = kf.sink(spec.name)
        _show(sink)
        if not changed and previous is not None:
            # The same cell run again: it re-runs if an input changed since it last ran.
            flow.refresh(None, spec.name)
        state = flow.status()[spec.name].state
        if not changed and previous is not None and state in UP_TO_DATE:
            sink.note(f"{spec.name} is up to date ({state.value}); `%flow run {spec.name} --force` runs it again")
            return
        if kf.settings["auto_rerun"] or previous is None:
            flow.run(spec.name, rerun_failed=False, force=kf.force)

    step.__doc__ = STEP_DOC

    @line_magic
    def flow(self, line: str) -> Any:
        """Control the flow: %flow [show|status|run|wait|cancel|retry|invalidate|resume|config|timeline|why] ..."""
        try:
            args = _PARSER.parse_args(shlex.split(line) or ["show"])
        except (_ParseError, argparse.ArgumentError) as error:
            raise UsageError(f"%flow: {error}") from None
        try:
            return getattr(self, f"_cmd_{args.command}")(args)
        except NbflowError as error:
            raise error.with_traceback(None) from None

    # -- subcommands ---------------------------------------------------------

    def _cmd_show(self, args: argparse.Namespace) -> None:
        import uuid

        from IPython.display import display

        widget = self.kf.widget()
        display_id = f"nbflow-graph-{uuid.uuid4().hex}"
        self.kf.graph_displays.append(display_id)
        display(widget.bundle(), raw=True, display_id=display_id)

    def _cmd_status(self, args: argparse.Namespace) -> None:
        print(self.kf.flow.table())

    def _cmd_run(self, args: argparse.Namespace) -> None:
        started = self.kf.flow.run(*args.steps, force=args.force)
        if not started:
            print("nbflow: everything is up to date")

    def _cmd_wait(self, args: argparse.Namespace) -> None:
        timeout = parse_duration(args.timeout) if args.timeout else None
        try:
            if self.kf.batch and os.environ.get("NBFLOW_PROGRESS") == "1":
                self._wait_reporting(args.steps, timeout)
            else:
                self.kf.flow.wait(*args.steps, timeout=timeout)
        finally:
            # Sent while this cell runs, so batch runs (nbclient, papermill)
            # record every step's final output in the step's own cell.
            for sink in self.kf.sinks.values():
                sink.flush()
                sink.publish_static()
            self._publish_graph()

    def _wait_reporting(self, steps: list[str], timeout: float | None) -> None:
        """Wait in short slices, publishing progress for `nbflow run`'s terminal bar."""
        import time
        import uuid

        from IPython.display import display, update_display

        from ..batch.progress import PROGRESS_MIME, progress_report
        from ..core.errors import FlowTimeout

        display_id = f"nbflow-progress-{uuid.uuid4().hex}"
        deadline = None if timeout is None else time.monotonic() + timeout
        publish: Callable[..., Any] = display
        while True:
            publish({PROGRESS_MIME: progress_report(self.kf.flow.status())}, raw=True, display_id=display_id)
            publish = update_display
            slice_ = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
            try:
                self.kf.flow.wait(*steps, timeout=slice_)
            except FlowTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            finally:
                update_display({PROGRESS_MIME: progress_report(self.kf.flow.status())}, raw=True,
                               display_id=display_id)
            return

    def _publish_graph(self) -> None:
        """The final graph: refresh every `%flow show` output, and in a batch run show it here.

        Batch runs (papermill, `nbflow run`) keep only static outputs, so this
        is where the executed notebook gets its picture of the run.
        """
        from IPython.display import display, update_display

        from ..widget.widget import static_bundle

        kf = self.kf
        if kf.graph_displays:
            widget = kf.widget()
            widget.refresh()
            bundle = widget.bundle()
            for display_id in kf.graph_displays:
                update_display(bundle, raw=True, display_id=display_id)
        if kf.batch:
            from ..batch.progress import STATUS_MIME, status_rows

            static = static_bundle(kf.flow)
            static[STATUS_MIME] = status_rows(kf.flow.status())
            display(static, raw=True)

    def _cmd_cancel(self, args: argparse.Namespace) -> None:
        cancelled = self.kf.flow.cancel(*args.steps, downstream=args.downstream)
        print(f"nbflow: cancelled {', '.join(sorted(cancelled)) or 'nothing'}")

    def _cmd_retry(self, args: argparse.Namespace) -> None:
        self.kf.flow.retry(args.step)

    def _cmd_invalidate(self, args: argparse.Namespace) -> None:
        key = self.kf.flow.status()[args.step].key if args.step in self.kf.flow.graph else None
        self.kf.flow.invalidate(args.step)
        if key is not None and self.kf.store.checkpoints.remove(args.step, key):
            print(f"nbflow: dropped the checkpoint of {args.step!r}")
        if self.kf.settings["auto_rerun"]:
            self.kf.flow.run(args.step)

    def _cmd_resume(self, args: argparse.Namespace) -> None:
        kf = self.kf
        keys = {record.step: record.key for record in kf.store.manifest.latest() if record.key}
        restored, missing = [], []
        for record in kf.store.manifest.load_specs():
            spec = record.spec()
            key = keys.get(spec.name)
            if key is not None and kf.flow.restore(spec, key):
                restored.append(spec.name)
            else:
                missing.append(spec.name)
        print(f"nbflow: restored {len(restored)} step(s)" + (f": {', '.join(restored)}" if restored else ""))
        if missing:
            print(f"nbflow: not restorable (run their cells): {', '.join(missing)}")

    def _cmd_clean(self, args: argparse.Namespace) -> None:
        from ..store.cleaning import clean

        older = parse_duration(args.older_than) if args.older_than else None
        removed, kept = clean(self.kf.store, self.kf.flow.status().values(), older_than=older)
        print(f"nbflow: removed {removed} checkpoint(s), kept {kept}")

    def _cmd_config(self, args: argparse.Namespace) -> None:
        settings = self.kf.settings
        if not args.pairs:
            for key in sorted(settings):
                print(f"{key} = {settings[key]!r}")
            return
        updates = {}
        for pair in args.pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise UsageError(f"%flow config: expected KEY=VALUE, got {pair!r}")
            updates[key] = _config_value(key, value, settings, self.kf)
        for key, value in updates.items():
            if key == "store":
                continue  # already switched while validating
            settings[key] = value
            if key == "max_workers":
                self.kf.flow.max_workers = value

    def _cmd_why(self, args: argparse.Namespace) -> None:
        print(self.kf.flow.why(args.step).text())

    def _cmd_timeline(self, args: argparse.Namespace) -> None:
        from IPython.display import SVG, display

        from .timeline import timeline_svg

        display(SVG(timeline_svg(list(self.kf.flow.status().values()))))


def _show(sink: Any) -> None:
    """Display the step's live Output widget in the current cell, with a static copy beside it.

    The widget shows output live in any front end; the same display also
    carries text/html and text/plain, updated when the step finishes, so a
    notebook executed by nbclient or papermill shows the step's output where
    widgets do not render (nbconvert, GitHub).
    """
    import uuid

    from IPython.display import display
    from ipywidgets import Output

    widget = Output()
    display_id = f"nbflow-{uuid.uuid4().hex}"
    sink.attach(widget, display_id)
    display(sink.bundle(), raw=True, display_id=display_id)


def _config_value(key: str, value: str, settings: dict[str, Any], kf: Any) -> Any:
    if key == "store":
        kf.use_store(value)
        return kf.settings["store"]
    if key not in settings:
        raise UsageError(f"%flow config: unknown key {key!r} (known: {', '.join(sorted(settings))})")
    if key == "max_workers":
        if not value.isdigit() or int(value) < 1:
            raise UsageError(f"%flow config: max_workers: expected a whole number >= 1, got {value!r}")
        return int(value)
    if key == "auto_rerun":
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise UsageError(f"%flow config: auto_rerun: expected true or false, got {value!r}")
        return lowered in ("true", "1", "yes", "on")
    if key == "executor":
        available = ("thread", "process")
        if value not in available:
            raise UsageError(f"%flow config: executor: expected one of {', '.join(available)}, got {value!r}")
        return value
    return value or None


class _ParseError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and exit the kernel
        raise _ParseError(message)


def _build_parser() -> _Parser:
    parser = _Parser(prog="%flow", add_help=False, exit_on_error=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("show", help="the graph of the flow")
    sub.add_parser("status", help="a table of every step")
    run = sub.add_parser("run", help="run pending, stale or named steps")
    run.add_argument("steps", nargs="*")
    run.add_argument("--force", action="store_true")
    wait = sub.add_parser("wait", help="block until steps finish")
    wait.add_argument("steps", nargs="*")
    wait.add_argument("--timeout")
    cancel = sub.add_parser("cancel", help="cancel queued and running steps")
    cancel.add_argument("steps", nargs="*")
    cancel.add_argument("--downstream", action="store_true")
    retry = sub.add_parser("retry", help="run a failed step again")
    retry.add_argument("step")
    invalidate = sub.add_parser("invalidate", help="mark a step and its dependents stale")
    invalidate.add_argument("step")
    config = sub.add_parser("config", help="show or change settings")
    config.add_argument("pairs", nargs="*")
    sub.add_parser("timeline", help="a Gantt chart of the last run")
    why = sub.add_parser("why", help="why a step will re-run or be restored: the parts of its key that changed")
    why.add_argument("step")
    sub.add_parser("resume", help="after a restart: rebuild the graph from the store and restore outputs")
    clean = sub.add_parser("clean", help="delete checkpoints no longer referenced")
    clean.add_argument("--older-than", dest="older_than")
    return parser


_PARSER = _build_parser()
#: Every `%flow` subcommand the parser accepts, in declaration order (docs/guide/commands.md has one section each).
SUBCOMMANDS: tuple[str, ...] = tuple(
    name
    for action in _PARSER._actions
    if isinstance(action, argparse._SubParsersAction)
    for name in action.choices
)
