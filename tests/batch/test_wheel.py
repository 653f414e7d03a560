"""The demo from a built wheel: `python -m nbflow.demo` works with nothing of the source tree importable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_demo_runs_from_the_installed_wheel(tmp_path: Path) -> None:
    """Build the wheel, install it into a bare folder, run the demo outside the repository: all steps succeed."""
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), ".", cwd=REPO)
    (wheel,) = wheels.glob("jupyter_nbflow-*.whl")
    _run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel), cwd=tmp_path)

    env = dict(os.environ)
    env["PYTHONPATH"] = str(target)  # the wheel's copy of nbflow, not the checkout (kernels inherit it)
    env["NBFLOW_SECRET_PATH"] = str(tmp_path / "config" / "secret")
    env.pop("NBFLOW_STORE", None)
    where = "import nbflow, nbflow.demo; print(nbflow.__file__); print(nbflow.demo.quickstart())"
    probe = _run(sys.executable, "-c", where, cwd=work, env=env)
    module, notebook = probe.stdout.split()
    assert Path(module).is_relative_to(target), module
    assert Path(notebook) == target / "nbflow" / "notebooks" / "quickstart.ipynb"

    demo = _run(sys.executable, "-m", "nbflow.demo", "--no-progress", cwd=work, env=env)
    executed = work / "out" / "quickstart.ipynb"
    assert f"wrote {executed}" in demo.stdout
    nb = nbformat.read(str(executed), as_version=4)
    states = {row["name"]: row["state"] for row in nb.metadata["nbflow"]["steps"]}
    assert states == dict.fromkeys(["load", "clean", "stats", "plot", "report"], "succeeded")
    assert "5 steps, 0 restored" in demo.stdout
    assert not (target / "nbflow" / "notebooks" / ".nbflow").exists(), "the demo wrote into the installed package"
    assert (work / "out" / "source" / ".nbflow" / "manifest.sqlite").is_file()
