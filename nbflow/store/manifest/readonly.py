"""A manifest opened only to read it: what the Jupyter Server's REST API uses.

`Manifest` creates its file, migrates an old schema and moves a damaged file
aside, all right for the process that records runs and wrong for a server
that only looks: this opens an existing file read-only (SQLite's
``mode=ro``), answers the same questions (`Reads`), and never writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .reading import Reads
from .schema import OLDEST_READABLE, SCHEMA_VERSION, ManifestError

T = TypeVar("T")


class ReadOnlyManifest(Reads):
    """An existing manifest file, read in one snapshot per question; a missing or foreign file is a ManifestError."""

    session = ""  # no session of its own: it records nothing

    def __init__(self, path: str | Path, flow_name: str = "flow", *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path)
        self.flow_name = flow_name
        if not self.path.is_file():
            raise ManifestError(f"no manifest at {self.path}", str(self.path))
        try:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                         timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise ManifestError(f"cannot open the manifest {self.path}: {error}", str(self.path)) from error
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as error:
            self._conn.close()
            raise ManifestError(f"the manifest {self.path} cannot be read: {error}", str(self.path)) from error
        if row is None or not OLDEST_READABLE <= int(row[0]) <= SCHEMA_VERSION:
            self._conn.close()
            raise ManifestError(f"the manifest {self.path} has schema version {row[0] if row else 'none'}, "
                                f"this nbflow reads {SCHEMA_VERSION}", str(self.path))

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            self._conn.execute("BEGIN")
            try:
                return work(self._conn)
            finally:
                self._conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise ManifestError(f"manifest {self.path}: {error}", str(self.path)) from error

    def flows(self) -> list[str]:
        """Every flow (notebook) the store has a run or a step spec of."""
        return self._read(lambda c: [r[0] for r in c.execute(
            "SELECT flow FROM runs UNION SELECT flow FROM specs ORDER BY 1").fetchall()])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ReadOnlyManifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
