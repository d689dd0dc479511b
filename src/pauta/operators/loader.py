"""Writing a stream of row chunks into a table: ``append``, ``replace`` or ``upsert``.

Each chunk is written with ``executemany``, in slices of ``WRITE_BATCH`` rows, so only one
chunk (and one slice's parameters) is ever held. ``append`` and ``upsert`` load in one
transaction: a failure writes nothing. ``replace`` loads a staging table and swaps it in
(``pauta.operators.tables``). ``upsert`` inserts rows whose key is new and updates the others
(PostgreSQL and SQLite ``ON CONFLICT``, MySQL/MariaDB ``ON DUPLICATE KEY UPDATE``): loading
the same rows twice leaves one copy.

A created table's types come from a callback given the first chunk, so types can be read
from the rows when the source's description does not settle them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pauta.operators import tables
from pauta.operators.errors import OperatorError, TransferError
from pauta.operators.tables import TableName

MODES = ("append", "replace", "upsert")
# rows per executemany: a chunk is written in slices of this many
WRITE_BATCH = 5_000
TypesFor = Callable[[Sequence[Sequence[Any]], str], Sequence[sa.types.TypeEngine[Any]]]


def check_mode(mode: Any, key: Any, where: str) -> tuple[str, tuple[str, ...]]:
    if mode not in MODES:
        raise OperatorError(f"{where}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    keys = (key,) if isinstance(key, str) else tuple(key or ())
    if not all(isinstance(k, str) and k for k in keys):
        raise OperatorError(f"{where}: key must be a column name or a list of them, not {key!r}")
    if mode == "upsert" and not keys:
        raise OperatorError(f"{where}: mode='upsert' needs key=, the column(s) that identify a row")
    return mode, keys


@dataclass
class Loaded:
    """What a load wrote: rows sent in statements that succeeded, and rows the database says
    it wrote (None where it does not say)."""

    sent: int = 0
    counted: int | None = 0


def load(
    engine: Engine,
    table: str,
    columns: Sequence[str],
    chunks: Iterable[Sequence[Sequence[Any]]],
    *,
    mode: str,
    key: Sequence[str],
    types_for: TypesFor,
    where: str,
    on_chunk: Callable[[int], None] | None = None,
) -> Loaded:
    """Write every chunk of rows (tuples in ``columns`` order) into ``table``."""
    missing = [k for k in key if k not in columns]
    if missing:
        raise OperatorError(
            f"{where}: key column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"not among the columns read ({', '.join(columns)})"
        )
    name = TableName.parse(table)
    chunks = iter(chunks)
    first = next(chunks, [])
    # types are read from the first chunk now: no reference to it is kept past its write
    types = types_for(first, engine.dialect.name)
    every = _chain([first], chunks)
    del first
    with engine.connect() as connection:
        if mode == "replace":
            return _replace(connection, name, columns, types, every, key, where, on_chunk)
        with connection.begin():
            target = _target(connection, name, columns, types, key, where)
            if mode == "upsert":
                _check_unique(connection, name, key, where)
            statement = _statement(connection, target, columns, mode, key)
            return _write(connection, statement, columns, every, on_chunk)


def _chain(first: list[Sequence[Any]], rest: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    """The first chunk (taken out of its one-item list, so only the consumer holds it), then
    the others."""
    head = first.pop()
    if head:
        yield head
    del head
    yield from rest


def _target(
    connection: Connection,
    name: TableName,
    columns: Sequence[str],
    types: Sequence[sa.types.TypeEngine[Any]],
    key: Sequence[str],
    where: str,
) -> sa.Table:
    if not tables.exists(connection, name):
        return tables.create(connection, name, columns, types, key, key_name=f"{name.name}_pkey")
    found = tables.reflect(connection, name)
    unknown = [c for c in columns if c not in found.c]
    if unknown:
        raise OperatorError(
            f"{where}: table {name} has no column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)} (its columns: {', '.join(found.c.keys())})"
        )
    return found


def _check_unique(connection: Connection, name: TableName, key: Sequence[str], where: str) -> None:
    if set(key) not in tables.unique_keys(connection, name):
        raise OperatorError(
            f"{where}: upsert on ({', '.join(key)}) needs a primary key or a unique index on "
            f"exactly those columns in table {name}; without one, rows would be added twice"
        )


def _statement(
    connection: Connection, target: sa.Table, columns: Sequence[str], mode: str, key: Sequence[str]
) -> Any:
    if mode == "append":
        return sa.insert(target)
    dialect = connection.dialect.name
    others = [c for c in columns if c not in key]
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(target)
        if not others:
            return statement.on_conflict_do_nothing(index_elements=list(key))
        return statement.on_conflict_do_update(
            index_elements=list(key), set_={c: statement.excluded[c] for c in others}
        )
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        statement = mysql_insert(target)
        changed = others or list(key[:1])  # a no-op update keeps a row whose key exists
        return statement.on_duplicate_key_update({c: statement.inserted[c] for c in changed})
    raise OperatorError(
        f"upsert is not available on {dialect}: it works on PostgreSQL, MySQL, MariaDB and "
        "SQLite (use mode='replace' or 'append')"
    )


def _write(
    connection: Connection,
    statement: Any,
    columns: Sequence[str],
    chunks: Iterable[Sequence[Sequence[Any]]],
    on_chunk: Callable[[int], None] | None,
) -> Loaded:
    loaded = Loaded()
    for chunk in chunks:
        # in slices: the per-row dicts and the driver's encoded parameters then exist for one
        # slice at a time, not for the whole chunk
        for start in range(0, len(chunk), WRITE_BATCH):
            rows = [
                dict(zip(columns, row, strict=True)) for row in chunk[start : start + WRITE_BATCH]
            ]
            result = connection.execute(statement, rows)
            loaded.sent += len(rows)
            if loaded.counted is not None:
                count = result.rowcount
                loaded.counted = loaded.counted + count if count >= 0 else None
            del rows, result
        if on_chunk is not None:
            on_chunk(loaded.sent)
    return loaded


def _replace(
    connection: Connection,
    name: TableName,
    columns: Sequence[str],
    types: Sequence[sa.types.TypeEngine[Any]],
    chunks: Iterable[Sequence[Sequence[Any]]],
    key: Sequence[str],
    where: str,
    on_chunk: Callable[[int], None] | None,
) -> Loaded:
    staging = name.beside("staging")
    with _cleaned_up(connection, staging):
        with connection.begin():
            existed = tables.exists(connection, name)
            if existed:
                tables.create_like(connection, name, staging)
                _target(connection, name, columns, types, key, where)  # checks the columns
        with connection.begin():
            if existed:
                target = tables.reflect(connection, staging)
            else:
                target = tables.create(
                    connection, staging, columns, types, key, key_name=f"{name.name}_pkey"
                )
            loaded = _write(connection, sa.insert(target), columns, chunks, on_chunk)
            loaded.counted = tables.count(connection, staging)
        if loaded.counted != loaded.sent:
            raise TransferError(
                f"{where}: the staging table holds {loaded.counted} rows but {loaded.sent} were "
                f"written; {name} was left as it was"
            )
        with connection.begin():
            tables.swap_in(connection, staging, name, existed=existed, columns=columns)
    return loaded


@contextmanager
def _cleaned_up(connection: Connection, staging: TableName) -> Iterator[None]:
    """Drop the staging table when the load fails (after the swap it is gone already)."""
    try:
        yield
    except BaseException:
        if connection.in_transaction():
            connection.rollback()
        tables.drop_quietly(connection, staging)
        raise
