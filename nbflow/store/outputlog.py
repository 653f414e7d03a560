"""The whole text a step printed, in a file beside its checkpoints, capped.

The live view keeps only the head and tail of a chatty step's output; the
rest is here, so nothing printed is lost and `KernelFlow.output_log(step)`
can read it back. Each notebook has its own file (`log_name`). The file always lives on local disk (the store's local
root, like the manifest): it is appended every flush, which object stores do
not do well. It starts afresh each time the step's cell is run, and stops
growing at `cap` bytes, with a line saying so.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

from blake3 import blake3

logger = logging.getLogger("nbflow")


def log_name(flow_name: str) -> str:
    """The file name of a flow's output log in a step's folder: `output.<notebook>.txt`.

    Notebooks in one folder share a store, and a step name may be in several
    of them; each keeps its own text. The notebook's name is %-quoted, and a
    long one shortened with a digest, so the file name stays short and safe.
    """
    quoted = quote(flow_name, safe="")
    if len(quoted) > 100:
        quoted = quoted[:60] + "-" + blake3(flow_name.encode()).hexdigest()[:16]
    return f"output.{quoted}.txt"
DEFAULT_CAP = 64 * 1024 * 1024


class OutputLog:
    """Append-only text of one step, at `path`, at most `cap` bytes (plus the cut notice)."""

    def __init__(self, path: Path, cap: int = DEFAULT_CAP) -> None:
        if cap <= 0:
            raise ValueError(f"output log cap must be a positive number of bytes, got {cap!r}")
        self.path = path
        self.cap = cap
        self._written = 0
        self._cut = False
        self._failed = False

    def restart(self) -> None:
        """Empty the log: the step's cell runs again."""
        self._written, self._cut, self._failed = 0, False, False
        if os.path.lexists(self.path):  # nothing to empty otherwise: the first append creates it
            self._write("wb", b"")

    def append(self, text: str) -> None:
        if self._cut or self._failed or not text:
            return
        data = text.encode("utf-8", "backslashreplace")
        room = self.cap - self._written
        if len(data) > room:
            data = data[:room] + f"\n… output cut at {self.cap:,} bytes …\n".encode()
            self._cut = True
        self._write("ab", data)
        self._written += len(data)

    def read(self) -> str:
        """Everything logged since the cell last ran ('' if nothing was)."""
        try:
            return self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _write(self, mode: str, data: bytes) -> None:
        """Write, or warn once and stop logging: a full disk must not break the step that prints."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.parent.is_symlink():  # the store stays inside itself (docs/guide/reliability.md)
                raise OSError(f"{self.path.parent} is a symbolic link")
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
            fd = os.open(self.path, flags | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        except OSError as error:
            logger.warning("nbflow: cannot write the step output log %s: %s", self.path, error)
            self._failed = True
