"""Private modes of store and secret, and processes racing to create the secret."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nbflow.store import CheckpointStore
from nbflow.store import secret as secret_module

RunPython = Callable[..., str]

# Forks `procs` children per round; each blocks on a pipe, and one write of
# `procs` bytes releases them together; each then loads (creating) the secret
# and reports whether the file existed just before, and the value it got.
RACE = '''
import json, os, sys
from pathlib import Path
from nbflow.store import secret

base, rounds, procs = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
report = []
for r in range(rounds):
    path = base / f"round{r}" / "nbflow" / "secret"
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    pids = []
    for _ in range(procs):
        pid = os.fork()
        if pid == 0:
            os.read(go_r, 1)
            existed = path.exists()
            value = secret.load_secret(path).hex()
            os.write(out_w, (json.dumps([existed, value]) + "\\n").encode())
            os._exit(0)
        pids.append(pid)
    os.write(go_w, b"x" * procs)
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(out_w)
    lines = b""
    while chunk := os.read(out_r, 65536):
        lines += chunk
    got = [json.loads(line) for line in lines.decode().splitlines()]
    files = sorted(p.name for p in path.parent.iterdir())
    report.append({"got": got, "file": path.read_text().strip(), "files": files})
    for fd in (go_r, go_w, out_r):
        os.close(fd)
print(json.dumps(report))
'''


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and fork")
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_store_folders_are_0700_checkpoints_and_secret_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    """With the default secret location and a permissive umask: store 0700, secret 0600 in a 0700 folder."""
    secret_path = tmp_path / "home" / ".config" / "nbflow" / "secret"
    monkeypatch.setenv("NBFLOW_SECRET_PATH", str(secret_path))
    secret_module.forget_cached_secrets()
    old = os.umask(umask)
    try:
        store = CheckpointStore(tmp_path / "project" / ".nbflow" / "notebook")
        store.write("prep", "k", {"x": 1})
    finally:
        os.umask(old)
        secret_module.forget_cached_secrets()
    created = [
        tmp_path / "project",
        tmp_path / "project" / ".nbflow",
        tmp_path / "project" / ".nbflow" / "notebook",
        tmp_path / "project" / ".nbflow" / "notebook" / "prep",
    ]
    for folder in created:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(Path(store.path_for("prep", "k")).stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600
    for folder in (secret_path.parent, secret_path.parent.parent, secret_path.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork")
def test_processes_creating_the_secret_at_once_end_with_one(
    tmp_path: Path, run_python: RunPython
) -> None:
    """25 rounds of 2 processes, then 5 of 8, released together: every process gets the one secret on disk."""
    rounds = json.loads(run_python(RACE, tmp_path / "pairs", 25, 2))
    rounds += json.loads(run_python(RACE, tmp_path / "crowd", 5, 8))
    contested = 0
    for each in rounds:
        values = {value for _, value in each["got"]}
        assert values == {each["file"]}, each
        assert len(each["file"]) == 64
        assert each["files"] == ["secret"], each  # no temp file left behind
        contested += sum(not existed for existed, _ in each["got"]) > 1
    assert len(rounds) == 30
    # The race was real: in most rounds several processes set out to create it.
    assert contested >= 10
