"""Connections in the metadata store, sealed: on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from pauta.connections import (
    ConnectionExistsError,
    InvalidConnectionError,
    SecretKeyError,
    UnknownConnectionError,
)
from pauta.connections import keys as keyring
from pauta.connections.registry import ConnectionRegistry
from pauta.store.repository import Store
from pauta.store.tables import connections as table

PASSWORD = "hunter2-pw-7f3a"
SECRET = "s3cr3t-extra-91c"
URL = f"postgresql://etl:{PASSWORD}@db.example:5432/warehouse"


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(keyring.KEY_ENV, raising=False)


@pytest.fixture
def registry(store: Store, tmp_path: Path) -> ConnectionRegistry:
    return ConnectionRegistry(store.engine, tmp_path / "home", store.clock)


def test_add_get_list_delete(registry: ConnectionRegistry) -> None:
    conn, created = registry.add("wh", URL, {"region": "eu"}, {"aws_secret": SECRET})
    assert created is True
    assert conn.url == URL
    got = registry.get("wh")
    assert got is not None
    assert got.url == URL
    assert dict(got.extras) == {"region": "eu", "aws_secret": SECRET}
    assert got.secret_keys == {"aws_secret"}
    [listed] = registry.list()
    assert listed.connection == got
    assert listed.created_at == listed.updated_at
    registry.delete("wh")
    assert registry.get("wh") is None
    assert registry.list() == []
    with pytest.raises(UnknownConnectionError):
        registry.delete("wh")


def test_a_taken_name_needs_replace(registry: ConnectionRegistry) -> None:
    registry.add("wh", URL)
    with pytest.raises(ConnectionExistsError, match="--force"):
        registry.add("wh", "sqlite:///other.db")
    first = registry.list()[0]
    _, created = registry.add("wh", "sqlite:///other.db", replace=True)
    assert created is False
    [again] = registry.list()
    assert again.connection.url == "sqlite:///other.db"
    assert again.created_at == first.created_at
    assert again.updated_at >= first.updated_at


def test_extras_named_like_secrets_are_secret(registry: ConnectionRegistry) -> None:
    conn, _ = registry.add("api", "https://api.example", {"api_key": SECRET, "team": "ml"})
    assert conn.secret_keys == {"api_key"}
    row = registry.rows.get("api")
    assert row is not None
    assert row.extras == {"team": "ml"}
    assert row.secret_keys == ["api_key"]


@pytest.mark.parametrize(
    ("name", "url", "extras"),
    [
        ("<script>", "sqlite://", {}),
        ("1st", "sqlite://", {}),
        ("a b", "sqlite://", {}),
        ("wh", "no-scheme-here", {}),
        ("wh", "postgresql://u:zq9pw@h/db\nX", {}),
        ("wh", "nope:zq9pw@h/db", {}),
        ("wh", "sqlite://", {"bad key": "v"}),
        ("wh", "sqlite://", {"k": "v\x00"}),
    ],
)
def test_bad_names_urls_and_extras_are_refused(
    registry: ConnectionRegistry, name: str, url: str, extras: dict[str, str]
) -> None:
    with pytest.raises(InvalidConnectionError) as caught:
        registry.add(name, url, extras)
    assert "zq9pw" not in str(caught.value)
    assert registry.list() == []


def test_the_url_and_secret_extras_are_absent_from_the_database(
    store: Store, registry: ConnectionRegistry, tmp_path: Path
) -> None:
    registry.add("wh", URL, {"region": "eu"}, {"aws_secret": SECRET})
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(table)).one()
        if store.dialect == "postgresql":
            # every column as PostgreSQL writes it out, the sealed bytes as hex
            text = conn.execute(sa.text("SELECT c::text FROM connections c")).scalar_one()
            assert PASSWORD not in text
            assert SECRET not in text
    assert PASSWORD.encode() not in row.sealed
    assert "hunter2" not in str(row._mapping)
    if store.dialect == "sqlite":
        store.checkpoint()
        for path in tmp_path.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert PASSWORD.encode() not in data, path
                assert SECRET.encode() not in data, path


def test_a_wrong_key_is_a_clear_error_and_delete_still_works(
    registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.add("wh", URL)
    monkeypatch.setenv(keyring.KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(SecretKeyError) as caught:
        registry.get("wh")
    assert "PAUTA_SECRET_KEY" in str(caught.value)
    assert "connection 'wh'" in str(caught.value)
    with pytest.raises(SecretKeyError):
        registry.list()
    registry.delete("wh")  # no key needed to remove it
    assert registry.list() == []


def test_a_lost_key_file_is_named(registry: ConnectionRegistry) -> None:
    registry.add("wh", URL)
    keyring.key_file(registry.home).unlink()
    with pytest.raises(SecretKeyError) as caught:
        registry.get("wh")
    assert str(keyring.key_file(registry.home)) in str(caught.value)
    assert "PAUTA_SECRET_KEY" in str(caught.value)


def test_rotating_the_key_file_reseals_every_connection(registry: ConnectionRegistry) -> None:
    registry.add("a", URL)
    registry.add("b", "sqlite:///b.db", secret_extras={"token": SECRET})
    old = keyring.key_file(registry.home).read_text()
    rotated = registry.rotate()
    assert rotated.resealed == 2
    new = keyring.key_file(registry.home).read_text()
    assert new != old
    assert len(new.split()) == 1  # the old key is gone
    assert {r.key_id for r in registry.rows.list()} == {rotated.key_id}
    conn = registry.get("b")
    assert conn is not None
    assert conn.extras["token"] == SECRET


def test_rotating_with_environment_keys_reseals_with_the_first(
    registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(keyring.KEY_ENV, old)
    registry.add("a", URL)
    monkeypatch.setenv(keyring.KEY_ENV, f"{new},{old}")
    rotated = registry.rotate()
    assert rotated.resealed == 1
    assert rotated.key_id == keyring.key_id(new.encode())
    monkeypatch.setenv(keyring.KEY_ENV, new)  # the old key can go now
    conn = registry.get("a")
    assert conn is not None
    assert conn.url == URL
    assert not keyring.key_file(registry.home).exists()


def test_a_rotation_that_meets_an_unknown_key_changes_nothing(
    registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Fernet.generate_key().decode()
    monkeypatch.setenv(keyring.KEY_ENV, first)
    registry.add("a", URL)
    monkeypatch.setenv(keyring.KEY_ENV, Fernet.generate_key().decode())
    registry.add("b", URL)
    before = {r.name: r.sealed for r in registry.rows.list()}
    with pytest.raises(SecretKeyError):
        registry.rotate()  # "a" does not open with the key at hand
    assert {r.name: r.sealed for r in registry.rows.list()} == before
