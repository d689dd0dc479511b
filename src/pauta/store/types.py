"""Column types shared by the tables and the migrations.

``UTCDateTime`` stores aware datetimes and always gives back aware UTC datetimes, on SQLite
(which has no time zone type: the value is stored as UTC text) and on PostgreSQL
(``timestamptz``, returned in the session's time zone and converted here). ``JSONValue`` is
JSON on SQLite and JSONB on PostgreSQL, with Python ``None`` stored as SQL NULL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} given to the store; pass a timezone-aware "
            "datetime (pauta.core.clock.utcnow() gives one)"
        )
    return value.astimezone(UTC)


def _sqlite_bind(value: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DATETIME writes, "2026-01-31 03:00:00.000000": UTC without
    # an offset, so that ORDER BY on the text is chronological.
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = _aware_utc(value)
    return value.isoformat(" ", "microseconds")[:26]


def _sqlite_result(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


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
            return _sqlite_bind
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_result
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _aware_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _make_encoder() -> Callable[[Any, int], Any] | None:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(  # type: ignore[no-any-return]
        None,  # no circular-reference markers
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )


# json.dumps builds a new C encoder on every call, which is most of its cost for the small
# values a group commit writes by the thousands; this one is built once.
_ENCODER = _make_encoder()


def json_dumps(value: Any) -> str:
    """``value`` as JSON text, exactly as ``json.dumps`` writes it (without its check for
    circular references), several times faster for small values."""
    if _ENCODER is None:
        return json.dumps(value)
    return "".join(_ENCODER(value, 0))


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
