"""Column types shared by the tables and the migrations.

``UTCDateTime`` stores aware datetimes and always gives back aware UTC datetimes, on SQLite
(which has no time zone type: the value is stored as UTC text) and on PostgreSQL
(``timestamptz``, returned in the session's time zone and converted here). ``JSONValue`` is
JSON on SQLite and JSONB on PostgreSQL, with Python ``None`` stored as SQL NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from pauta.store.values import aware_utc, datetime_from_sqlite, datetime_to_sqlite


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in aware and comes out aware, in UTC.

    Naive datetimes are refused: the store cannot know which zone they meant, and guessing
    is how schedules end up an hour off. Use ``pauta.core.clock.utcnow()``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    # On SQLite the whole conversion is replaced, not layered over SQLAlchemy's (string
    # formatting and a regular expression per value, ~10 us): a group commit converts tens of
    # thousands of timestamps. The stored text is the same.
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return datetime_to_sqlite
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return datetime_from_sqlite
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else aware_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _JSONValue(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL; ``None`` is stored as SQL NULL.

    A decorator rather than ``JSON().with_variant(JSONB(), "postgresql")``, which needs the
    PostgreSQL dialect imported (with asyncio and its drivers' modules, about 30 ms of every
    command's start) even where the database is SQLite.
    """

    impl = JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))


def JSONValue() -> TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL; ``None`` is stored as SQL NULL."""
    return _JSONValue()
