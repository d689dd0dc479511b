"""Fixtures shared by the whole suite.

- ``pg_url``: a fresh, empty PostgreSQL database on the server CI starts (127.0.0.1:5432, user
  postgres); dropped afterwards. The suite fails, never skips, when the server is unreachable.
- ``store``: a migrated ``Store`` on SQLite (a file under ``tmp_path``) and on PostgreSQL.
- ``home``: ``PAUTA_HOME`` pointed at a fresh folder, ``PAUTA_DATABASE_URL`` unset.
- ``webhook``: an HTTP server on 127.0.0.1 that keeps the JSON bodies posted to it
  (``.url``, ``.received``), for the notifier tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pauta.store.lite import LiteStore
from pauta.store.repository import Store
from webhook_receiver import WebhookReceiver

PG_SERVER = os.environ.get("PAUTA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _admin() -> psycopg.Connection:
    conninfo = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_SERVER} ({exc}). The PostgreSQL tests need it: "
            "start the server (CI does), or set PAUTA_TEST_POSTGRES to another server.",
            pytrace=False,
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"pauta_test_{os.getpid()}_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"{PG_SERVER}/{name}"
    with _admin() as conn:
        # FORCE ends the connections a test left open (a pool not closed, a killed child).
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(params=["sqlite", "lite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on SQLite and on PostgreSQL, closed afterwards; ``lite``: the light
    store of ``pauta run`` on SQLite (what it does not do itself goes to the full store)."""
    opened: Any
    if request.param == "lite":
        opened = LiteStore.open(f"sqlite:///{tmp_path / 'pauta.db'}")
        assert opened is not None
        yield opened
        opened.close()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pauta.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    opened = Store(url)
    yield opened
    opened.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``PAUTA_HOME`` set to a fresh folder, ``PAUTA_DATABASE_URL`` unset."""
    folder = tmp_path / "pauta-home"
    folder.mkdir()
    monkeypatch.setenv("PAUTA_HOME", str(folder))
    monkeypatch.delenv("PAUTA_DATABASE_URL", raising=False)
    return folder


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A webhook endpoint on 127.0.0.1 that answers 204 and keeps what it was posted."""
    with WebhookReceiver.serving() as receiver:
        yield receiver
