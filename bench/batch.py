"""`nbflow run` beside plain papermill on small notebooks: overhead, parallelism, restoring.

    .venv/bin/python bench/batch.py             # full run, under 2 minutes
    .venv/bin/python bench/batch.py --runs 5    # more repetitions (default 3)

Two notebooks, built with nbformat in a temporary folder, each in an nbflow
version and a plain one with the same step bodies as ordinary cells:

* trivial: 10 steps `x{i} = {i}` in a chain (`%%step s{i} --after s{i-1}`),
  after a first cell `%load_ext nbflow`; the plain notebook is the 10 bodies;
* diamond: 10 steps that each sleep 0.5 s: `a`, then 8 middle steps
  `m0`..`m7` that each depend on `a` only, then `z` after all of them. The
  plain notebook runs the 10 bodies one after another (5 s of sleeping);
  nbflow can run the middle steps side by side, as many at a time as its
  thread pool allows (the default `max_workers` is min(32, CPUs + 4), printed
  in the header; with fewer than 8 the middle takes more than one round).

Each is timed as a subprocess, from start to exit, median of N runs:

* papermill: `papermill IN OUT --no-progress-bar`;
* nbflow run: `nbflow run IN OUT --no-progress` with a fresh store (the
  `.nbflow` folder beside the notebook is deleted first);
* nbflow restored: `nbflow run` again right after, keeping the store, so every
  step is restored from its checkpoint.

Cases are interleaved within a repetition, because the machine is shared and
noisy. Every output notebook is checked, outside the timing: papermill's has
every cell run without an error; nbflow's metadata (`nbflow.steps`) lists the
10 steps, all `succeeded` (and computed) on the fresh run and all `restored`
on the second; any other result stops the benchmark. The last three lines are
ratios of medians, 2 decimals: `vs_papermill_trivial` and
`vs_papermill_diamond` (nbflow run / papermill), and `restored_vs_trivial`
(restored second run of the diamond / fresh nbflow run of the trivial notebook).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbflow.core.threads import default_workers

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
STEPS = 10
SLEEP_S = 0.5
MIDDLE = 8
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

# step name -> (names it runs after, body)
Steps = dict[str, tuple[list[str], str]]


# -- notebooks -------------------------------------------------------------------------


def trivial() -> Steps:
    return {f"s{i}": ([f"s{i - 1}"] if i else [], f"x{i} = {i}") for i in range(STEPS)}


def diamond() -> Steps:
    sleep = f"import time\ntime.sleep({SLEEP_S})\n"
    middle = [f"m{i}" for i in range(MIDDLE)]
    steps: Steps = {"a": ([], sleep + "a = 1")}
    for i, name in enumerate(middle):
        steps[name] = (["a"], sleep + f"{name} = a + {i}")
    steps["z"] = (middle, sleep + f"z = sum([{', '.join(middle)}])")
    assert len(steps) == STEPS
    return steps


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


def nbflow_notebook(steps: Steps) -> nbformat.NotebookNode:
    cells = ["%load_ext nbflow"]
    for name, (after, body) in steps.items():
        header = f"%%step {name}" + (f" --after {','.join(after)}" if after else "")
        cells.append(f"{header}\n{body}")
    return notebook(cells)


def plain_notebook(steps: Steps) -> nbformat.NotebookNode:
    return notebook([body for _, body in steps.values()])


# -- runs: each returns wall seconds of one subprocess ---------------------------------


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def check_papermill(path: Path, cells: int) -> None:
    nb = nbformat.read(path, as_version=4)
    problems = []
    if len(nb.cells) != cells:
        problems.append(f"{len(nb.cells)} cells, expected {cells}")
    for index, cell in enumerate(nb.cells):
        status = cell.metadata.get("papermill", {}).get("status")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if status != "completed" or cell.get("execution_count") is None or errors:
            problems.append(f"cell {index}: status {status}, count {cell.get('execution_count')}, "
                            f"{len(errors)} errors")
    if problems:
        raise RuntimeError(f"papermill run of {path.name} went wrong: " + "; ".join(problems[:5]))


def check_nbflow(path: Path, steps: Steps, state: str) -> None:
    """Every step is listed in the output's metadata with `state`; computed ones really slept."""
    nb = nbformat.read(path, as_version=4)
    rows = nb.metadata.get("nbflow", {}).get("steps")
    if not rows:
        raise RuntimeError(f"nbflow run of {path.name}: no nbflow.steps in the output metadata")
    problems = []
    if sorted(r["step"] for r in rows) != sorted(steps):
        problems.append(f"steps {[r['step'] for r in rows]}, expected {list(steps)}")
    for row in rows:
        if row["state"] != state:
            problems.append(f"{row['step']}: {row['state']} {row.get('error') or ''}".rstrip())
        elif state == "succeeded" and row.get("source") == "restored":
            problems.append(f"{row['step']}: restored on a fresh run")
        elif state == "succeeded" and "sleep" in steps[row["step"]][1] and (row.get("duration") or 0) < SLEEP_S:
            problems.append(f"{row['step']}: took {row.get('duration')} s, less than its sleep")
    if problems:
        raise RuntimeError(f"nbflow run of {path.name}, expected all {state}: " + "; ".join(problems[:5]))


