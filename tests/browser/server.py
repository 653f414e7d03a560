"""A throwaway JupyterLab server: the browser tests' fixture and `bench/output.py --browser` both use it.

Config, data and runtime folders are fresh beside `root`, the announcements
pop-up is off, nbflow's server extension is enabled as an installed package enables it, and nbflow's
own environment variables are not inherited.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def lab_server(base: Path, root: Path, extra_env: Mapping[str, str] | None = None
               ) -> Iterator[tuple[str, str, subprocess.Popen[bytes], Path]]:
    """(url, token, server process, log file) of a JupyterLab over `root`, stopped on exit."""
    env = dict(os.environ, **(extra_env or {}))
    for name in ("config", "data", "runtime"):
        folder = base / name
        folder.mkdir()
        env[f"JUPYTER_{name.upper()}_DIR"] = str(folder)
    # nbflow's server extension, enabled by the file the wheel installs (a source checkout has not installed it)
    shutil.copytree(REPO / "jupyter-config", base / "config", dirs_exist_ok=True)
    # the JupyterLab extension, where the build puts it (`pip install -e .` builds it; the wheel installs it)
    built = REPO / "nbflow" / "labextension"
    if built.is_dir():
        (base / "data" / "labextensions").mkdir()
        os.symlink(built, base / "data" / "labextensions" / "jupyter-nbflow")
    labconfig = base / "config" / "labconfig"
    labconfig.mkdir()
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # the fresh folders above come before the environment's: an nbflow installed into the venv
    # (its wheel's share/jupyter/labextensions) must not stand in for the one under test
    env["JUPYTER_PREFER_ENV_PATH"] = "0"
    env.pop("JPY_SESSION_NAME", None)
    env.pop("NBFLOW_STORE", None)
    port, token = _free_port(), secrets.token_hex(16)
    log = base / "lab.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)  # polling the server's status endpoint until it answers
        yield url, token, server, log
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
