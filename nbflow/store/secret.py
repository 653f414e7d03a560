"""The per-user secret that signs checkpoints.

A checkpoint is unpickled only if its signature (keyed BLAKE3) verifies with this secret, so a
file dropped into a store by someone else (or by another user sharing the
folder) is never loaded. The secret lives in the user's config folder
(`platformdirs.user_config_dir("nbflow")/secret`, or `$NBFLOW_SECRET_PATH`),
is created once with mode 0600, and is never rewritten: deleting it makes
every existing checkpoint refused, which is the way to revoke them.

Creation is race-safe. Each creator writes a complete secret to its own
temporary file (`O_CREAT|O_EXCL`, 0600), fsyncs it, then `os.link`s it to the
final name; `link` fails if the name exists, so exactly one creator wins and
the others read the winner's secret. Nobody ever sees a half-written secret.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import secrets
import threading
import time
from pathlib import Path

from .errors import SecretError
from .fs import fsync_dir, make_private_dirs

ENV_VAR = "NBFLOW_SECRET_PATH"
SECRET_BYTES = 32
_cache: dict[str, bytes] = {}
_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A child forked while another thread held the lock would deadlock on it.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def secret_path() -> Path:
    """Where this user's secret is: `$NBFLOW_SECRET_PATH`, else the config folder."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    try:
        from platformdirs import user_config_dir
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
        return Path(base) / "nbflow" / "secret"
    return Path(user_config_dir("nbflow", appauthor=False)) / "secret"


def load_secret(path: str | os.PathLike[str] | None = None) -> bytes:
    """Return the secret at `path` (default `secret_path()`), creating it if absent.

    Cached per path for the life of the process, so checkpoint reads and
    writes do not touch the config folder each time.
    """
    target = Path(path) if path is not None else secret_path()
    name = str(target)
    with _lock:
        cached = _cache.get(name)
        if cached is not None:
            return cached
        value = _read(target)
        if value is None:
            _create(target)
            value = _read(target)
            if value is None:  # pragma: no cover - deleted between create and read
                raise SecretError(name, "vanished right after it was created")
        _cache[name] = value
        return value


def forget_cached_secrets() -> None:
    """Drop the in-process cache (tests that point NBFLOW_SECRET_PATH elsewhere)."""
    with _lock:
        _cache.clear()


def _read(path: Path) -> bytes | None:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretError(str(path), f"cannot be read: {exc}") from exc
    try:
        value = binascii.unhexlify(text.strip())
    except (binascii.Error, ValueError):
        value = b""
    if len(value) != SECRET_BYTES:
        raise SecretError(
            str(path),
            f"is malformed (expected {2 * SECRET_BYTES} hex digits); delete it to make a new "
            "one, which makes every existing checkpoint invalid",
        )
    return value


def _create(path: Path) -> None:
    """Create the secret unless another process wins the race; either way it then exists."""
    make_private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    data = secrets.token_hex(SECRET_BYTES).encode() + b"\n"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process won; its secret is complete
        except OSError:
            # No hard links on this filesystem: claim the name with O_EXCL
            # instead. A reader racing the write may see it short and retries.
            _create_in_place(path, data)
        fsync_dir(path.parent)
    except OSError as exc:
        raise SecretError(str(path), f"cannot be created: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _create_in_place(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        _wait_complete(path)
        return
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _wait_complete(path: Path, timeout: float = 2.0) -> None:
    """Give a racing in-place creator time to finish its (tiny) write."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(path.read_bytes().strip()) >= 2 * SECRET_BYTES:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.005)
