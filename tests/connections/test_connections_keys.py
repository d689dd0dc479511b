"""The keys that seal connections: PAUTA_SECRET_KEY, else a private key file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from pauta.connections import SecretKeyError
from pauta.connections import keys as keyring


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(keyring.KEY_ENV, raising=False)


def test_a_key_file_is_created_private_when_asked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert keyring.load(home) is None
    found = keyring.load(home, create=True)
    assert found is not None
    path = keyring.key_file(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert found.where == f"the key file {path}"
    # the same key next time
    again = keyring.load(home)
    assert again is not None
    assert again.ids == found.ids


def test_two_processes_creating_the_key_file_agree_on_one_key(tmp_path: Path) -> None:
    ids = []
    lock = threading.Lock()

    def create() -> None:
        found = keyring.load(tmp_path, create=True)
        assert found is not None
        with lock:
            ids.append(found.ids)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [keyring.KEY_FILENAME]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_key_file_others_may_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    keyring.load(tmp_path, create=True)
    path = keyring.key_file(tmp_path)
    path.chmod(mode)
    with pytest.raises(SecretKeyError) as caught:
        keyring.load(tmp_path)
    assert f"chmod 600 {path}" in str(caught.value)
    assert f"{mode:04o}" in str(caught.value)


def test_the_environment_key_wins_and_the_file_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(keyring.KEY_ENV, key)
    found = keyring.load(tmp_path, create=True)
    assert found is not None
    assert found.where == keyring.KEY_ENV
    assert found.ids == (keyring.key_id(key.encode()),)
    assert not keyring.key_file(tmp_path).exists()


def test_the_first_key_seals_and_every_key_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(keyring.KEY_ENV, old)
    sealed_old, old_id = keyring.load("/nonexistent").seal(b"data")  # type: ignore[union-attr]
    monkeypatch.setenv(keyring.KEY_ENV, f"{new}, {old}")
    both = keyring.load("/nonexistent")
    assert both is not None
    assert both.open(sealed_old, old_id, "it") == b"data"
    _, new_id = both.seal(b"more")
    assert new_id == keyring.key_id(new.encode()) != old_id


def test_a_wrong_key_is_named_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keyring.KEY_ENV, Fernet.generate_key().decode())
    sealed, sealed_with = keyring.load("/x").seal(b"data")  # type: ignore[union-attr]
    monkeypatch.setenv(keyring.KEY_ENV, Fernet.generate_key().decode())
    other = keyring.load("/x")
    assert other is not None
    with pytest.raises(SecretKeyError) as caught:
        other.open(sealed, sealed_with, "connection 'wh'")
    message = str(caught.value)
    assert "connection 'wh'" in message
    assert sealed_with in message
    assert keyring.KEY_ENV in message


@pytest.mark.parametrize("value", ["not-a-key", "a" * 44, ","])
def test_a_malformed_environment_key_says_how_to_make_one(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(keyring.KEY_ENV, value)
    with pytest.raises(SecretKeyError) as caught:
        keyring.load("/x")
    assert "pauta connections generate-key" in str(caught.value)
    assert value not in str(caught.value) or value == ","


def test_keys_never_show_in_their_repr(tmp_path: Path) -> None:
    found = keyring.load(tmp_path, create=True)
    key = keyring.key_file(tmp_path).read_text().strip()
    assert key not in repr(found)


def test_writing_the_key_file_replaces_it_privately(tmp_path: Path) -> None:
    keys = [keyring.new_key(), keyring.new_key()]
    path = keyring.write_key_file(tmp_path, keys)
    assert path.read_text().split() == keys
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [keyring.KEY_FILENAME]
