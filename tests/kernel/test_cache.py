"""The cache as a user meets it in real kernels: restores that equal runs, re-runs that say why."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import Kernel


def fresh(tmp_path: Path) -> Kernel:
    kernel = Kernel(tmp_path)
    assert kernel.execute("%load_ext nbflow").status == "ok"
    return kernel


def run_all(kernel: Kernel, sources: list[str]) -> list[str]:
    texts = []
    for source in sources:
        reply = kernel.execute(source)
        assert reply.status == "ok", (source, reply.text, reply.error)
        texts.append(reply.text)
    return texts


def ran(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def logged(log: Path, name: str) -> str:
    return f"open({str(log)!r}, 'a').write('{name} ')\n"


def session(tmp_path: Path, sources: list[str], probe: str) -> str:
    """One kernel from start to end (Restart & Run All): run the cells, return what `probe` prints."""
    kernel = fresh(tmp_path)
    try:
        run_all(kernel, [*sources, "%flow wait"])
        return kernel.execute(probe).text.strip()
    finally:
        kernel.close()


def test_restart_after_editing_what_a_helper_reads_reruns_the_step(tmp_path: Path) -> None:
    """A plain-cell helper reads a global, a local module and an instance: editing any of them re-runs the step."""
    log = tmp_path / "log.txt"
    (tmp_path / "mylib.py").write_text("def bump(x):\n    return x + 1\n")

    def cells(scale: int, offset: int, rate: int) -> list[str]:
        return [
            f"SCALE = {scale}\nOFFSET = {offset}\nimport mylib\n"
            f"class Model:\n    rate = {rate}\n    def out(self, x):\n        return x * self.rate\n"
            "model = Model()\npredict = model.out\n"
            "def f(x):\n    return mylib.bump(x) * SCALE + OFFSET + predict(1)\n",
            f"%%step s\n{logged(log, 's')}y = f(3)",
        ]

    assert session(tmp_path, cells(2, 0, 1), "print(y)") == "9"
    assert session(tmp_path, cells(2, 0, 1), "print(y)") == "9"
    assert ran(log) == ["s"]  # unchanged: restored
    assert session(tmp_path, cells(3, 0, 1), "print(y)") == "13"  # a global the helper reads
    assert session(tmp_path, cells(3, 5, 1), "print(y)") == "18"
    assert session(tmp_path, cells(3, 5, 4), "print(y)") == "21"  # the instance behind a bound method
    (tmp_path / "mylib.py").write_text("def bump(x):\n    return x + 2\n")
    assert session(tmp_path, cells(3, 5, 4), "print(y)") == "24"  # the local module's source
    assert ran(log) == ["s"] * 5


def test_a_step_importing_a_local_module_reruns_when_the_module_changes(tmp_path: Path) -> None:
    """`from mylib import f` inside the step: an edit to mylib.py is part of the step's key."""
    log = tmp_path / "log.txt"
    module = tmp_path / "stepmod.py"
    cells = [f"%%step s\n{logged(log, 's')}from stepmod import f\ny = f(2)"]
    module.write_text("def f(x):\n    return x * 10\n")
    assert session(tmp_path, cells, "print(y)") == "20"
    assert session(tmp_path, cells, "print(y)") == "20"
    module.write_text("def f(x):\n    # a comment only\n    return x * 10\n")
    assert session(tmp_path, cells, "print(y)") == "20"
    module.write_text("def f(x):\n    return x * 11\n")
    assert session(tmp_path, cells, "print(y)") == "22"
    assert ran(log) == ["s", "s"]


