"""Migrations: a fresh database gets HEAD, once, atomically, and matches the tables module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
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


def _migrate_one_by_one(engine: sa.Engine, revision: str = "head") -> None:
    """Run the Alembic migrations themselves, as an older database would get them."""
    with db.writer(engine).begin() as conn:
        command.upgrade(migrations.config(connection=conn), revision)


def test_the_migrated_schema_matches_the_tables(engine: sa.Engine) -> None:
    _migrate_one_by_one(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def _plain(value: Any) -> str:
    """A reflected item as text: a partial index's WHERE is a clause, compared by its SQL."""
    if isinstance(value, dict):
        return repr(sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return repr([_plain(v) for v in value])
    return str(value) if isinstance(value, sa.ClauseElement) else repr(value)


def _schema(engine: sa.Engine) -> dict[str, Any]:
    """Everything reflection says about each table, column order aside."""
    inspector = sa.inspect(engine)
    schema: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        columns = sorted(
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in inspector.get_columns(name)
        )
        schema[name] = {
            "columns": columns,
            "primary key": _plain(inspector.get_pk_constraint(name)),
            "foreign keys": sorted(map(_plain, inspector.get_foreign_keys(name))),
            "indexes": sorted(map(_plain, inspector.get_indexes(name))),
            "unique": sorted(map(_plain, inspector.get_unique_constraints(name))),
            "checks": sorted(map(_plain, inspector.get_check_constraints(name))),
        }
    return schema


def test_a_fresh_database_gets_the_same_schema_as_the_migrations(engine: sa.Engine) -> None:
    _migrate_one_by_one(engine)
    migrated = _schema(engine)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE alembic_version")
    assert _schema(engine) == {}
    assert db.ensure_schema(engine) is True
    assert _schema(engine) == migrated
    with engine.connect() as conn:
        # Alembic reads the stamp as it reads its own: nothing left to upgrade.
        assert MigrationContext.configure(conn).get_current_revision() == db.HEAD


def test_a_fresh_database_is_created_without_loading_alembic(fresh_url: str) -> None:
    code = (
        "import sys\nfrom pauta.store.repository import Store\n"
        f"Store({fresh_url!r}).close()\nprint('alembic' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
    with Store(fresh_url, migrate=False) as store, store.engine.connect() as conn:
        assert db.current_revision(conn) == db.HEAD


def test_an_older_database_is_migrated_to_head_keeping_its_rows(engine: sa.Engine) -> None:
    _migrate_one_by_one(engine, "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO pools (name, slots) VALUES ('gpu', 2)")
    assert db.ensure_schema(engine) is True
    with engine.connect() as conn:
        assert db.current_revision(conn) == db.HEAD
        assert conn.exec_driver_sql("SELECT name, slots FROM pools").all() == [("gpu", 2)]
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
