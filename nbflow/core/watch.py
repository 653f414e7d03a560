"""Content digests of `--watch` paths: files, folders (followed through symlinks) and globs.

Paths are relative to the notebook's folder. A folder counts with every
file below it by relative path, following symbolic links (a link that leads
back into a folder already being walked is not followed again). A pattern
with `*`, `?` or `[` is expanded each time the key is computed, so a new
file that matches invalidates the step. A path that does not exist, or a
pattern that matches nothing, hashes as "missing" and comes with a warning.

File digests are kept per (path, size, mtime, ctime, inode) so an unchanged
data folder is not re-read for every key; files modified in the last two
seconds are always re-read, as a write within the clock's resolution would
not show in the timestamps.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import blake3

_PATTERN = frozenset("*?[")
_RACY = 2.0
_cache: dict[str, tuple[tuple[int, int, int, int], str]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class WatchResult:
    parts: tuple[tuple[str, str, str], ...]  # (path as written, digest hex or "", detail)
    warnings: tuple[str, ...] = ()


def is_pattern(path: str) -> bool:
    return any(char in _PATTERN for char in path)


def watch_digests(paths: Iterable[str], root: Path) -> WatchResult:
    parts: list[tuple[str, str, str]] = []
    warnings: list[str] = []
    for path in paths:
        if is_pattern(path):
            matches = sorted(glob.glob(os.path.join(root, path), recursive=True))
            if not matches:
                warnings.append(f"--watch pattern {path!r} matches no file in {root}")
                parts.append((path, "", "no match"))
                continue
            hasher = blake3.blake3()
            files = 0
            for match in matches:
                for relative, value in _tree(Path(match)):
                    files += 1
                    _feed(hasher, os.path.relpath(Path(match, relative), root), value)
            parts.append((path, hasher.hexdigest(), f"{len(matches)} matches, {files} files"))
            continue
        full = Path(root, path)
        if full.is_file():
            parts.append((path, file_digest(full), "file"))
        elif full.is_dir():
            hasher = blake3.blake3()
            count = 0
            for relative, value in _tree(full):
                count += 1
                _feed(hasher, relative, value)
            parts.append((path, hasher.hexdigest(), f"folder of {count} files"))
        else:
            warnings.append(f"--watch path {path!r} does not exist in {root}")
            parts.append((path, "", "missing"))
    return WatchResult(tuple(parts), tuple(warnings))


def _feed(hasher: blake3.blake3, name: str, value: str) -> None:
    data = name.replace(os.sep, "/").encode("utf-8", "surrogateescape")
    hasher.update(len(data).to_bytes(8, "little") + data + bytes.fromhex(value))


def _tree(top: Path) -> list[tuple[str, str]]:
    """(relative path, digest) of every file below `top` (or `top` itself), sorted, links followed once."""
    if top.is_file():
        return [("", file_digest(top))]
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for folder, dirs, files in os.walk(top, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back into a folder on the way: do not loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_file():
                found.append((os.path.relpath(path, top), file_digest(path)))
    return sorted(found)


def file_digest(path: Path) -> str:
    """BLAKE3 of a file's bytes, kept while its size and timestamps stay the same."""
    info = os.stat(path)
    stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
    name = os.path.realpath(path)
    recent = time.time() - max(info.st_mtime, info.st_ctime) < _RACY
    if not recent:
        with _cache_lock:
            cached = _cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            hasher.update(block)
    value = hasher.hexdigest()
    if not recent:
        with _cache_lock:
            _cache[name] = (stamp, value)
    return value
