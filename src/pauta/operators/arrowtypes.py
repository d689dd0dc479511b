"""Column types between SQL and Arrow (Parquet): SQLAlchemy types to Arrow types for
``sql_to_parquet``, and back for ``parquet_to_sql`` when it creates the table.

Values that Arrow has no type for travel as text: JSON as its JSON text, UUIDs in their usual
form.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

Convert = Callable[[Any], Any] | None
_DEFAULT_SCALE = 9


def _json(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _scale(values: Sequence[Any]) -> int:
    """The largest number of decimals among ``values`` (a decimal column with none declared)."""
    found = [
        -v.as_tuple().exponent  # type: ignore[operator]
        for v in values
        if isinstance(v, decimal.Decimal) and v.is_finite()
    ]
    return max([s for s in found if s > 0], default=_DEFAULT_SCALE)


def to_arrow(kind: sa.types.TypeEngine[Any], sample: Sequence[Any]) -> tuple[pa.DataType, Convert]:
    """The Arrow type of a SQL column, and how to turn its values into ones Arrow takes."""
    if isinstance(kind, sa.Boolean):
        return pa.bool_(), None
    if isinstance(kind, sa.SmallInteger):
        return pa.int16(), None
    if isinstance(kind, sa.BigInteger):
        return pa.int64(), None
    if isinstance(kind, sa.Integer):
        return pa.int32(), None
    if isinstance(kind, sa.REAL):
        return pa.float32(), None
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        precision, scale = kind.precision, kind.scale
        if precision is None:
            return pa.decimal128(38, _scale(sample)), None
        scale = scale or 0
        if precision <= 38:
            return pa.decimal128(precision, scale), None
        return pa.decimal256(min(precision, 76), scale), None
    if isinstance(kind, sa.Float):
        return pa.float64(), None
    if isinstance(kind, sa.LargeBinary | sa.VARBINARY):
        return pa.binary(), None
    if isinstance(kind, sa.DateTime):
        return (pa.timestamp("us", tz="UTC") if kind.timezone else pa.timestamp("us")), None
    if isinstance(kind, sa.Date):
        return pa.date32(), None
    if isinstance(kind, sa.Time):
        return pa.time64("us"), None
    if isinstance(kind, sa.Interval):
        return pa.duration("us"), None
    if isinstance(kind, sa.JSON):
        return pa.string(), _json
    return pa.string(), _text


def from_arrow(kind: pa.DataType) -> sa.types.TypeEngine[Any]:
    """The SQL type a table pauta creates gets for an Arrow column."""
    t = pa.types
    if t.is_boolean(kind):
        return sa.Boolean()
    if t.is_int8(kind) or t.is_int16(kind) or t.is_uint8(kind):
        return sa.SmallInteger()
    if t.is_int32(kind) or t.is_uint16(kind):
        return sa.Integer()
    if t.is_integer(kind):
        return sa.BigInteger()
    if t.is_float16(kind) or t.is_float32(kind):
        return sa.REAL()
    if t.is_floating(kind):
        return sa.Double()
    if t.is_decimal(kind):
        return sa.Numeric(kind.precision, kind.scale)
    if t.is_timestamp(kind):
        return sa.DateTime(timezone=kind.tz is not None)
    if t.is_date(kind):
        return sa.Date()
    if t.is_time(kind):
        return sa.Time()
    if t.is_duration(kind):
        return sa.Interval()
    if t.is_binary(kind) or t.is_large_binary(kind) or t.is_fixed_size_binary(kind):
        return sa.LargeBinary()
    if t.is_dictionary(kind):
        return from_arrow(kind.value_type)
    return sa.Text()


def python_value(value: Any) -> Any:
    """A value read from Arrow, as the database driver takes it."""
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta | decimal.Decimal):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