class Case:
    """One notebook in both versions; one `rep()` times papermill, a fresh nbflow run, a restored one."""

    def __init__(self, name: str, steps: Steps, root: Path) -> None:
        self.name = name
        self.steps = steps
        self.folder = root / name
        self.folder.mkdir()
        self.plain_in = self.folder / "plain.ipynb"
        self.flow_in = self.folder / "flow.ipynb"
        nbformat.write(plain_notebook(steps), self.plain_in)
        nbformat.write(nbflow_notebook(steps), self.flow_in)
        self.times: dict[str, list[float]] = {"papermill": [], "nbflow": [], "restored": []}

    def rep(self) -> None:
        out = self.folder / "plain.out.ipynb"
        self.times["papermill"].append(timed(
            [str(BIN / "papermill"), str(self.plain_in), str(out), "--no-progress-bar"], self.folder))
        check_papermill(out, len(self.steps))

        shutil.rmtree(self.folder / ".nbflow", ignore_errors=True)
        out = self.folder / "flow.out.ipynb"
        run = [str(BIN / "nbflow"), "run", str(self.flow_in), str(out), "--no-progress"]
        self.times["nbflow"].append(timed(run, self.folder))
        check_nbflow(out, self.steps, "succeeded")

        out.unlink()
        self.times["restored"].append(timed(run, self.folder))
        check_nbflow(out, self.steps, "restored")

    def medians(self) -> dict[str, float]:
        return {method: statistics.median(t) for method, t in self.times.items()}


# -- driver ----------------------------------------------------------------------------

COLUMNS = {"papermill": "papermill s", "nbflow": "nbflow run s", "restored": "nbflow restored s"}


def table(results: Mapping[str, Mapping[str, float]]) -> str:
    head = f"{'case':<9}" + "".join(f"{label:>19}" for label in COLUMNS.values())
    lines = [head, "-" * len(head)]
    for case, row in results.items():
        lines.append(f"{case:<9}" + "".join(f"{row[m]:>19.2f}" for m in COLUMNS))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="repetitions, median taken (default 3)")
    args = parser.parse_args(argv)
    runs: int = args.runs
    if runs < 1:
        parser.error("--runs must be at least 1")

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nbflow-batch-") as tmp:
        cases = [Case("trivial", trivial(), Path(tmp)), Case("diamond", diamond(), Path(tmp))]
        for _ in range(runs):
            for case in cases:
                case.rep()
        results = {case.name: case.medians() for case in cases}

    print(f"Batch runs of {STEPS}-step notebooks, wall seconds per subprocess, median of {runs} runs; "
          f"diamond: a -> {MIDDLE} x m -> z, {SLEEP_S} s each; nbflow default max_workers {default_workers()}")
    print(table(results))
    print(f"total time: {time.perf_counter() - began:.1f} s")
    print(f"vs_papermill_trivial: {results['trivial']['nbflow'] / results['trivial']['papermill']:.2f}")
    print(f"vs_papermill_diamond: {results['diamond']['nbflow'] / results['diamond']['papermill']:.2f}")
    print(f"restored_vs_trivial: {results['diamond']['restored'] / results['trivial']['nbflow']:.2f}")


if __name__ == "__main__":
    main()