def test_a_restore_leaves_the_namespace_as_the_run_did(tmp_path: Path) -> None:
    """In-place changes to an upstream's DataFrame, deletions, plain-cell classes and step functions come back."""
    log = tmp_path / "log.txt"
    cells = [
        "import pandas as pd\nSCALE = 2\nclass Point:\n    def __init__(self, x):\n        self.x = x\nscratch = 1",
        f"%%step load\n{logged(log, 'load')}df = pd.DataFrame({{'x': [1, 2, 3]}})",
        f"%%step widen --after load\n{logged(log, 'widen')}df['x2'] = df['x'] * 2\n"
        "points = [Point(v) for v in df['x']]\ndef scaled(v):\n    return v * SCALE\ndel scratch",
        f"%%step use --after widen\n{logged(log, 'use')}total = int(df['x2'].sum())",
    ]
    probe = ("SCALE = 10\nprint(total, list(df.columns), all(isinstance(p, Point) for p in points), "
             "scaled(1), 'scratch' in dir())")
    computed = session(tmp_path, cells, probe)
    # `scaled` reads SCALE, so the probe's `SCALE = 10` also makes `widen` stale, and says so.
    assert computed.splitlines() == ["12 ['x', 'x2'] True 10 False",
                                     "nbflow: now stale: widen (input 'SCALE' changed). `%flow run` updates them."]
    assert session(tmp_path, cells, probe) == computed
    assert ran(log) == ["load", "widen", "use"]


def test_a_plain_cell_change_marks_readers_stale_and_run_updates_them(tmp_path: Path) -> None:
    """`limit = 4` in a plain cell names the stale steps under that cell; %flow run re-runs just those."""
    log = tmp_path / "log.txt"
    kernel = fresh(tmp_path)
    try:
        run_all(kernel, [
            "limit = 3\ndata = [1, 2, 3, 4, 5]\ndef keep(v):\n    return v < limit",
            f"%%step picked\n{logged(log, 'picked')}picked = [d for d in data if keep(d)]",
            f"%%step count\n{logged(log, 'count')}n = len(data)",
            "%flow wait",
        ])
        assert "stale" not in kernel.execute("print(picked)").text  # reading changes nothing
        note = kernel.execute("limit = 4").text
        assert "now stale: picked (input 'keep' changed (it reads 'limit'))" in note
        assert "count" not in note
        assert re.search(r"^picked\s+stale", kernel.execute("%flow status").text, re.M)
        run_all(kernel, ["%flow run", "%flow wait"])
        assert kernel.execute("print(picked)").text.strip() == "[1, 2, 3]"
        note = kernel.execute("data.append(0)").text
        assert "picked" in note and "count" in note
    finally:
        kernel.close()
    assert ran(log) == ["picked", "count", "picked"]


def test_rerunning_an_unchanged_step_cell_reruns_it_when_an_input_changed(tmp_path: Path) -> None:
    """Same %%step cell, new parameter: `%flow why` and the cell say why it runs again; else up to date."""
    log = tmp_path / "log.txt"
    cell = f"%%step s\n{logged(log, 's')}y = p * 2"
    kernel = fresh(tmp_path)
    try:
        run_all(kernel, ["p = 1", cell, "%flow wait"])
        assert kernel.execute("%flow why s").text.startswith("s: up to date; its key matches its checkpoint")
        kernel.execute("p = 5")
        why = kernel.execute("%flow why s").text
        assert why.startswith("s: will re-run: input 'p' changed (int) since its checkpoint of")
        again = kernel.execute(cell)
        kernel.execute("%flow wait")
        assert kernel.execute("print(y)").text.strip() == "10"
        assert "ran because input 'p' changed (int)" in kernel.widget_text(again.widget_ids()[0])
        same = kernel.execute(cell)
        kernel.execute("%flow wait")
        assert "up to date" in kernel.widget_text(same.widget_ids()[0])
    finally:
        kernel.close()
    assert ran(log) == ["s", "s"]


def test_caching_off_and_force_are_said_under_the_cell(tmp_path: Path) -> None:
    """eval() turns caching off with the reason under the cell; --force re-runs readers of new data."""
    log = tmp_path / "log.txt"
    kernel = fresh(tmp_path)
    try:
        off = kernel.execute("%%step dyn\nz = eval('1 + 1')")
        run_all(kernel, [
            "import itertools\ncounter = itertools.count()",
            f"%%step src\n{logged(log, 'src')}value = next(counter)",
            f"%%step use --after src\n{logged(log, 'use')}result = value * 10",
            "%flow wait",
        ])
        assert "not cached: the code reads the namespace through eval()" in kernel.widget_text(off.widget_ids()[0])
        run_all(kernel, ["%flow run src --force", "%flow wait"])
        assert kernel.execute("print(result)").text.strip() == "10"
    finally:
        kernel.close()
    assert ran(log) == ["src", "use", "src", "use"]
