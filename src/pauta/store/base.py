"""The store's connection: engines, the group-commit writer, the schema check, the file watch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pauta.core.clock import Clock, get_clock
from pauta.store import db
from pauta.store.identity import DatabaseFile

if TYPE_CHECKING:
    from pauta.core.settings import Settings


class StoreBase:
    """The connection to the metadata database that every part of the store shares.

    Opening it migrates the schema when needed (``migrate=False`` skips).

    ``url`` is a SQLAlchemy URL: ``sqlite:///path/pauta.db`` or
    ``postgresql+psycopg://user@host/db``. Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        migrate: bool = True,
        clock: Clock | None = None,
    ) -> None:
        # the time every record this store stamps, and everything above it that holds the
        # store, reads (tests hand in a FrozenClock)
        self.clock: Clock = clock or get_clock()
        self.engine: Engine = db.create_engine(url, sqlite_synchronous=sqlite_synchronous)
        self.url: str = self.engine.url.render_as_string(hide_password=False)
        self.dialect: str = self.engine.dialect.name
        # Same pool; on SQLite its transactions begin with BEGIN IMMEDIATE.
        self._writer = db.writer(self.engine)
        # Group commits keep a driver connection of their own, except where the pool has a
        # single shared one (an in-memory SQLite database).
        self._direct = (
            None if isinstance(self.engine.pool, sa.StaticPool) else db.DirectWriter(self.engine)
        )
        if migrate:
            try:
                db.ensure_schema(self.engine)
            except BaseException:
                self.engine.dispose()
                raise
        # whether writes also queue their MLflow mirror in the outbox (PAUTA_MLFLOW_TRACKING_URI)
        self.mirror: bool = False
        path = db.sqlite_path(self.engine.url) if self.dialect == "sqlite" else None
        self._file = DatabaseFile(path) if path is not None else None

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Self:
        """The store the settings name; for SQLite, the pauta home is created first."""
        if settings.database_url.startswith("sqlite"):
            settings.ensure_home()
        store = cls(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, clock=clock
        )
        store.mirror = settings.mlflow_tracking_uri is not None
        return store

    def close(self) -> None:
        """Close every pooled connection."""
        if self._direct is not None:
            self._direct.close()
        self.engine.dispose()

    def lost(self) -> str | None:
        """Why this store no longer reaches the database other processes see: its SQLite file
        was deleted or replaced since it was opened. None while it is the same (and always on
        PostgreSQL)."""
        return self._file.problem() if self._file is not None else None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def _insert(self) -> Any:
        # The dialect's own INSERT (for ON CONFLICT), imported on first use: importing the
        # PostgreSQL dialect costs a SQLite user's every command about 30 ms.
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert

    @property
    def writer(self) -> Engine:
        """The engine for write transactions (BEGIN IMMEDIATE on SQLite)."""
        return self._writer

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log into the database, without blocking writers.

        Group commits do not do it themselves (it would stall the engine every few hundred
        tasks); the heartbeat thread of each driving process calls this every second.
        """
        if self._direct is not None:
            self._direct.checkpoint()
