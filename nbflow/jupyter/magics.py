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
from ..core.errors import NbflowError
from ..core.header import header_help
from ..core.settings import SettingsError

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

    # Headers are taken literally: IPython's $var / {var} expansion of magic lines is quadratic
    # in the line's length (a 20,000-character header took 29 s before the magic even ran).
    @no_var_expand
    @cell_magic
    def step(self, line: str, cell: str) -> None:
        assert self.shell is not None
        code = self.shell.transform_cell(cell) if cell.strip() else "pass\n"
        try:
            kf = self.kf
            defined = kf.define(line, code, cell=_cell_id(self.shell))
            for warning in defined.warnings:
                print(warning, file=sys.stderr)
            _show(kf.sink(defined.spec.name))
            kf.schedule(defined)
        except NbflowError as error:
            raise error.with_traceback(None) from None

    step.__doc__ = STEP_DOC

    @no_var_expand
    @line_magic
    def flow(self, line: str) -> Any:
        """Control the flow: %flow [show|status|run|wait|cancel|retry|invalidate|resume|config|clean|timeline|why]."""
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
        self.kf.graph_displays.append(display_id)
        display(graph_bundle(self.kf.flow, self.kf.widget, batch=self.kf.env.batch), raw=True, display_id=display_id)

    def _cmd_status(self, args: argparse.Namespace) -> None:
        print(self.kf.flow.table())

    def _cmd_run(self, args: argparse.Namespace) -> None:
        started = self.kf.flow.run(*args.steps, force=args.force)
        if not started:
            print("nbflow: everything is up to date")

    def _cmd_wait(self, args: argparse.Namespace) -> None:
        self.kf.wait(args.steps, parse_duration(args.timeout) if args.timeout else None)

    def _cmd_cancel(self, args: argparse.Namespace) -> None:
        cancelled = self.kf.flow.cancel(*args.steps, downstream=args.downstream)
        print(f"nbflow: cancelled {', '.join(sorted(cancelled)) or 'nothing'}")

    def _cmd_retry(self, args: argparse.Namespace) -> None:
        self.kf.flow.retry(args.step)

    def _cmd_invalidate(self, args: argparse.Namespace) -> None:
        if self.kf.invalidate(args.step):
            print(f"nbflow: dropped the checkpoint of {args.step!r}")

    def _cmd_resume(self, args: argparse.Namespace) -> None:
        print(self.kf.resume().text())

    def _cmd_clean(self, args: argparse.Namespace) -> None:
        from ..store.cleaning import clean

        older = parse_duration(args.older_than) if args.older_than else None
        removed, kept = clean(self.kf.store, self.kf.flow.status().values(), older_than=older)
        print(f"nbflow: removed {removed} checkpoint(s), kept {kept}")

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
