"""Shared helpers for the reliability tests: run a Python script in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RunPython = Callable[..., str]


@pytest.fixture
def run_python(tmp_path: Path) -> RunPython:
    """`run_python(script, *args, timeout=60)` -> stdout; fails the test if the script fails.

    The child gets this checkout on its path and a secret file under tmp_path,
    so nothing touches the user's real config folder.
    """

    def run(script: str, *args: object, timeout: float = 60) -> str:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        env.setdefault("NBFLOW_SECRET_PATH", str(tmp_path / "child-config" / "secret"))
        # Children fork: keep numpy's BLAS from starting threads first.
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.setdefault("OMP_NUM_THREADS", "1")
        proc = subprocess.run(
            [sys.executable, "-c", script, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=REPO,
        )
        assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{proc.stderr}"
        return proc.stdout

    return run
