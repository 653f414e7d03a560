"""`%%step` and `%flow`: thin translations from cells to the Flow API.

Errors a user causes (a bad option, an unknown step, a cycle) are shown as
one line and change nothing; the previous definition of the step stays.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand

from ..core.durations import parse_duration
from ..core.errors import DuplicateStepError, NbflowError, WaitInterrupted
from ..core.header import header_help
from ..core.protocol import VIEW_METADATA
from ..core.settings import SettingsError
from ..core.states import ACTIVE
from . import answers

if TYPE_CHECKING:
    from .kernel_flow import KernelFlow


#: `%flow show` outputs refreshed at `%flow wait` (the newest; a cell without an id may be re-run many times)
MAX_GRAPH_DISPLAYS = 100


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
        self._graph_cells: dict[str, str] = {}  # cell id -> its `%flow show` display id

    @property
    def kf(self) -> KernelFlow:
        return self._kernel_flow()

    # Headers are taken literally: IPython's $var / {var} expansion of magic lines is quadratic
    # in the line's length (a 20,000-character header took 29 s before the magic even ran).
    @no_var_expand
    @cell_magic
    def step(self, line: str, cell: str) -> None:
        assert self.shell is not None
        code = self.shell.transform_cell(cell) if cell.strip() else "pass\n"
        try:
            kf = self.kf
            try:
                defined = kf.define(line, code, cell=_cell_id(self.shell))
            except DuplicateStepError as error:
                raise _named_cell(kf, error) from None
            previous = kf.previous.tell_once()  # the session's first step cell: an interrupted earlier run
            if previous:
                print(previous)
            for warning in defined.warnings:
                print(warning, file=sys.stderr)
            _show(kf.sink(defined.spec.name), batch=kf.env.batch)
            kf.schedule(defined)
        except NbflowError as error:
            raise error.with_traceback(None) from None

    step.__doc__ = STEP_DOC

    @no_var_expand
    @line_magic
    def flow(self, line: str) -> Any:
        """Control the flow (the full list of commands is set below, from the parser)."""
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

        from .graph_display import graph_bundle

        display_id = f"nbflow-graph-{uuid.uuid4().hex}"
        displays = self.kf.graph_displays
        # A `%flow show` cell run again replaces its own output: only its newest display is refreshed.
        # (Every display is a view of the one widget, so none is closed here; other cells' stay live.)
        cell = _cell_id(self.shell)
        previous = self._graph_cells.pop(cell, None) if cell is not None else None
        if previous in displays:
            displays.remove(previous)
        if cell is not None:
            self._graph_cells[cell] = display_id
        displays.append(display_id)
        del displays[:-MAX_GRAPH_DISPLAYS]
        display(graph_bundle(self.kf.flow, self.kf.widget, batch=self.kf.env.batch), raw=True, display_id=display_id,
                metadata=VIEW_METADATA)

    def _cmd_status(self, args: argparse.Namespace) -> None:
        print(self.kf.flow.table())

    def _cmd_run(self, args: argparse.Namespace) -> None:
        flow = self.kf.flow
        started = flow.run(*args.steps, force=args.force)
        print(answers.ran(started, args.steps, args.force, flow.graph))

    def _cmd_wait(self, args: argparse.Namespace) -> None:
        timeout = parse_duration(args.timeout) if args.timeout else None
        try:
            self.kf.wait(args.steps, timeout)
        except KeyboardInterrupt:
            running = [n for n, s in self.kf.flow.status().items() if s.state in ACTIVE]
            raise WaitInterrupted(answers.interrupted(len(running)), running) from None

    def _cmd_cancel(self, args: argparse.Namespace) -> None:
        flow = self.kf.flow
        print(answers.cancelled(flow.cancel(*args.steps, downstream=args.downstream), flow.graph))

    def _cmd_retry(self, args: argparse.Namespace) -> None:
        flow = self.kf.flow
        print(answers.retried(args.step, flow.retry(args.step), flow.graph))

    def _cmd_invalidate(self, args: argparse.Namespace) -> None:
        dropped = self.kf.invalidate(args.step)
        print(answers.invalidated(args.step, dropped, self.kf.settings.auto_rerun, self.kf.flow.graph))

    def _cmd_resume(self, args: argparse.Namespace) -> None:
        print(self.kf.resume().text())

    def _cmd_clean(self, args: argparse.Namespace) -> None:
        from ..store.cleaning import clean

        older = parse_duration(args.older_than) if args.older_than else None
        print(clean(self.kf.store, self.kf.flow.status().values(), older_than=older, dry_run=args.dry_run).text())

    def _cmd_config(self, args: argparse.Namespace) -> None:
        if not args.pairs:
            print(self.kf.settings.text())
            return
        try:
            self.kf.configure(args.pairs)
        except SettingsError as error:
            raise UsageError(f"%flow config: {error}") from None

    def _cmd_why(self, args: argparse.Namespace) -> None:
        print(self.kf.flow.why(args.step).text())

    def _cmd_timeline(self, args: argparse.Namespace) -> None:
        from IPython.display import SVG, display

        from .timeline import timeline_svg

        display(SVG(timeline_svg(list(self.kf.flow.status().values()))))


def _named_cell(kf: KernelFlow, error: DuplicateStepError) -> DuplicateStepError:
    """The same error, naming the other cell by its position and first line instead of its id."""
    from .cells import describe_cell
    from .host import notebook_path

    name = error.step
    other = kf.flow.steps.get(name)
    where = describe_cell(error.owner, other.code if other is not None else None, notebook_path())
    return DuplicateStepError(name, error.owner, where)


def _show(sink: Any, batch: bool = False) -> None:
    """Display the step's live Output widget in the current cell, with a static copy beside it.

    The widget shows output live in any front end; the same display also
    carries text/html and text/plain, updated when the step finishes, so a
    notebook executed by nbclient or papermill shows the step's output where
    widgets do not render (nbconvert, GitHub). A batch run gets no widget: the
    executed notebook is read after its kernel is gone, where a widget view
    is a dead box (docs/guide/batch.md); its final `%flow wait` fills the
    static copy in. The widget of the cell's previous run is closed by `attach`.
    """
    import uuid

    from IPython.display import display

    from .cell_widget import step_output_widget

    widget = None if batch else step_output_widget()
    display_id = f"nbflow-{uuid.uuid4().hex}"
    sink.attach(widget, display_id)
    display(sink.bundle(), raw=True, display_id=display_id, metadata=VIEW_METADATA)


class _ParseError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and exit the kernel
        raise _ParseError(message)


def _build_parser() -> _Parser:
    parser = _Parser(prog="%flow", add_help=False, exit_on_error=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, add_help=False)  # -h would print and exit the kernel

    command("show", "the graph of the flow")
    command("status", "a table of every step")
    run = command("run", "run pending or stale steps, or the named ones and what they need; "
                         "--force: re-run them and everything downstream, restoring nothing")
    run.add_argument("steps", nargs="*", metavar="STEP")
    run.add_argument("--force", action="store_true")
    wait = command("wait", "block until the steps (default: all) finish; raise naming each failed step")
    wait.add_argument("steps", nargs="*", metavar="STEP")
    wait.add_argument("--timeout", metavar="DURATION")
    cancel = command("cancel", "cancel queued and running steps (all, or the named ones); "
                               "--downstream: and every step below them")
    cancel.add_argument("steps", nargs="*", metavar="STEP")
    cancel.add_argument("--downstream", action="store_true")
    retry = command("retry", "run a failed, blocked or cancelled step again, then its dependents")
    retry.add_argument("step", metavar="STEP")
    invalidate = command("invalidate", "drop a step's checkpoint; it and its dependents become stale")
    invalidate.add_argument("step", metavar="STEP")
    config = command("config", "show the settings, or change them (max_workers, store, executor, auto_rerun, ...)")
    config.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    command("timeline", "a Gantt chart of the last run")
    why = command("why", "why a step will re-run or be restored: the parts of its key that changed")
    why.add_argument("step", metavar="STEP")
    command("resume", "after a restart: rebuild the graph from the store and restore outputs")
    clean = command("clean", "delete checkpoints no step refers to any more, and say what was removed; "
                             "--older-than: also those of earlier runs older than DURATION (e.g. 7d); "
                             "--dry-run: only say what would be removed")
    clean.add_argument("--older-than", dest="older_than", metavar="DURATION")
    clean.add_argument("--dry-run", dest="dry_run", action="store_true")
    return parser


_PARSER = _build_parser()
#: Every `%flow` subcommand the parser accepts, in declaration order (docs/guide/commands.md has one section each).
SUBCOMMANDS: tuple[str, ...] = tuple(
    name
    for action in _PARSER._actions
    if isinstance(action, argparse._SubParsersAction)
    for name in action.choices
)


def _flow_doc() -> str:
    """`%flow?`: every subcommand with its arguments and what it does, from the parser itself."""
    lines = ["Control the flow: `%flow COMMAND ...` (no command: show).", ""]
    for action in _PARSER._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, parser in action.choices.items():
                usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
                lines.append(f"    {usage}")
                lines.append(f"        {helps.get(name) or ''}")
    return "\n".join(lines) + "\n"


FlowMagics.flow.__doc__ = _flow_doc()
