"""connection(name): PAUTA_CONN_<NAME> first, else the store; its secrets masked from then on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta import connection
from pauta.connections import InvalidConnectionError, UnknownConnectionError, reveal_connections
from pauta.connections import keys as keyring
from pauta.connections.registry import ConnectionRegistry
from pauta.connections.rules import env_var
from pauta.core import secrets
from pauta.store.repository import Store

PASSWORD = "hunter2-pw-7f3a"


@pytest.fixture(autouse=True)
def clean_mask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(keyring.KEY_ENV, raising=False)
    secrets.clear_registry()
    yield
    secrets.clear_registry()


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("warehouse", "PAUTA_CONN_WAREHOUSE"),
        ("s3-lake", "PAUTA_CONN_S3_LAKE"),
        ("prod.db", "PAUTA_CONN_PROD_DB"),
        ("Mixed_Case", "PAUTA_CONN_MIXED_CASE"),
    ],
)
def test_names_map_to_environment_variables(name: str, variable: str) -> None:
    assert env_var(name) == variable


def test_the_environment_overrides_the_store(
    store: Store, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ConnectionRegistry(store.engine, home, store.clock).add("wh", "sqlite:///stored.db")
    assert connection("wh", store=store, home=home).url == "sqlite:///stored.db"
    assert connection("wh", store=store, home=home).source == "store"
    monkeypatch.setenv("PAUTA_CONN_WH", f"postgresql://etl:{PASSWORD}@db/wh")
    found = connection("wh", store=store, home=home)
    assert found.url == f"postgresql://etl:{PASSWORD}@db/wh"
    assert found.source == "environment"
    monkeypatch.setenv("PAUTA_CONN_WH", "")  # empty counts as unset
    assert connection("wh", store=store, home=home).url == "sqlite:///stored.db"


def test_the_default_store_is_the_pauta_home_s(home: Path) -> None:
    # the store the settings name (PAUTA_HOME), as in a task's worker process
    settings_store = Store(f"sqlite:///{home / 'pauta.db'}")
    try:
        ConnectionRegistry(settings_store.engine, home, settings_store.clock).add(
            "files", f"file://{home}"
        )
    finally:
        settings_store.close()
    assert connection("files").url == f"file://{home}"


def test_json_in_the_environment_gives_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {
        "url": "s3://lake/raw",
        "extras": {"endpoint_url": "http://127.0.0.1:9000", "aws_secret": "zzz-secret-1"},
        "secret_extras": {"password2": "yyy-secret-2"},
    }
    monkeypatch.setenv("PAUTA_CONN_LAKE", json.dumps(value))
    found = connection("lake")
    assert found.url == "s3://lake/raw"
    assert found.extras["endpoint_url"] == "http://127.0.0.1:9000"
    assert found.secret_keys == {"aws_secret", "password2"}
    assert secrets.mask("zzz-secret-1 yyy-secret-2") == "*** ***"


@pytest.mark.parametrize(
    "value",
    ['{"url": 3}', "{not json", '{"url": "s3://x", "extras": []}', "no-scheme:hunter2-pw-7f3a"],
)
def test_a_bad_environment_value_names_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PAUTA_CONN_BAD", value)
    with pytest.raises(InvalidConnectionError) as caught:
        connection("bad")
    assert "PAUTA_CONN_BAD" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_an_unknown_name_says_where_it_looked(store: Store, home: Path) -> None:
    with pytest.raises(UnknownConnectionError) as caught:
        connection("nowhere", store=store, home=home)
    assert "PAUTA_CONN_NOWHERE" in str(caught.value)
    assert "pauta connections add nowhere" in str(caught.value)


def test_a_bad_name_is_refused() -> None:
    with pytest.raises(InvalidConnectionError):
        connection("<script>")


def test_a_resolved_connection_is_masked_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAUTA_CONN_WH", f"postgresql://etl:{PASSWORD}@db/wh?token=tok-98765")
    assert secrets.mask(PASSWORD) == PASSWORD  # nothing registered yet
    found = connection("wh")
    assert secrets.mask(f"could not connect to {found.url}") == (
        "could not connect to postgresql://etl:***@db/wh?token=***"
    )
    assert "connection:wh" in secrets.revealed_names()


def test_the_driver_reveals_what_a_worker_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAUTA_CONN_WH", f"postgresql://etl:{PASSWORD}@db/wh")
    # what a worker reports: its secrets by name, connections among them
    reported = ("connection:wh", "connection:gone", "SOME_SECRET")
    reveal_connections(reported)
    assert secrets.mask(PASSWORD) == "***"
    secrets.reveal_secrets(reported)  # leaves connection names alone, skips the unknown one
