"""Connection URLs taken apart: what is secret, how they are shown, what clients get."""

from __future__ import annotations

import pytest

from pauta.connections import urls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://etl:hunter22@db:5432/wh", "postgresql://etl:***@db:5432/wh"),
        ("postgresql://etl@db/wh", "postgresql://etl@db/wh"),
        (
            "mysql+pymysql://root:p%40ss%2Fw@127.0.0.1:3306/x",
            "mysql+pymysql://root:***@127.0.0.1:3306/x",
        ),
        ("https://u:p@ss@api.example.com/v1", "https://u:***@api.example.com/v1"),
        ("sqlite:////data/x.db", "sqlite:////data/x.db"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        (
            "postgresql://db/wh?sslmode=require&password=zz9zz&token=abc#frag",
            "postgresql://db/wh?sslmode=require&password=***&token=***#frag",
        ),
        ("https://h/p?X-Amz-Signature=deadbeef&v=1", "https://h/p?X-Amz-Signature=***&v=1"),
    ],
)
def test_masked_urls_hide_passwords_and_secret_parameters(url: str, shown: str) -> None:
    assert urls.masked(url) == shown


def test_secrets_are_the_password_and_secret_parameters_raw_and_decoded() -> None:
    found = urls.secrets_of("postgresql://etl:p%40ss%2Fw@db/wh?api_key=k%20ey&region=eu")
    assert found == ["p%40ss%2Fw", "p@ss/w", "k%20ey", "k ey"]
    assert urls.secrets_of("postgresql://etl@db/wh") == []


def test_host_user_and_password() -> None:
    url = "postgresql://us%40er:p%40ss@db.example:5432/wh"
    assert urls.host_of(url) == "db.example:5432"
    assert urls.user_of(url) == "us@er"
    assert urls.password_of(url) == "p@ss"
    assert urls.host_of("file:///data") == ""
    assert urls.password_of("s3://bucket") is None


def test_with_password_encodes_it_into_the_user_info() -> None:
    url = urls.with_password("postgresql://etl@db/wh?x=1", "p@ss/w:rd")
    assert url == "postgresql://etl:p%40ss%2Fw%3Ard@db/wh?x=1"
    assert urls.password_of(url) == "p@ss/w:rd"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://root@h/db", "mysql+pymysql://root@h/db"),
        ("mariadb://root@h/db", "mariadb+pymysql://root@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_plain_sql_schemes_get_the_drivers_pauta_installs(url: str, expected: str) -> None:
    assert urls.sqlalchemy_url(url) == expected


def test_s3_credentials_in_the_user_info_become_storage_options() -> None:
    target, options = urls.fsspec_target("s3://AKIA:s3cr%2Fet@bucket/prefix?versionId=1")
    assert target == "s3://bucket/prefix?versionId=1"
    assert options == {"key": "AKIA", "secret": "s3cr/et"}
    # other protocols read their user info themselves
    assert urls.fsspec_target("sftp://u:p@host/path") == ("sftp://u:p@host/path", {})
