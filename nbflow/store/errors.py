"""Errors of the checkpoint store, in nbflow's one error family.

Each is an `NbflowError` (one-line message naming the step, structured
fields, survives pickling) and the built-in a caller would catch anyway:
a refused checkpoint is a `ValueError`, a missing one a `FileNotFoundError`,
a failed write or an unusable secret an `OSError`.
"""

from __future__ import annotations

from nbflow.core.errors import NbflowError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class CheckpointRefused(NbflowError, ValueError):
    """A checkpoint that exists but must not be loaded; the step has to run again.

    `reason` says why in a few words (damaged, signed with another secret,
    written for another step or key, incompatible Python, ...).
    """

    step: str
    key: str
    reason: str

    def __init__(self, step: str, key: str, reason: str, path: str | None = None) -> None:
        reason = _one_line(reason)
        super().__init__(
            f"step {step!r}: checkpoint refused: {reason}",
            step=step,
            key=key,
            reason=reason,
            path=path,
        )


class CheckpointMissing(NbflowError, FileNotFoundError):
    """No checkpoint is stored for this step and key."""

    def __init__(self, step: str, key: str, path: str | None = None) -> None:
        super().__init__(
            f"step {step!r}: no checkpoint for key {key}", step=step, key=key, path=path
        )


class CheckpointWriteError(NbflowError, OSError):
    """Writing a checkpoint failed (disk full, file too large, permissions...).

    The temporary file is gone and any checkpoint stored before is untouched.
    """

    step: str
    key: str
    reason: str

    def __init__(
        self, step: str, key: str, reason: str, errno: int | None = None, path: str | None = None
    ) -> None:
        reason = _one_line(reason)
        super().__init__(
            f"step {step!r}: checkpoint not written: {reason}",
            step=step,
            key=key,
            reason=reason,
            errno=errno,
            path=path,
        )


class SecretError(NbflowError, OSError):
    """The per-user signing secret cannot be created or read."""

    def __init__(self, path: str, reason: str) -> None:
        reason = _one_line(reason)
        super().__init__(f"nbflow secret {path}: {reason}", path=path, reason=reason)
