"""The destination table of a load: found or created, a staging copy, and the swap.

``replace`` loads into a staging table beside the destination and swaps it in at the end, in
one transaction, so a load that fails leaves the old table as it was:

- PostgreSQL and SQLite (whose DDL is transactional): the destination is emptied and filled
  from the staging table in one transaction. The table itself stays, with its indexes,
  grants, views and foreign keys.
- MySQL and MariaDB (whose DDL commits at once): ``RENAME TABLE dest TO old, staging TO dest``
  swaps both names in one atomic step; the old table is then dropped.

A table pauta creates gets the source's column types (``pauta.operators.coltypes``) and, when
a key is given, that key as its primary key.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pauta.operators.coltypes import keyable
from pauta.operators.errors import OperatorError

_MYSQL = ("mysql", "mariadb")
# PostgreSQL cuts names at 63 bytes, MySQL refuses them past 64: staging names stay under.
_NAME_MAX = 60


@dataclass(frozen=True, slots=True)
class TableName:
    """A table, optionally in a schema (``analytics.daily``)."""

    name: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableName:
        if not isinstance(text, str) or not text.strip():
            raise OperatorError(
                f"table must be a table name such as 'daily' or 'analytics.daily', not {text!r}"
            )
        schema, _, name = text.strip().rpartition(".")
        return cls(name, schema or None)

    def beside(self, tag: str) -> TableName:
        """A name for a helper table in the same schema (``daily__pauta_staging_1a2b3c``)."""
        suffix = f"__pauta_{tag}_{secrets.token_hex(3)}"
        return TableName(self.name[: _NAME_MAX - len(suffix)] + suffix, self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def quoted(connection: Connection, table: TableName) -> str:
    prep = connection.dialect.identifier_preparer
    name = prep.quote(table.name)
    return f"{prep.quote_schema(table.schema)}.{name}" if table.schema else name


def exists(connection: Connection, table: TableName) -> bool:
    return sa.inspect(connection).has_table(table.name, schema=table.schema)


def reflect(connection: Connection, table: TableName) -> sa.Table:
    return sa.Table(table.name, sa.MetaData(), schema=table.schema, autoload_with=connection)


def create(
    connection: Connection,
    table: TableName,
    columns: Sequence[str],
    types: Sequence[sa.types.TypeEngine[Any]],
    key: Sequence[str],
    *,
    key_name: str | None = None,
) -> sa.Table:
    """Create ``table`` with these columns and types, ``key`` as its primary key."""
    dialect = connection.dialect.name
    made = []
    for name, kind in zip(columns, types, strict=True):
        if name in key:
            made.append(
                sa.Column(name, keyable(kind, dialect), nullable=False, autoincrement=False)
            )
        else:
            made.append(sa.Column(name, kind))
    extra: list[Any] = []
    if key:
        extra.append(sa.PrimaryKeyConstraint(*key, name=key_name))
    created = sa.Table(table.name, sa.MetaData(), *made, *extra, schema=table.schema)
    created.create(connection)
    return created


def create_like(connection: Connection, source: TableName, staging: TableName) -> None:
    """Create ``staging`` with the columns, keys and indexes of ``source``."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql(
            f"CREATE TABLE {quoted(connection, staging)} "
            f"(LIKE {quoted(connection, source)} INCLUDING ALL)"
        )
    elif dialect in _MYSQL:
        connection.exec_driver_sql(
            f"CREATE TABLE {quoted(connection, staging)} LIKE {quoted(connection, source)}"
        )
    else:
        original = reflect(connection, source)
        copy = original.to_metadata(sa.MetaData(), schema=staging.schema, name=staging.name)
        for index in list(copy.indexes):  # index names are per schema: the copy's would clash
            copy.indexes.discard(index)
        copy.create(connection)


def count(connection: Connection, table: TableName) -> int:
    return int(
        connection.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted(connection, table)}").scalar_one()
    )


def swap_in(
    connection: Connection,
    staging: TableName,
    table: TableName,
    *,
    existed: bool,
    columns: Sequence[str],
) -> None:
    """Make ``staging``'s rows the content of ``table``, in one step; ``staging`` is gone after."""
    dialect = connection.dialect.name
    dest, stage = quoted(connection, table), quoted(connection, staging)
    if dialect in _MYSQL:
        if existed:
            old = table.beside("old")
            connection.exec_driver_sql(
                f"RENAME TABLE {dest} TO {quoted(connection, old)}, {stage} TO {dest}"
            )
            connection.exec_driver_sql(f"DROP TABLE {quoted(connection, old)}")
        else:
            connection.exec_driver_sql(f"RENAME TABLE {stage} TO {dest}")
        return
    if not existed:
        prep = connection.dialect.identifier_preparer
        connection.exec_driver_sql(f"ALTER TABLE {stage} RENAME TO {prep.quote(table.name)}")
        return
    prep = connection.dialect.identifier_preparer
    names = ", ".join(prep.quote(c) for c in columns)
    emptied = "TRUNCATE TABLE" if dialect == "postgresql" else "DELETE FROM"
    connection.exec_driver_sql(f"{emptied} {dest}")
    connection.exec_driver_sql(f"INSERT INTO {dest} ({names}) SELECT {names} FROM {stage}")
    connection.exec_driver_sql(f"DROP TABLE {stage}")


def drop_quietly(connection: Connection, table: TableName) -> None:
    """Drop a helper table if it is there (cleaning up after a failed load)."""
    try:
        with connection.begin():
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted(connection, table)}")
    except Exception:  # the failure being reported matters more than the cleanup's
        pass


def unique_keys(connection: Connection, table: TableName) -> list[set[str]]:
    """The column sets that are unique in ``table``: its primary key and unique constraints
    and indexes."""
    inspector = sa.inspect(connection)
    found = []
    primary = inspector.get_pk_constraint(table.name, schema=table.schema)
    if primary and primary.get("constrained_columns"):
        found.append(set(primary["constrained_columns"]))
    for constraint in inspector.get_unique_constraints(table.name, schema=table.schema):
        found.append(set(constraint["column_names"]))
    for index in inspector.get_indexes(table.name, schema=table.schema):
        if index.get("unique"):
            found.append({c for c in index["column_names"] if c is not None})
    return found
