"""The `nbflow` command: run a notebook unattended, draw its graph, show and clean its store.

Exit codes: 0 success; 1 the run failed (a step or a cell; each failed step
is named on stderr; a bad `%%step` header fails its cell); 2 bad usage (an
unknown option, a missing file, a bad parameter; `dag` and `why`: a bad header).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._version import __version__
from .core.durations import format_duration, parse_duration
from .core.errors import NbflowError
from .core.states import State
from .core.status import StepStatus, format_table

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail_usage(message: str) -> None:
    click.echo(f"nbflow: {message}", err=True)
    sys.exit(EXIT_USAGE)


def parse_value(text: str) -> Any:
    """A `-p NAME VALUE` value, typed as papermill types it: int, float, bool, None, else the string."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parameters(pairs: tuple[tuple[str, str], ...], files: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    params: dict[str, Any] = {}
    for file in files:
        try:
            loaded = yaml.safe_load(Path(file).read_text())
        except (OSError, yaml.YAMLError) as error:
            _fail_usage(f"{file}: cannot read parameters ({type(error).__name__}: {error})")
        if loaded is not None and not isinstance(loaded, dict):
            _fail_usage(f"{file}: expected a mapping of parameter names to values")
        params.update(loaded or {})
    for name, value in pairs:
        if not name.isidentifier():
            _fail_usage(f"-p {name}: not a valid Python name")
        params[name] = parse_value(value)
    return params


def _check_parameters(notebook: Path, params: dict[str, Any]) -> None:
    """Exit 2 naming a parameter the notebook does not have (a typo would otherwise be injected unread)."""
    from .batch.cells import NotebookError, notebook_parameters, read_notebook

    if not params:
        return
    try:
        known = notebook_parameters(read_notebook(notebook))
    except NotebookError as error:
        _fail_usage(str(error))
    unknown = [name for name in params if name not in (known or [])]
    if not unknown:
        return
    listed = ", ".join(unknown)
    having = "it has no cell tagged 'parameters'" if known is None else f"its parameters: {', '.join(known) or 'none'}"
    _fail_usage(f"-p {listed}: not a parameter of {notebook.name} ({having}); "
                "--allow-unknown-params injects it anyway")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nbflow")
def main() -> None:
    """nbflow: notebook cells as workflow steps. Run a notebook unattended, draw its graph, inspect its store."""


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.argument("output", required=False, type=click.Path(dir_okay=False))
@click.option("-p", "--parameter", "pairs", nargs=2, multiple=True, metavar="NAME VALUE",
              help="Set a parameter (injected the papermill way); repeatable.")
@click.option("-f", "--parameters-file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="YAML file of parameters; repeatable, -p wins.")
@click.option("--allow-unknown-params", is_flag=True,
              help="Inject -p/-f parameters the notebook's `parameters` cell does not assign (default: exit 2).")
@click.option("--force", is_flag=True, help="Compute every step; restore nothing from checkpoints.")
@click.option("--store", metavar="URL", help="Checkpoint store (folder or fsspec URL); default .nbflow/ beside "
              "the notebook.")
@click.option("-k", "--kernel", "kernel_name", metavar="NAME", help="Kernel to run (default: the notebook's).")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on when stderr is a terminal).")
@click.option("--cwd", type=click.Path(exists=True, file_okay=False), help="Kernel working directory (default: the "
              "notebook's folder).")
def run(notebook: str, output: str | None, pairs: tuple[tuple[str, str], ...], files: tuple[str, ...],
        allow_unknown_params: bool, force: bool, store: str | None, kernel_name: str | None,
        progress: bool | None, cwd: str | None) -> None:
    """Execute NOTEBOOK with papermill, wait for every step, write OUTPUT (default NOTEBOOK.out.ipynb).

    Each step's output lands in its own cell; the final graph (SVG) and the
    status table are in the last cell. Steps whose checkpoint matches are
    restored, so a run after a small edit recomputes only what changed.
    Exits 1 naming each failed step.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = Path(notebook).resolve()
    target = Path(output).resolve() if output else source.with_suffix(".out.ipynb")
    if target == source:
        _fail_usage("OUTPUT must differ from NOTEBOOK (the input stays as written)")
    params = _parameters(pairs, files)
    if not allow_unknown_params:
        _check_parameters(source, params)
    target.parent.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress
    failure: PapermillExecutionError | None = None
    try:
        nb = papermill.execute_notebook(
            str(source), str(target), parameters=params, engine_name="nbflow", kernel_name=kernel_name,
            progress_bar=show, cwd=cwd or str(source.parent), nbflow_store=store, nbflow_force=force,
            nbflow_progress=show,
        )
    except PapermillExecutionError as error:
        failure = error
        nb = nbformat.read(str(target), as_version=4)
    statuses = [StepStatus.from_json(row) for row in nb.metadata.get("nbflow", {}).get("steps", [])]
    if statuses:
        click.echo(format_table(statuses))
    click.echo(f"wrote {target}")
    if failure is not None:
        failed = [s for s in statuses if s.state is State.FAILED]
        if failed:
            for status in failed:
                click.echo(f"nbflow: step {status.name!r} failed: {status.error}", err=True)
        else:
            click.echo(f"nbflow: cell {failure.cell_index} failed: {failure.ename}: {failure.evalue}", err=True)
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the drawing here; the format comes from the suffix (.svg, .png, .dot). Default: DOT on "
              "stdout.")
def dag(notebook: str, output: str | None) -> None:
    """Draw NOTEBOOK's graph from its %%step headers, without starting a kernel or running anything."""
    from .batch.cells import notebook_graph, read_notebook
    from .render.dot import flow_dot
    from .render.layout import render

    fmt = Path(output).suffix.lstrip(".").lower() if output else "dot"
    if fmt not in ("svg", "png", "dot", "gv"):
        _fail_usage(f"-o {output}: unknown format {fmt!r} (use .svg, .png or .dot)")
    try:
        graph = notebook_graph(read_notebook(notebook), notebook)
        data = render(flow_dot(graph, legend=False), "dot" if fmt == "gv" else fmt)
    except NbflowError as error:
        _fail_usage(str(error))
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        Path(output).write_bytes(data)
        click.echo(f"wrote {output} ({len(graph)} steps)")


