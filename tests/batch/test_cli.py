"""`nbflow run`, `papermill --engine nbflow`, `nbflow dag/status/clean`: real commands in subprocesses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

from .conftest import cell_text, count, marker, run, write_notebook


def _step_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {c.source.split()[1]: cell_text(c) for c in nb.cells if c.source.startswith("%%step")}


def _printed(nb: nbformat.NotebookNode) -> dict[str, list[str]]:
    """What each step printed (nbflow's own timing lines left out)."""
    return {name: [line for line in text.splitlines() if "made" in line] for name, text in _step_cells(nb).items()}


def test_run_uses_parameters_and_puts_outputs_in_their_cells(diamond: Path) -> None:
    folder = diamond.parent
    result = run("nbflow", "run", diamond.name, "out.ipynb", "-p", "n", "5", "--no-progress", cwd=folder)
    assert result.code == 0, result.stderr
    nb = nbformat.read(str(folder / "out.ipynb"), as_version=4)
    texts = _step_cells(nb)
    assert "a made 10" in texts["a"] and "b made 50" in texts["b"] and "d made 61" in texts["d"]
    assert "b made" not in texts["a"] + texts["c"] + texts["d"]
    final = nb.cells[-1]
    assert final.source == "%flow wait" and "nbflow-final" in final.metadata.tags
    svg = next(o.data["image/svg+xml"] for o in final.outputs if "image/svg+xml" in o.get("data", {}))
    assert all(f">{name}<" in svg for name in "abcd")
    states = {row["name"]: row["state"] for row in nb.metadata["nbflow"]["steps"]}
    assert states == dict.fromkeys("abcd", "succeeded")
    assert "d     succeeded" in result.stdout and "4 steps, 0 restored" in result.stdout
    assert [count(folder, s) for s in "abcd"] == [1, 1, 1, 1]


def test_failed_step_exits_nonzero_naming_it_in_both_runners(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "fails.ipynb", [
        "%load_ext nbflow",
        "%%step fine\nx = 1",
        "%%step boom --after fine\nraise RuntimeError('kaput')",
        "%%step later --after boom\ny = 2",
        "%%step other\nraise ValueError('also bad')",
    ])
    result = run("nbflow", "run", nb.name, "out.ipynb", "--no-progress", cwd=tmp_path)
    assert result.code == 1
    assert "step 'boom' failed: RuntimeError: kaput" in result.stderr
    assert "step 'other' failed: ValueError: also bad" in result.stderr
    assert "later  upstream-failed" in result.stdout
    result = run("papermill", "--engine", "nbflow", nb.name, "pm.ipynb", cwd=tmp_path)
    assert result.code != 0
    assert "FlowFailed" in result.stderr and "boom (RuntimeError: kaput)" in result.stderr
    assert "other (ValueError: also bad)" in result.stderr


# What differs between two runs of the same notebook: when and how fast, not what happened.
_TIMING = {"started", "ended", "duration", "write_seconds", "load_seconds", "size", "original_seconds",
           "computed_at", "time_saved"}


def _facts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step's status without its timings; attempts as (number, error)."""
    return [{**{k: v for k, v in row.items() if k not in _TIMING},
             "attempt_log": [(a["number"], a["error"]) for a in row["attempt_log"]]} for row in rows]


def test_papermill_engine_matches_nbflow_run(diamond: Path) -> None:
    folder = diamond.parent
    assert run("papermill", "--engine", "nbflow", diamond.name, "pm.ipynb", "-p", "n", "3",
               cwd=folder).code == 0
    (folder / ".nbflow").rename(folder / "first-store")
    assert run("nbflow", "run", diamond.name, "cli.ipynb", "-p", "n", "3", "--no-progress", cwd=folder).code == 0
    pm = nbformat.read(str(folder / "pm.ipynb"), as_version=4)
    cli = nbformat.read(str(folder / "cli.ipynb"), as_version=4)
    assert _printed(pm) == _printed(cli) and _printed(pm)["d"] == ["d made 41"]
    assert _facts(pm.metadata["nbflow"]["steps"]) == _facts(cli.metadata["nbflow"]["steps"])
    assert "b made 30" in _step_cells(pm)["b"]


def test_incremental_runs_recompute_only_what_changed(diamond: Path) -> None:
    folder = diamond.parent
    assert run("nbflow", "run", diamond.name, "out.ipynb", "--no-progress", cwd=folder).code == 0
    assert [count(folder, s) for s in "abcd"] == [1, 1, 1, 1]
    # unchanged: everything restored
    again = run("nbflow", "run", diamond.name, "out.ipynb", "--no-progress", cwd=folder)
    assert again.code == 0 and "4 steps, 4 restored" in again.stdout
    assert [count(folder, s) for s in "abcd"] == [1, 1, 1, 1]
    # a parameter only c reads: c and its dependent d
    assert run("nbflow", "run", diamond.name, "out.ipynb", "-p", "m", "7", "--no-progress", cwd=folder).code == 0
    assert [count(folder, s) for s in "abcd"] == [1, 1, 2, 2]
    # edit step b's code: b and d
    nb = nbformat.read(str(diamond), as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("%%step b"))
    cell.source = f"%%step b --after a\n{marker('b')}\nleft = base * n * 100\nprint(f'b made {{left}}')"
    nbformat.write(nb, str(diamond))
    edited = run("nbflow", "run", diamond.name, "out.ipynb", "-p", "m", "7", "--no-progress", cwd=folder)
    assert edited.code == 0
    assert [count(folder, s) for s in "abcd"] == [1, 2, 2, 3]
    assert "2 restored" in edited.stdout and "time saved by restoring" in edited.stdout
    out = nbformat.read(str(folder / "out.ipynb"), as_version=4)
    assert "d made 2017" in _step_cells(out)["d"]
    # --force: everything computed again
    assert run("nbflow", "run", diamond.name, "out.ipynb", "-p", "m", "7", "--force", "--no-progress",
               cwd=folder).code == 0
    assert [count(folder, s) for s in "abcd"] == [2, 3, 3, 4]


def test_dag_draws_without_running(diamond: Path) -> None:
    folder = diamond.parent
    result = run("nbflow", "dag", diamond.name, "-o", "g.svg", cwd=folder)
    assert result.code == 0, result.stderr
    svg = (folder / "g.svg").read_text()
    assert all(f">{name}<" in svg for name in "abcd") and svg.count("class=\"edge") == 4
    assert run("nbflow", "dag", diamond.name, "-o", "g.png", cwd=folder).code == 0
    assert (folder / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = run("nbflow", "dag", diamond.name, cwd=folder)
    assert "a -> b" in dot.stdout and "b -> d" in dot.stdout
    assert [count(folder, s) for s in "abcd"] == [0, 0, 0, 0] and not (folder / ".nbflow").exists()
    bad = run("nbflow", "dag", diamond.name, "-o", "g.pdf", cwd=folder)
    assert bad.code == 2 and "unknown format 'pdf'" in bad.stderr


def test_dag_reports_a_bad_header_with_its_cell(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "bad.ipynb", ["%%step a --retries lots\nx = 1"])
    result = run("nbflow", "dag", nb.name, cwd=tmp_path)
    assert result.code == 2
    assert "bad.ipynb, cell 1: step 'a': --retries" in result.stderr


def test_status_and_clean_read_the_store(diamond: Path) -> None:
    folder = diamond.parent
    assert run("nbflow", "status", diamond.name, cwd=folder).stdout.startswith("nbflow: no runs recorded")
    assert run("nbflow", "run", diamond.name, "out.ipynb", "--no-progress", cwd=folder).code == 0
    assert run("nbflow", "run", diamond.name, "out.ipynb", "-p", "n", "9", "--no-progress", cwd=folder).code == 0
    status = run("nbflow", "status", diamond.name, cwd=folder)
    assert status.code == 0 and "recent runs:" in status.stdout
    assert "a     restored" in status.stdout and "b     succeeded" in status.stdout
    files = sorted(folder.glob(".nbflow/*/*.ckpt"))
    preview = run("nbflow", "clean", diamond.name, "--dry-run", cwd=folder)
    assert preview.code == 0 and re.fullmatch(r"nbflow: would remove 2 checkpoints, [\d.]+ [KM]?B; kept 4 current\n",
                                              preview.stdout), preview.stdout
    assert sorted(folder.glob(".nbflow/*/*.ckpt")) == files  # a dry run removes nothing
    cleaned = run("nbflow", "clean", diamond.name, cwd=folder)
    assert cleaned.code == 0 and cleaned.stdout == preview.stdout.replace("would remove", "removed")
    assert len(list(folder.glob(".nbflow/*/*.ckpt"))) == len(files) - 2
    bad = run("nbflow", "clean", diamond.name, "--older-than", "soon", cwd=folder)
    assert bad.code == 2 and "--older-than" in bad.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    missing = run("nbflow", "run", "nope.ipynb", cwd=tmp_path)
    assert missing.code == 2 and "nope.ipynb" in missing.stderr
    nb = write_notebook(tmp_path / "x.ipynb", ["x = 1"])
    bad = run("nbflow", "run", nb.name, "-p", "not a name", "1", cwd=tmp_path)
    assert bad.code == 2 and "-p not a name: not a valid Python name" in bad.stderr
    for command in ("run", "dag", "status", "clean"):
        helped = run("nbflow", command, "--help", cwd=tmp_path)
        assert helped.code == 0 and "Usage: nbflow " + command in helped.stdout


def test_why_names_what_changed_since_the_newest_checkpoint(diamond: Path) -> None:
    """`nbflow why NB STEP`: an edited step's code is named; an unchanged one says so; inputs are listed."""
    folder = diamond.parent
    assert run("nbflow", "why", diamond.name, "b", cwd=folder).stdout.strip().endswith("it will run")
    assert run("nbflow", "run", diamond.name, "out.ipynb", "--no-progress", cwd=folder).code == 0
    unchanged = run("nbflow", "why", diamond.name, "b", cwd=folder)
    assert unchanged.code == 0 and "code, options and watched files are unchanged since" in unchanged.stdout
    assert "input base (int)" in unchanged.stdout and "input n (int)" in unchanged.stdout
    nb = nbformat.read(str(diamond), as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("%%step b"))
    cell.source = cell.source.replace("base * n", "base * n * 3")
    nbformat.write(nb, str(diamond))
    edited = run("nbflow", "why", diamond.name, "b", cwd=folder)
    assert "changed since: the code changed" in edited.stdout
    missing = run("nbflow", "why", diamond.name, "nope", cwd=folder)
    assert missing.code == 2 and "has no step 'nope' (steps: a, b, c, d)" in missing.stderr


def test_progress_bar_counts_steps_and_stays_out_of_the_notebook(diamond: Path) -> None:
    """--progress: the kernel's reports drive a bar over steps on stderr; none is kept in the notebook."""
    folder = diamond.parent
    result = run("nbflow", "run", diamond.name, "out.ipynb", "--progress", cwd=folder)
    assert result.code == 0, result.stderr
    assert "steps: " in result.stderr and "4/4" in result.stderr
    nb = nbformat.read(str(folder / "out.ipynb"), as_version=4)
    kept = [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.nbflow.progress+json"
            in o.get("data", {})]
    assert kept == []
    assert {row["state"] for row in nb.metadata["nbflow"]["steps"]} == {"succeeded"}


def test_unknown_parameter_exits_2_naming_it_and_the_notebooks_parameters(diamond: Path) -> None:
    folder = diamond.parent
    bad = run("nbflow", "run", diamond.name, "out.ipynb", "-p", "nn", "5", "--no-progress", cwd=folder)
    assert bad.code == 2
    assert "nbflow: -p nn: not a parameter of diamond.ipynb (its parameters: n, m)" in bad.stderr
    assert not (folder / "out.ipynb").exists() and count(folder, "a") == 0  # refused before anything ran
    allowed = run("nbflow", "run", diamond.name, "out.ipynb", "-p", "nn", "5", "--allow-unknown-params",
                  "--no-progress", cwd=folder)
    assert allowed.code == 0, allowed.stderr
    plain = write_notebook(folder / "plain.ipynb", ["x = 1"])
    none = run("nbflow", "run", plain.name, "-p", "x", "2", cwd=folder)
    assert none.code == 2 and "it has no cell tagged 'parameters'" in none.stderr


def test_a_notebook_ending_with_flow_wait_gets_no_second_one(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "ends.ipynb", ["%load_ext nbflow", "%%step a\nx = 1", "%flow wait"])
    result = run("nbflow", "run", nb.name, "out.ipynb", "--no-progress", cwd=tmp_path)
    assert result.code == 0, result.stderr
    out = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    assert [c.source for c in out.cells if c.cell_type == "code"][-2:] == ["%%step a\nx = 1", "%flow wait"]
    graphs = [o for o in out.cells[-1].outputs if "image/svg+xml" in o.get("data", {})]
    assert len(graphs) == 1
    assert [s["name"] for s in out.metadata["nbflow"]["steps"]] == ["a"]  # its status still reaches the summary
    assert "a     succeeded" in result.stdout


def test_one_run_is_one_row_in_status(diamond: Path) -> None:
    folder = diamond.parent
    for _ in range(2):
        assert run("nbflow", "run", diamond.name, "out.ipynb", "--no-progress", cwd=folder).code == 0
    status = run("nbflow", "status", diamond.name, cwd=folder).stdout
    rows = status.split("recent runs:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(rows) == 2, status
    assert "4 restored" in rows[0] and "4 succeeded" in rows[1]  # newest first; each counts all four steps
