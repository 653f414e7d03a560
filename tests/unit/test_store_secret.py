"""The per-user secret: where it lives, its mode, and the create-once race handled by os.link."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbflow.store import SecretError
from nbflow.store import secret as secret_module


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    secret_module.forget_cached_secrets()
    yield
    secret_module.forget_cached_secrets()


def test_created_once_with_mode_0600_in_a_0700_folder(tmp_path: Path) -> None:
    """First use creates 64 hex digits, 0600, in new 0700 folders; later uses return the same."""
    path = tmp_path / "cfg" / "nbflow" / "secret"
    first = secret_module.load_secret(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert path.read_text().strip() == first.hex()
    secret_module.forget_cached_secrets()
    assert secret_module.load_secret(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret"]


def test_env_var_overrides_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NBFLOW_SECRET_PATH decides where the secret is."""
    monkeypatch.setenv("NBFLOW_SECRET_PATH", str(tmp_path / "x" / "s"))
    assert secret_module.secret_path() == tmp_path / "x" / "s"
    secret_module.load_secret()
    assert (tmp_path / "x" / "s").exists()


def test_default_is_the_user_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the env var the secret is platformdirs' user config folder for nbflow."""
    platformdirs = pytest.importorskip("platformdirs")
    monkeypatch.delenv("NBFLOW_SECRET_PATH", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert secret_module.secret_path() == Path(platformdirs.user_config_dir("nbflow", appauthor=False)) / "secret"
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert secret_module.secret_path() == tmp_path / "nbflow" / "secret"


def test_loser_of_the_race_reads_the_winners_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another process links its secret first, ours is discarded and theirs is returned."""
    path = tmp_path / "secret"
    winner = "ab" * 32 + "\n"
    real_link = os.link

    def link_after_a_rival(src: str, dst: str) -> None:
        Path(dst).write_text(winner)  # the rival wins between our write and our link
        real_link(src, dst)

    monkeypatch.setattr(secret_module.os, "link", link_after_a_rival)
    assert secret_module.load_secret(path) == bytes.fromhex("ab" * 32)
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # our temp file is gone


def test_without_hard_links_it_creates_in_place_with_o_excl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a filesystem without hard links the secret is still created once, 0600."""

    def no_links(src: str, dst: str) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(secret_module.os, "link", no_links)
    path = tmp_path / "secret"
    value = secret_module.load_secret(path)
    assert path.read_text().strip() == value.hex()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_leftover_temp_file_of_a_killed_creator_is_ignored(tmp_path: Path) -> None:
    """A half-written temp file from a creator killed mid-way does not become the secret."""
    (tmp_path / ".secret.999.dead.tmp").write_text("abc")
    value = secret_module.load_secret(tmp_path / "secret")
    assert (tmp_path / "secret").read_text().strip() == value.hex()


def test_malformed_secret_is_a_clear_error(tmp_path: Path) -> None:
    """A damaged secret file is not silently replaced: SecretError says how to recover."""
    path = tmp_path / "secret"
    path.write_text("not hex")
    with pytest.raises(SecretError, match=r"malformed.*delete it") as caught:
        secret_module.load_secret(path)
    assert isinstance(caught.value, OSError) and str(path) in str(caught.value)
    assert path.read_text() == "not hex"
