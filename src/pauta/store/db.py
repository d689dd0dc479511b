"""Opening the metadata database: engines, SQLite settings, and the schema check on first use.

SQLite runs in WAL mode with a 30 s busy timeout and foreign keys on. Write transactions start
with ``BEGIN IMMEDIATE`` (use :func:`writer`): a deferred transaction that reads and then writes
can fail at once with ``SQLITE_BUSY_SNAPSHOT`` instead of waiting for the other writer. WAL needs
shared memory between processes, which network file systems do not give, so a database on NFS
and friends is refused with advice instead of being slowly corrupted.

Importing this module does not import Alembic (it costs ~0.1 s): the schema version is compared
with :data:`HEAD`, a new database gets the tables at HEAD directly, and Alembic is loaded only
to migrate a database at an older revision.
"""

from __future__ import annotations

import logging
import operator
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url

from pauta.core.errors import StoreError
from pauta.core.files import create_private_file, make_private_dirs
from pauta.store import sqlitefile
from pauta.store.sqlitefile import BUSY_TIMEOUT_S, SYNCHRONOUS_MODES, check_local_disk, enable_wal
from pauta.store.tables import add_postgresql_options, metadata
from pauta.store.values import json_dumps

log = logging.getLogger("pauta.store")

HEAD = "0015"
"""The schema revision this code expects; it must equal the newest migration's revision id."""

_WRITE_OPTION = "pauta_begin"

# Serializes concurrent migrations on one PostgreSQL database (any fixed 64-bit number).
_PG_MIGRATION_LOCK = 0x70617574_61_6D67


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; plain ``postgresql://`` and ``postgres://`` mean psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in {"postgresql", "postgres"}:
        if parsed.drivername in {"postgresql", "postgres"}:
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise StoreError(
            f"unsupported database {parsed.render_as_string()!r}: pauta stores its metadata in "
            "SQLite (sqlite:///path/pauta.db) or PostgreSQL (postgresql+psycopg://user@host/db)"
        )
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, absolute; None for an in-memory database."""
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser().absolute()


def create_engine(url: str | URL, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for ``url`` with pauta's settings; the schema is not checked here.

    For a SQLite file this creates the parent folder when missing and refuses network file
    systems. ``sqlite_synchronous`` is SQLite's ``synchronous`` pragma: NORMAL survives a
    process crash, FULL also a power loss.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        add_postgresql_options()
        return sa.create_engine(parsed, pool_pre_ping=True, json_serializer=json_dumps)

    synchronous = sqlite_synchronous.upper()
    if synchronous not in SYNCHRONOUS_MODES:
        raise StoreError(
            f"SQLite synchronous mode {sqlite_synchronous!r} is not one of "
            f"{', '.join(sorted(SYNCHRONOUS_MODES))}"
        )
    path = sqlite_path(parsed)
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        "json_serializer": json_dumps,
    }
    if path is None:
        # One shared connection, or every checkout would see a different empty database.
        kwargs["poolclass"] = sa.StaticPool
    else:
        check_local_disk(path)
        try:
            make_private_dirs(path.parent)
            # SQLite gives the -wal and -shm files the database file's mode
            create_private_file(path)
        except OSError as exc:
            raise StoreError(f"cannot create the database {path}: {exc}") from exc
    engine = sa.create_engine(parsed, **kwargs)
    _install_sqlite_hooks(engine, synchronous, in_memory=path is None)
    return engine


def _install_sqlite_hooks(engine: Engine, synchronous: str, *, in_memory: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module, which would defer it to the first write.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = enable_wal(cursor)
            if not in_memory and str(mode).lower() != "wal":
                raise StoreError(
                    f"SQLite refused WAL mode for {engine.url.database} (journal mode is "
                    f"{mode!r}); pauta needs WAL for several processes to share the database"
                )
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION) == "IMMEDIATE"
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions are write transactions.

    On SQLite they begin with ``BEGIN IMMEDIATE``, taking the write lock up front (waiting up
    to the busy timeout for it); on PostgreSQL this changes nothing.
    """
    return engine.execution_options(**{_WRITE_OPTION: "IMMEDIATE"})


