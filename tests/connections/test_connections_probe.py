"""`test` of a connection against real servers: PostgreSQL, MariaDB, SQLite, a folder, S3 (moto)
and HTTP; what was reached, or why not, never with a credential in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from connections_support import HTTP_PASSWORD, HTTP_USER, S3_KEY, S3_SECRET

from pauta.connections import Connection
from pauta.connections.probe import FILESYSTEM, HTTP, SQL, kind_of, probe
from pauta.core import secrets


@pytest.fixture(autouse=True)
def clean_mask() -> Iterator[None]:
    secrets.clear_registry()
    yield
    secrets.clear_registry()


def reached(conn: Connection) -> str:
    for value in conn.secret_values():
        secrets.register(value)  # as connection() does
    result = probe(conn)
    assert result.ok, result.message
    for value in conn.secret_values():
        assert value not in result.message
    return result.message


@pytest.mark.postgres
def test_postgresql_reports_its_version(pg_url: str) -> None:
    # a password PostgreSQL ignores (trust), to see it masked
    url = pg_url.replace("postgres@", "postgres:pg-pw-3a9c1f@").replace("+psycopg", "")
    conn = Connection("wh", url)
    assert kind_of(conn) == SQL
    message = reached(conn)
    assert "SELECT 1 returned 1" in message
    assert "server: PostgreSQL " in message
    assert "postgres:***@127.0.0.1" in message


def test_mariadb_reports_its_version(mariadb_url: str) -> None:
    message = reached(Connection("ops", mariadb_url.replace("mysql+pymysql", "mysql")))
    assert "SELECT 1 returned 1" in message
    assert "MariaDB" in message


def test_sqlite(tmp_path: Path) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "x.db").close()
    assert "server: SQLite 3." in reached(Connection("lite", f"sqlite:///{tmp_path / 'x.db'}"))


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    result = probe(Connection("lite", f"sqlite:///{tmp_path / 'none.db'}"))
    assert not result.ok
    assert "no SQLite database" in result.message
    assert not (tmp_path / "none.db").exists()


def test_an_unreachable_server_says_why_with_the_password_masked() -> None:
    conn = Connection("wh", "postgresql://etl:unreach-pw-77@127.0.0.1:1/wh")
    secrets.register("unreach-pw-77")
    result = probe(conn)
    assert not result.ok
    assert result.kind == SQL
    assert "could not reach postgresql://etl:***@127.0.0.1:1/wh" in result.message
    assert "unreach-pw-77" not in result.message


def test_a_local_folder_is_listed(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("x")
    conn = Connection("files", f"file://{tmp_path}")
    assert kind_of(conn) == FILESYSTEM
    message = reached(conn)
    assert f"listed {tmp_path}, 2 entries: a.csv, b.csv" in message


def test_a_missing_folder_fails() -> None:
    result = probe(Connection("files", "file:///no/such/folder"))
    assert not result.ok
    assert "FileNotFoundError" in result.message


def test_s3_through_moto_with_credentials_in_extras(s3_endpoint: str, s3_bucket: str) -> None:
    conn = Connection(
        "lake",
        f"s3://{s3_bucket}/raw",
        {"endpoint_url": s3_endpoint, "key": S3_KEY, "secret": S3_SECRET},
        frozenset({"key", "secret"}),
    )
    message = reached(conn)
    assert f"listed {s3_bucket}/raw, 1 entry: day=1.csv" in message
    assert conn.filesystem().cat(f"{s3_bucket}/raw/day=1.csv") == b"a,b\n1,2\n"


def test_s3_through_moto_with_credentials_in_the_url(s3_endpoint: str, s3_bucket: str) -> None:
    conn = Connection(
        "lake", f"s3://{S3_KEY}:{S3_SECRET}@{s3_bucket}", {"endpoint_url": s3_endpoint}
    )
    assert "1 entry: raw" in reached(conn)
    assert conn.masked_url == f"s3://{S3_KEY}:***@{s3_bucket}"


def test_a_missing_bucket_fails(s3_endpoint: str) -> None:
    conn = Connection("lake", "s3://no-such-bucket-pauta", {"endpoint_url": s3_endpoint})
    result = probe(conn)
    assert not result.ok


def test_http_with_basic_auth_from_the_url(http_server: str) -> None:
    host = http_server.removeprefix("http://")
    conn = Connection("api", f"http://{HTTP_USER}:{HTTP_PASSWORD}@{host}/health")
    assert kind_of(conn) == HTTP
    assert "HTTP 200" in reached(conn)


def test_http_refused_credentials_fail(http_server: str) -> None:
    host = http_server.removeprefix("http://")
    result = probe(Connection("api", f"http://{HTTP_USER}:wrong-pw-000@{host}/health"))
    assert not result.ok
    assert "HTTP 401" in result.message


def test_an_unknown_protocol_says_so() -> None:
    result = probe(Connection("odd", "weird://place"))
    assert not result.ok
    assert "Protocol not known: weird" in result.message
