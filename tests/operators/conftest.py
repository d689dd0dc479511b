"""Fixtures for the operator tests: a warm runner on a fresh home, real databases (a fresh
MariaDB database beside the suite's PostgreSQL one), and helpers to look at processes."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.store.repository import Store

MARIADB_SERVER = os.environ.get("PAUTA_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def runner(module_home: Path) -> Iterator[Runner]:
    """A warm runner (2 workers, 4 cpus of capacity) shared by the tests of one module."""
    runner = Runner(Settings.from_env(module_home), capacity=Resources(cpus=4), workers=2)
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def store(module_home: Path) -> Iterator[Store]:
    store = Store.from_settings(Settings.from_env(module_home))
    yield store
    store.close()


def _mariadb_admin():  # type: ignore[no-untyped-def]
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(MARIADB_SERVER + "/", poolclass=NullPool)
    try:
        engine.connect().close()
    except Exception as exc:
        pytest.fail(
            f"MariaDB is not reachable at {MARIADB_SERVER} ({exc}). The operator tests need it: "
            "start the server (CI does), or set PAUTA_TEST_MARIADB to another server.",
            pytrace=False,
        )
    return engine


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """The URL of a fresh, empty MariaDB database, dropped after the test."""
    import sqlalchemy as sa

    name = f"pauta_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _mariadb_admin()
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    yield f"{MARIADB_SERVER}/{name}?charset=utf8mb4"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        "mariadb",
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on SQLite, PostgreSQL and MariaDB in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.db'}"
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(request.getfixturevalue("mariadb_url"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 protocol server (moto's, over HTTP on 127.0.0.1), with the AWS variables that
    point s3fs at it set for the session."""
    from operator_support import s3_server

    with s3_server() as endpoint, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the S3 server: its s3:// URL."""
    import fsspec

    name = f"pauta-test-{secrets.token_hex(4)}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(name)
    return f"s3://{name}"