def _store(notebook: str, store: str | None) -> Any:
    from .store.store import open_store

    path = Path(notebook).resolve()
    return open_store(path.parent, flow_name=path.stem, configured=store)


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.option("--runs", "limit", default=5, show_default=True,
              help="How many recent runs to list (one per kernel session: an `nbflow run`, or a notebook's kernel).")
@click.option("--store", metavar="URL", help="Checkpoint store, if not .nbflow/ beside the notebook.")
def status(notebook: str, limit: int, store: str | None) -> None:
    """Print NOTEBOOK's recent runs and each step's latest state from the manifest."""
    import time

    st = _store(notebook, store)
    try:
        runs = st.manifest.runs(limit, per_session=True)  # one row per notebook execution (kernel session)
        latest = st.manifest.latest()
    finally:
        st.close()
    if not runs and not latest:
        click.echo(f"nbflow: no runs recorded for {notebook}")
        return
    click.echo("recent runs:")
    for record in runs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started)) if record.started else "?"
        counts = ", ".join(f"{n} {state}" for state, n in sorted(record.counts.items()) if n)
        if record.interrupted:
            counts = "interrupted (its process ended before the run did)"
        click.echo(f"  #{record.id}  {when}  {format_duration(record.duration):>8}  {counts}")
    click.echo("")
    click.echo(format_table([r.status for r in latest]))


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.option("--older-than", metavar="DURATION",
              help="Also remove checkpoints of earlier runs older than DURATION (e.g. 7d, 12h). The checkpoints "
              "of the latest run are always kept.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and remove nothing.")
@click.option("--store", metavar="URL", help="Checkpoint store, if not .nbflow/ beside the notebook.")
def clean(notebook: str, older_than: str | None, dry_run: bool, store: str | None) -> None:
    """Remove NOTEBOOK's checkpoints that no step's latest run refers to, and say what was removed."""
    from .store.cleaning import clean as clean_store

    try:
        older = parse_duration(older_than) if older_than else None
    except (NbflowError, ValueError) as error:
        _fail_usage(f"--older-than: {error}")
    st = _store(notebook, store)
    try:
        current = [r.status for r in st.manifest.latest()]
        cleaned = clean_store(st, current, older_than=older, dry_run=dry_run)
    finally:
        st.close()
    click.echo(cleaned.text())


@main.command()
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.argument("step")
@click.option("--store", metavar="URL", help="Checkpoint store, if not .nbflow/ beside the notebook.")
def why(notebook: str, step: str, store: str | None) -> None:
    """Why STEP of NOTEBOOK will re-run: what changed since its newest checkpoint.

    Without a kernel only the code, the options and the watched files can be
    compared; the values the step reads are compared when the notebook runs
    (`%flow why STEP` in the kernel compares everything).
    """
    import time

    from .batch.cells import read_notebook, step_specs
    from .core.keys import changed_parts, offline_parts
    from .core.why import describe_parts

    try:
        specs = {s.name: s for s in step_specs(read_notebook(notebook), notebook)}
    except NbflowError as error:
        _fail_usage(str(error))
    if step not in specs:
        _fail_usage(f"{notebook} has no step {step!r} (steps: {', '.join(specs) or 'none'})")
    spec = specs[step]
    st = _store(notebook, store)
    try:
        previous = st.previous(spec)
    finally:
        st.close()
    parts, warnings = offline_parts(spec, Path(notebook).resolve().parent)
    if previous is None:
        click.echo(f"{step}: no checkpoint in {st.root}; it will run")
        return
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(previous.created))
    kinds = {p.kind for p in parts}
    changes = changed_parts([p for p in previous.parts if p.kind in kinds], parts)
    click.echo(f"{step}: newest checkpoint {when}, key {previous.key[:12]}")
    click.echo(f"  changed since: {'; '.join(changes)}" if changes else
               "  code, options and watched files are unchanged since")
    inputs = [p for p in previous.parts if p.kind not in kinds]
    if inputs:
        click.echo("  compared when the notebook runs (as the checkpoint saw them):")
        for line in describe_parts(tuple(inputs)):
            click.echo(f"    {line}")
    for warning in warnings:
        click.echo(f"  warning: {warning}")


if __name__ == "__main__":
    main()
