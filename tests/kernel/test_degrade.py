"""A notebook whose store cannot be used still runs: one warning, steps without checkpoints, status says so."""

from __future__ import annotations

from pathlib import Path

from .conftest import Kernel


def test_a_file_in_place_of_the_store_folder_warns_once_and_steps_run(tmp_path: Path) -> None:
    (tmp_path / ".nbflow").write_text("in the way")
    kernel = Kernel(tmp_path)
    try:
        assert kernel.execute("%load_ext nbflow").status == "ok"
        first = kernel.execute("%%step a\nx = 1")
        second = kernel.execute("%%step b --after a\ny = x + 1")
        assert first.status == "ok" and second.status == "ok", (first.text, second.text)
        warned = first.text + second.text
        assert warned.count("steps run without checkpoints") == 1, warned
        assert kernel.execute("%flow wait").status == "ok"
        assert kernel.execute("print(y)").text.strip() == "2"
        status = kernel.execute("%flow status").text
        assert "checkpoints are off" in status and "succeeded" in status
    finally:
        kernel.close()
    assert (tmp_path / ".nbflow").read_text() == "in the way"
