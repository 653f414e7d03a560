"""Checkpoints in real kernels: Restart & Run All restores, %flow resume, clean, invalidate, --watch."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import Kernel


def count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def cells(log: Path) -> list[str]:
    """A small notebook: a parameter cell, then three steps that log each execution."""
    return [
        "threshold = 3",
        f"%%step load\nopen({str(log)!r}, 'a').write('load\\n')\nraw = list(range(10))",
        f"%%step clean --after load\nopen({str(log)!r}, 'a').write('clean\\n')\n"
        "rows = [r for r in raw if r > threshold]",
        f"%%step total --after clean\nopen({str(log)!r}, 'a').write('total\\n')\nresult = sum(rows)",
        "%flow wait",
    ]


def run_all(kernel: Kernel, sources: list[str]) -> None:
    for source in sources:
        reply = kernel.execute(source)
        assert reply.status == "ok", (source, reply.text)


def fresh(tmp_path: Path) -> Kernel:
    kernel = Kernel(tmp_path)
    assert kernel.execute("%load_ext nbflow").status == "ok"
    return kernel


def test_restart_and_run_all_restores_everything(tmp_path: Path) -> None:
    """After a restart, Run All executes no step and every value comes back equal."""
    log = tmp_path / "log.txt"
    first = fresh(tmp_path)
    try:
        run_all(first, cells(log))
        before = first.execute("print(result, rows)").text
    finally:
        first.close()
    assert count(log) == 3
    second = fresh(tmp_path)
    try:
        run_all(second, cells(log))
        assert second.execute("print(result, rows)").text == before
        status = second.execute("%flow status").text
        assert status.count("restored") >= 3
        assert "time saved" in status or "restored" in status
    finally:
        second.close()
    assert count(log) == 3  # 0 executions in the second kernel


def test_changed_parameter_reruns_only_what_reads_it(tmp_path: Path) -> None:
    """A plain-cell input that changed re-executes the step reading it and its dependents only."""
    log = tmp_path / "log.txt"
    first = fresh(tmp_path)
    try:
        run_all(first, cells(log))
    finally:
        first.close()
    second = fresh(tmp_path)
    try:
        run_all(second, ["threshold = 5", *cells(log)[1:]])
        assert second.execute("print(result)").text.strip() == str(sum(r for r in range(10) if r > 5))
    finally:
        second.close()
    assert log.read_text().splitlines() == ["load", "clean", "total", "clean", "total"]


def test_flow_resume_restores_without_running_cells(tmp_path: Path) -> None:
    """`%flow resume` in a fresh kernel rebuilds the graph and loads outputs; no cell runs."""
    log = tmp_path / "log.txt"
    first = fresh(tmp_path)
    try:
        run_all(first, cells(log))
    finally:
        first.close()
    second = fresh(tmp_path)
    try:
        reply = second.execute("%flow resume")
        assert "restored 3 step(s): load, clean, total" in reply.text
        assert second.execute("print(result)").text.strip() == str(sum(r for r in range(10) if r > 3))
        assert re.search(r"^total\s+restored", second.execute("%flow status").text, re.M)
    finally:
        second.close()
    assert count(log) == 3


def test_resume_defines_dependencies_first_whatever_order_the_cells_ran_in(tmp_path: Path) -> None:
    """A later session that ran only `clean` again stores it first in cell order; resume still works."""
    log = tmp_path / "log.txt"
    parameter, load, clean, total, wait = cells(log)
    first = fresh(tmp_path)
    try:
        run_all(first, [parameter, load, clean, total, wait])
    finally:
        first.close()
    second = fresh(tmp_path)  # resumes, then runs only the clean cell (now first in its session's order)
    try:
        second.execute(parameter)
        assert "restored 3 step(s)" in second.execute("%flow resume").text
        second.execute(clean)
        assert second.execute("%flow wait").status == "ok"
    finally:
        second.close()
    third = fresh(tmp_path)
    try:
        third.execute(parameter)
        reply = third.execute("%flow resume")
        assert reply.status == "ok", reply.text
        assert "restored 3 step(s): load, clean, total" in reply.text
        assert third.execute("print(result)").text.strip() == str(sum(r for r in range(10) if r > 3))
    finally:
        third.close()


def test_no_cache_and_invalidate_force_execution(tmp_path: Path) -> None:
    """--no-cache always executes; %flow invalidate drops the checkpoint so the step runs again."""
    log = tmp_path / "log.txt"
    sources = [
        f"%%step a\nopen({str(log)!r}, 'a').write('a\\n')\nx = 1",
        f"%%step b --no-cache\nopen({str(log)!r}, 'a').write('b\\n')\ny = 2",
        "%flow wait",
    ]
    first = fresh(tmp_path)
    try:
        run_all(first, sources)
    finally:
        first.close()
    second = fresh(tmp_path)
    try:
        run_all(second, sources)
        assert log.read_text().splitlines() == ["a", "b", "b"]
        assert "dropped the checkpoint of 'a'" in second.execute("%flow invalidate a").text
        second.execute("%flow wait")
        assert log.read_text().splitlines() == ["a", "b", "b", "a"]
    finally:
        second.close()


def test_watched_file_edit_invalidates_the_step(tmp_path: Path) -> None:
    """--watch: editing the data file changes the key, so the step executes again."""
    data = tmp_path / "data.csv"
    data.write_text("1\n2\n")
    log = tmp_path / "log.txt"
    source = [
        f"%%step read --watch data.csv\nopen({str(log)!r}, 'a').write('read\\n')\n"
        "values = [int(v) for v in open('data.csv').read().split()]",
        "%flow wait",
    ]
    for content in ("1\n2\n", "1\n2\n", "1\n2\n3\n"):
        data.write_text(content)
        kernel = fresh(tmp_path)
        try:
            run_all(kernel, source)
        finally:
            kernel.close()
    assert count(log) == 2


def test_clean_removes_unreferenced_checkpoints(tmp_path: Path) -> None:
    """%flow clean deletes checkpoints of old definitions and keeps the current ones."""
    kernel = fresh(tmp_path)
    try:
        run_all(kernel, ["%%step a\nx = 1", "%flow wait", "%%step a\nx = 2", "%flow wait"])
        files = sorted((tmp_path / ".nbflow" / "a").glob("*.ckpt"))
        assert len(files) == 2
        assert re.search(r"removed 1 checkpoint, [\d.]+ [KM]?B; kept 1 current$", kernel.execute("%flow clean").text)
        assert len(list((tmp_path / ".nbflow" / "a").glob("*.ckpt"))) == 1
        assert kernel.execute("print(x)").text.strip() == "2"
    finally:
        kernel.close()


def test_unpicklable_output_is_named_and_step_not_restorable(tmp_path: Path) -> None:
    """A step binding a lock saves the rest, names the lock, and shows it is not restorable."""
    kernel = fresh(tmp_path)
    try:
        reply = kernel.execute("%%step s\nimport threading\nlock = threading.Lock()\nvalue = 3")
        kernel.execute("%flow wait")
        text = kernel.widget_text(reply.widget_ids()[0])
        assert "lock: cannot pickle" in text
        assert "will not restore" in text
    finally:
        kernel.close()


def test_kernel_shutdown_cancels_running_steps_and_records_it(tmp_path: Path) -> None:
    """Shutting the kernel down cancels a running step; the manifest says so afterwards."""
    from nbflow.store.manifest import Manifest

    kernel = fresh(tmp_path)
    try:
        kernel.execute("import threading\nstarted = threading.Event()")
        kernel.execute("%%step forever\nstarted.set()\nimport time\ntime.sleep(60)")
        assert kernel.execute("print(started.wait(30))").text.strip() == "True"
        assert re.search(r"forever\s+running", kernel.execute("%flow status").text)
    finally:
        kernel.close()
    manifest = Manifest(tmp_path / ".nbflow" / "manifest.sqlite", "notebook")
    try:
        states = {record.status.name: record.status.state.value for record in manifest.latest()}
    finally:
        manifest.close()
    assert states == {"forever": "cancelled"}