def current_revision(conn: Connection) -> str | None:
    """The schema revision recorded in the database; None for a database never migrated."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> bool:
    """Bring the database to :data:`HEAD` unless it is there already; True when it changed.

    The check is one query. The change runs in one write transaction (``BEGIN IMMEDIATE`` on
    SQLite, an advisory lock on PostgreSQL), so concurrent processes make it once, and a
    process killed halfway leaves the old schema intact. A database without any of pauta's
    tables gets the schema at HEAD straight from the tables (see :func:`create_at_head`); one
    at an older revision is migrated by Alembic.
    """
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return False
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        current = current_revision(conn)
        if current == HEAD:
            return False  # another process migrated while this one waited for the lock
        if current is None and not _has_pauta_tables(conn):
            create_at_head(conn)
            return True
        # Imported here, not at the top: loading Alembic costs more than everything else a
        # store needs, and it is needed only on the rare open that finds an old schema.
        from pauta.store import migrations

        migrations.run(conn)
    return True


# Alembic's own version table (``alembic.ddl.impl.DefaultImpl.version_table_impl``), so that a
# database created at HEAD reads to Alembic exactly like one it migrated there.
_ALEMBIC_VERSION = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _has_pauta_tables(conn: Connection) -> bool:
    return bool(set(sa.inspect(conn).get_table_names()) & set(metadata.tables))


def create_at_head(conn: Connection) -> None:
    """Create every table at :data:`HEAD` in an empty database, and stamp that revision.

    The same schema as running every migration (a test compares the two), without importing
    Alembic and its templates or running the migrations one by one: a new pauta home's first
    command did both, about 0.1 s of CPU here. Runs in the caller's transaction.
    """
    metadata.create_all(conn, checkfirst=False)
    _ALEMBIC_VERSION.create(conn)
    conn.execute(_ALEMBIC_VERSION.insert().values(version_num=HEAD))


class BulkStatement:
    """A statement run once per row with one ``executemany``, for large group commits.

    SQLAlchemy's own executemany path builds and converts a parameter dict per row, which
    costs more than SQLite's insert itself at 10,000 rows. This compiles the statement once
    per dialect, converts the values column by column with the column types' own converters,
    and hands the rows straight to the driver. Every value must be a ``sa.bindparam`` that the
    rows supply; ``columns`` names the columns of an INSERT.
    """

    def __init__(self, stmt: sa.Executable, columns: Sequence[str] | None = None) -> None:
        self._stmt = stmt
        self._columns = list(columns) if columns is not None else None
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        cache_key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            # for_executemany: no RETURNING of generated keys, which nobody reads here.
            c = self._stmt.compile(dialect=dialect, column_keys=self._columns, for_executemany=True)
            names = tuple(c.positiontup) if c.positional and c.positiontup else tuple(c.binds)
            converters = []
            for i, name in enumerate(names):
                if not c.binds[name].required:
                    raise TypeError(
                        f"BulkStatement takes every value from the rows; use "
                        f"sa.bindparam() instead of the literal bound as {name!r}"
                    )
                bind_type = c.binds[name].type
                proc = bind_type.dialect_impl(dialect).bind_processor(dialect)
                # Both drivers take bytes as they are; SQLAlchemy's wrapper only copies them.
                if proc is not None and not isinstance(bind_type, sa.LargeBinary):
                    converters.append((i, proc))
            getter = _row_getter(names)
            compiled = _Compiled(c.string, names, c.positional, getter, tuple(converters))
            self._compiled[cache_key] = compiled
        return compiled

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run the statement for every row (dicts keyed by bind name); rows changed in all.

        Drivers that cannot count the rows of an executemany get one statement per row.
        """
        if not rows:
            return 0
        c, params = self._params(conn.dialect, rows)
        if conn.dialect.supports_sane_multi_rowcount:
            return conn.exec_driver_sql(c.sql, params).rowcount
        return sum(conn.exec_driver_sql(c.sql, p).rowcount for p in params)

    def execute_direct(self, direct: DirectTransaction, rows: Sequence[Mapping[str, Any]]) -> int:
        """``execute`` on a :class:`DirectWriter` transaction: straight to the driver."""
        if not rows:
            return 0
        c, params = self._params(direct.dialect, rows)
        cursor = direct.cursor
        if direct.dialect.supports_sane_multi_rowcount:
            cursor.executemany(c.sql, params)
            return int(cursor.rowcount)
        changed = 0
        for p in params:
            cursor.execute(c.sql, p)
            changed += cursor.rowcount
        return changed

    def _params(
        self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[_Compiled, list[Any]]:
        c = self._compile(dialect)
        if len(rows) == 1:  # a chain's commit: converting in place beats transposing
            values = list(c.getter(rows[0]))
            for i, proc in c.converters:
                if values[i] is not None:
                    values[i] = proc(values[i])
            one = tuple(values) if c.positional else dict(zip(c.names, values, strict=True))
            return c, [one]
        params: list[Any] = list(map(c.getter, rows))
        if c.converters:
            columns: list[Any] = list(zip(*params, strict=True))
            for i, proc in c.converters:
                columns[i] = [None if v is None else proc(v) for v in columns[i]]
            params = list(zip(*columns, strict=True))
        if not c.positional:
            params = [dict(zip(c.names, p, strict=True)) for p in params]
        return c, params


@dataclass(frozen=True, slots=True)
class DirectTransaction:
    """An open write transaction of a :class:`DirectWriter`: its cursor and dialect."""

    cursor: Any
    dialect: Dialect


class DirectWriter:
    """One pooled driver connection kept for the engine's group commits.

    A group commit is the hot path of every task (a success must be durable before its
    dependents start). Through SQLAlchemy's ``Connection`` each one paid for a pool checkout
    and return, transaction events and per-statement bookkeeping, several times the cost of
    SQLite's own work; here it costs the driver's BEGIN, one ``executemany`` per statement and
    COMMIT. Statements still come compiled from SQLAlchemy for the dialect (``BulkStatement``).

    On SQLite its commits never checkpoint (that would stall the engine for milliseconds
    every few hundred tasks); every ``CHECKPOINT_AFTER_COMMITS`` commits a background thread
    folds the WAL into the database instead, so that the checkpoint left for the end of a run
    is small.

    A failed transaction is rolled back; a connection that fails otherwise (the server went
    away) is invalidated and the next transaction checks out a fresh one. Thread-safe.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._conn: Any = None  # SQLAlchemy's proxy of the driver connection
        self.integrity_error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        self._checkpoint_after = sqlitefile.CHECKPOINT_AFTER_COMMITS if self._sqlite else 0
        self._uncheckpointed = 0
        self._checkpointer: sqlitefile.Checkpointer | None = None

    @contextmanager
    def begin(self) -> Iterator[DirectTransaction]:
        """A write transaction, committed when the block ends and rolled back if it raises."""
        with self._lock:
            conn = self._conn
            if conn is None:
                conn = self._conn = self._engine.raw_connection()
                if self._sqlite:
                    # A commit that pushes the WAL past its limit would copy it into the
                    # database (and fsync) on the engine's critical path; ``checkpoint`` does
                    # that from another thread instead.
                    conn.cursor().execute("PRAGMA wal_autocheckpoint = 0").close()
            try:
                cursor = conn.cursor()
                try:
                    if self._sqlite:  # autocommit mode: BEGIN is ours to send (see _on_connect)
                        cursor.execute("BEGIN IMMEDIATE")
                    yield DirectTransaction(cursor, self._dialect)
                finally:
                    cursor.close()
                conn.commit()
            except BaseException as exc:
                self._abandon(conn, exc)
                raise
            if self._checkpoint_after:
                self._uncheckpointed += 1
                if self._uncheckpointed >= self._checkpoint_after:
                    self._uncheckpointed = 0
                    if self._checkpointer is None:
                        self._checkpointer = sqlitefile.Checkpointer(self.checkpoint)
                    self._checkpointer.request()

    def _abandon(self, conn: Any, exc: BaseException) -> None:
        dbapi = self._dialect.loaded_dbapi
        # A refused row leaves the connection sound; other driver errors may not (a server
        # that went away), and neither does a rollback that fails.
        suspect = isinstance(exc, dbapi.Error) and not isinstance(exc, dbapi.IntegrityError)
        try:
            conn.rollback()
        except Exception:
            suspect = True
        if suspect:
            self._conn = None
            with suppress(Exception):
                conn.invalidate()

    def checkpoint(self) -> None:
        """Copy the WAL into the SQLite database without blocking writers (PASSIVE), emptying
        it past ``WAL_LIMIT_BYTES`` (see ``sqlitefile.wal_checkpoint``); call it from a thread
        that is not the engine's. Nothing on PostgreSQL.
        """
        if not self._sqlite:
            return
        with self._engine.connect() as conn:
            sqlitefile.wal_checkpoint(lambda sql: conn.exec_driver_sql(sql).one())

    def close(self) -> None:
        """Return the connection to the pool, with SQLite's automatic checkpoints back on."""
        with self._lock:
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(Exception):
                    if self._sqlite:
                        conn.cursor().execute("PRAGMA wal_autocheckpoint = 1000").close()
                    conn.close()


def _row_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return operator.itemgetter(*names)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    positional: bool
    # the row's values as a tuple in bind order
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    # (position, converter) of the binds whose type converts values; None is never converted
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
