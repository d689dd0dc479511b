"""The Connection value: masked when shown, real when used."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa

from pauta.connections import Connection

URL = "postgresql://etl:hunter22@db:5432/wh"


def test_repr_and_str_show_the_masked_url() -> None:
    conn = Connection("wh", URL, {"api_key": "k3y-value"}, frozenset({"api_key"}))
    assert "hunter22" not in repr(conn)
    assert "k3y-value" not in repr(conn)
    assert repr(conn) == "Connection('wh', 'postgresql://etl:***@db:5432/wh')"
    assert str(conn) == "postgresql://etl:***@db:5432/wh"
    assert f"{conn}" == str(conn)
    # the real values are there for code that connects
    assert conn.url == URL
    assert conn.extras["api_key"] == "k3y-value"
    assert conn.password == "hunter22"


def test_the_masked_view_hides_secret_extras() -> None:
    conn = Connection("wh", URL, {"api_key": "k3y-value", "region": "eu"}, frozenset({"api_key"}))
    assert conn.masked() == {
        "name": "wh",
        "url": "postgresql://etl:***@db:5432/wh",
        "scheme": "postgresql",
        "host": "db:5432",
        "extras": {"api_key": "***", "region": "eu"},
        "secret_extras": ["api_key"],
        "source": "store",
    }


def test_secret_values_cover_what_code_may_print() -> None:
    conn = Connection(
        "api", "https://bot:hunter22@api.example/v1", {"token": "t0ken-abc"}, frozenset({"token"})
    )
    basic = base64.b64encode(b"bot:hunter22").decode()
    assert set(conn.secret_values()) == {"hunter22", basic, "t0ken-abc"}


def test_http_headers_from_the_user_info_or_a_token() -> None:
    basic = Connection("api", "https://bot:hunter22@api.example/v1")
    assert basic.http_headers() == {
        "Authorization": "Basic " + base64.b64encode(b"bot:hunter22").decode()
    }
    assert basic.http_url("/health") == "https://api.example/v1/health"
    token = Connection(
        "api",
        "https://api.example",
        {"token": "t0ken-abc", "header.X-Team": "ml"},
        frozenset({"token"}),
    )
    assert token.http_headers() == {"Authorization": "Bearer t0ken-abc", "X-Team": "ml"}


def test_storage_options_decode_json_values_but_never_secret_ones() -> None:
    conn = Connection(
        "lake",
        "s3://bucket",
        {"anon": "false", "client_kwargs": '{"region_name": "eu-west-1"}', "secret": "123456"},
        frozenset({"secret"}),
    )
    assert conn.storage_options() == {
        "anon": False,
        "client_kwargs": {"region_name": "eu-west-1"},
        "secret": "123456",
    }


def test_filesystem_of_a_local_folder(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n")
    conn = Connection("files", f"file://{tmp_path}")
    fs = conn.filesystem()
    assert conn.path == str(tmp_path)
    assert [Path(p).name for p in fs.ls(conn.path, detail=False)] == ["a.csv"]


def test_sqlalchemy_engine(tmp_path: Path) -> None:
    conn = Connection("db", f"sqlite:///{tmp_path / 'x.db'}")
    engine = conn.sqlalchemy_engine(poolclass=sa.NullPool)
    try:
        with engine.connect() as db:
            assert db.execute(sa.text("SELECT 41 + 1")).scalar() == 42
    finally:
        engine.dispose()


def test_a_plain_postgresql_url_uses_psycopg() -> None:
    engine = Connection("db", "postgresql://u@127.0.0.1/none").sqlalchemy_engine()
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


@pytest.mark.parametrize("shown", [repr, str])
def test_printing_never_shows_a_password_with_special_characters(shown: object) -> None:
    conn = Connection("db", "postgresql://etl:p%40ss%2Fw0rd@db/wh")
    text = shown(conn)  # type: ignore[operator]
    assert "p%40ss" not in text
    assert "p@ss" not in text
