"""A notebook whose store cannot be used still runs: one warning, steps without checkpoints, status says so.

A warning nbflow gives is one `nbflow: …` line on the cell's stderr (no file
name and source line); other warnings look as Python shows them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stores import check_kept_aside, manifest_in_the_way

from .conftest import Kernel, Reply


def stderr(reply: Reply) -> str:
    return "".join(out["text"] for out in reply.outputs if out["type"] == "stream" and out["name"] == "stderr")


def define_two_steps(kernel: Kernel) -> tuple[Reply, Reply]:
    """Load nbflow and define `a`, and `b` after it: the two cells' replies, both ok."""
    assert kernel.execute("%load_ext nbflow").status == "ok"
    first = kernel.execute("%%step a\nx = 1")
    second = kernel.execute("%%step b --after a\ny = x + 1")
    assert first.status == "ok" and second.status == "ok", (first.text, second.text)
    return first, second


def test_a_file_in_place_of_the_store_folder_warns_once_and_steps_run(tmp_path: Path) -> None:
    (tmp_path / ".nbflow").write_text("in the way")
    kernel = Kernel(tmp_path)
    try:
        first, second = define_two_steps(kernel)
        warned = first.text + second.text
        assert warned.count("steps run without checkpoints") == 1, warned
        line = stderr(first)
        assert line.startswith(f"nbflow: the store {tmp_path / '.nbflow'} cannot be used (") and line.endswith(
            "; steps run without checkpoints\n") and line.count("\n") == 1, line  # one line, no file:line
        assert kernel.execute("%flow wait").status == "ok"
        assert kernel.execute("print(y)").text.strip() == "2"
        status = kernel.execute("%flow status").text
        assert "checkpoints are off" in status and "succeeded" in status
    finally:
        kernel.close()
    assert (tmp_path / ".nbflow").read_text() == "in the way"


@pytest.mark.parametrize("kind", ["a corrupt file", "a folder"])
def test_a_manifest_in_the_way_is_moved_aside_with_one_line_and_steps_checkpoint(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / ".nbflow"
    manifest, reason, label = manifest_in_the_way(folder, kind)
    kernel = Kernel(tmp_path)
    try:
        first, second = define_two_steps(kernel)
        (aside,) = folder.glob(f"manifest.sqlite.{label}-*")
        assert stderr(first) == (f"nbflow: the manifest {manifest} {reason}; moved it to {aside.name} "
                                 "and started a new one\n"), first.text
        assert stderr(second) == ""
        assert kernel.execute("%flow wait").status == "ok"
        assert kernel.execute("print(y)").text.strip() == "2"
        status = kernel.execute("%flow status").text
        assert "succeeded" in status and "checkpoints are off" not in status, status
    finally:
        kernel.close()
    assert manifest.is_file() and len(list((folder / "a").glob("*.ckpt"))) == 1
    check_kept_aside(aside, kind)


def test_only_nbflow_warnings_are_one_line_and_unloading_restores_how_warnings_show(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    try:
        before = kernel.execute("import warnings\nprint(id(warnings.showwarning))").text.strip()
        assert kernel.execute("%load_ext nbflow").status == "ok"
        ours = kernel.execute("from nbflow.core.errors import NbflowWarning\n"
                              "warnings.warn('two\\nlines', NbflowWarning)")
        assert stderr(ours) == "nbflow: two lines\n", ours.text
        other = stderr(kernel.execute("warnings.warn('plain', UserWarning)"))
        assert "UserWarning: plain" in other and not other.startswith("nbflow"), other
        assert kernel.execute("%unload_ext nbflow").status == "ok"
        assert kernel.execute("print(id(warnings.showwarning))").text.strip() == before
        after = stderr(kernel.execute("warnings.warn('again', NbflowWarning)"))
        assert "NbflowWarning: again" in after and not after.startswith("nbflow:"), after
    finally:
        kernel.close()
