"""Migrations: a fresh database gets HEAD, once, atomically, and matches the tables module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pauta.core.errors import StoreError
from pauta.store import db, migrations
from pauta.store.repository import Store
from pauta.store.tables import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def engine(fresh_url: str) -> Iterator[sa.Engine]:
    eng = db.create_engine(fresh_url)
    yield eng
    eng.dispose()


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return db.current_revision(conn)


def test_head_constant_matches_the_newest_script() -> None:
    assert migrations.head() == db.HEAD


def test_a_fresh_database_gets_head_once(engine: sa.Engine) -> None:
    assert _revision(engine) is None
    assert db.ensure_schema(engine) is True
    assert _revision(engine) == db.HEAD
    assert db.ensure_schema(engine) is False


def test_the_migrated_schema_matches_the_tables(engine: sa.Engine) -> None:
    db.ensure_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_second_open_does_not_load_alembic(fresh_url: str) -> None:
    Store(fresh_url).close()
    code = (
        "import sys\nfrom pauta.store.repository import Store\n"
        f"Store({fresh_url!r}).close()\nprint('alembic' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


def test_upgrade_is_idempotent(fresh_url: str) -> None:
    assert migrations.upgrade(fresh_url) == db.HEAD
    assert migrations.upgrade(fresh_url) == db.HEAD
    with Store(fresh_url, migrate=False) as store:
        assert store.list_flow_runs() == []


def test_a_failed_migration_leaves_the_database_untouched(engine: sa.Engine) -> None:
    # A table in the way makes the last CREATE TABLE of the initial revision fail.
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE pools (name VARCHAR(10))")
    with pytest.raises(sa.exc.DatabaseError):
        db.ensure_schema(engine)
    names = set(sa.inspect(engine).get_table_names())
    assert names == {"pools"}  # nothing else was created, not even alembic_version


def test_a_newer_schema_is_refused_with_advice(engine: sa.Engine) -> None:
    db.ensure_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"revision '9999'.*Upgrade pauta"):
        db.ensure_schema(engine)


def test_migrate_false_skips_the_check(fresh_url: str) -> None:
    with Store(fresh_url, migrate=False) as store, store.engine.connect() as conn:
        assert db.current_revision(conn) is None
