"""Checkpoint storage: signed, atomic files holding a step's outputs (docs/guide/reliability.md).

`CheckpointStore(root)` is the entry point; see `checkpoint.py` for what it
guarantees and `format.py` for the file format.
"""

from .checkpoint import (
    CheckpointEntry,
    CheckpointInfo,
    CheckpointStore,
    LoadResult,
    WriteResult,
)
from .errors import CheckpointMissing, CheckpointRefused, CheckpointWriteError, SecretError
from .secret import load_secret, secret_path

__all__ = [
    "CheckpointEntry",
    "CheckpointInfo",
    "CheckpointMissing",
    "CheckpointRefused",
    "CheckpointStore",
    "CheckpointWriteError",
    "LoadResult",
    "SecretError",
    "WriteResult",
    "load_secret",
    "secret_path",
]
