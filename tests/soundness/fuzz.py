"""The differential soundness fuzzer: cached sessions against fresh ones, over random notebooks and edits.

For each random notebook (see `generator.py`) and each round of random
edits, two sessions run in fresh processes: "cached" over the notebook's
store, which has every checkpoint of the earlier rounds, and "truth" over an
empty store. Every value the notebook binds must be the same in both; a
difference is a false hit (a restore that was not what running the step
would have produced). After the last edit the cached session runs once more
with nothing changed, where every step must be restored: a step that runs
there, or that runs in any round although a checkpoint with its key was
already stored, is a needless re-run.

    python -m tests.soundness.fuzz --sequences 2000 --rounds 4 --seed 1

is the long form (the README's "Testing" section); CI runs a short form.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .generator import Notebook, edit, generate

SESSION = Path(__file__).with_name("session.py")
_COMPARED = re.compile(r"^(s\d+_out|q|scratch|P\d|C\d)$")


@dataclass
class Report:
    sequences: int = 0
    sessions: int = 0
    false_hits: int = 0
    needless_reruns: int = 0
    restored: int = 0
    executed: int = 0
    examples: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"sequences: {self.sequences}",
            f"sessions: {self.sessions}",
            f"steps_restored: {self.restored}",
            f"steps_executed: {self.executed}",
            f"false_hits: {self.false_hits}",
            f"needless_reruns: {self.needless_reruns}",
        ]


def _job(nb: Notebook, folder: Path, store: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in nb.files().items():
        (folder / name).write_text(text)
    return {"folder": str(folder), "store": str(store), "cells": nb.cells(), "module": nb.module}


def _start(jobs: list[dict[str, Any]], work: Path, name: str, seed: int) -> tuple[subprocess.Popen[bytes], Path]:
    source, target = work / f"{name}.jobs.json", work / f"{name}.out.json"
    source.write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "NBFLOW_SECRET_PATH": str(work / "secret")}
    process = subprocess.Popen([sys.executable, str(SESSION), str(source), str(target)], env=env,
                               stderr=subprocess.PIPE)
    return process, target


def _finish(process: subprocess.Popen[bytes], target: Path) -> list[dict[str, Any]]:
    _, err = process.communicate(timeout=1800)
    if process.returncode != 0:
        raise RuntimeError(f"session failed ({process.returncode}):\n{err.decode()[-4000:]}")
    results: list[dict[str, Any]] = json.loads(target.read_text())
    return results


def _compared(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if _COMPARED.match(k)}


def fuzz(sequences: int, rounds: int, seed: int, work: Path) -> Report:
    rng = random.Random(seed)
    notebooks = [generate(rng, f"{seed}_{i}") for i in range(sequences)]
    history: list[list[str]] = [[] for _ in notebooks]
    report = Report(sequences=sequences)
    for round_ in range(rounds + 2):  # first run, `rounds` edits, one repeat with nothing changed
        repeat = round_ == rounds + 1
        if 0 < round_ <= rounds:
            edited = [edit(rng, nb) for nb in notebooks]
            notebooks = [nb for nb, _ in edited]
            for i, (_, kind) in enumerate(edited):
                history[i].append(kind)
        cached = [_job(nb, work / "nb" / str(i), work / "nb" / str(i) / ".nbflow") for i, nb in enumerate(notebooks)]
        truth = [_job(nb, work / "truth" / str(round_) / str(i), work / "truth" / str(round_) / str(i) / ".nbflow")
                 for i, nb in enumerate(notebooks)]
        running = [_start(cached, work, f"cached{round_}", rng.randrange(1 << 30)),
                   _start(truth, work, f"truth{round_}", rng.randrange(1 << 30))]
        got, want = (_finish(*each) for each in running)
        report.sessions += 2 * sequences
        for i, (ours, theirs) in enumerate(zip(got, want, strict=True)):
            if theirs["errors"]:
                raise AssertionError(f"generated notebook {i} fails by itself: {theirs['errors']}")
            a, b = _compared(ours["values"]), _compared(theirs["values"])
            for name in sorted(a.keys() | b.keys()):
                if a.get(name) != b.get(name):
                    report.false_hits += 1
                    if len(report.examples) < 5:
                        report.examples.append(
                            f"notebook {i} after edits {history[i]}: {name} is {a.get(name)} restored, "
                            f"{b.get(name)} computed; states {ours['states']}; errors {ours['errors']}")
            before = set(ours["before"])
            for step, state in ours["states"].items():
                key = ours["keys"].get(step)
                if state == "restored":
                    report.restored += 1
                    continue
                report.executed += 1
                if key is not None and (repeat or f"{step}/{key}" in before):
                    report.needless_reruns += 1
                    if len(report.examples) < 5:
                        report.examples.append(f"notebook {i} after edits {history[i]}: {step} re-ran needlessly")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = fuzz(args.sequences, args.rounds, args.seed, Path(work))
    for example in report.examples:
        print(example)
    print("\n".join(report.lines()))
    sys.exit(1 if report.false_hits or report.needless_reruns else 0)


if __name__ == "__main__":
    main()
