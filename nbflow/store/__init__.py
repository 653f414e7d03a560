"""Checkpoint storage: signed, atomic files holding a step's outputs (docs/guide/reliability.md).

`CheckpointStore(root)` is the entry point; see `checkpoint.py` for what it
guarantees, `format.py` for the file format and `results.py` for what it
answers.
"""

from .checkpoint import CheckpointStore
from .errors import CheckpointMissing, CheckpointRefused, CheckpointWriteError, SecretError
from .results import CheckpointEntry, CheckpointInfo, LoadResult, WriteResult
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
