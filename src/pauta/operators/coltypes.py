"""The column types of a destination table that pauta creates, from what the source says.

A query's cursor describes each column with a driver-specific code: MySQL/MariaDB field types
(pymysql, mysqlclient), PostgreSQL type OIDs (psycopg, psycopg2). Those become portable
SQLAlchemy types, which each destination dialect writes in its own SQL. Where the code does not
settle it (SQLite gives none; MySQL's BLOB code is both TEXT and BLOB) the first non-null value
of the column in the first chunk does, and a column with no value at all becomes text.
Integers are widened where the code cannot tell signed from unsigned, so values always fit.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

# A string type longer than this is made TEXT (MySQL limits a row's VARCHARs to 64 KiB).
_LONGEST_VARCHAR = 16383

_MYSQL_FIXED: dict[int, Any] = {
    1: sa.SmallInteger,  # TINY (tinyint(1) too: its 0/1 fit)
    4: sa.REAL,  # FLOAT
    5: sa.Double,  # DOUBLE
    7: sa.DateTime,  # TIMESTAMP
    8: sa.BigInteger,  # LONGLONG
    9: sa.Integer,  # INT24 (mediumint, unsigned too)
    10: sa.Date,  # DATE
    12: sa.DateTime,  # DATETIME
    13: sa.SmallInteger,  # YEAR
    14: sa.Date,  # NEWDATE
    16: sa.LargeBinary,  # BIT
    245: sa.Text,  # JSON: the driver gives text
    255: sa.LargeBinary,  # GEOMETRY
}
_MYSQL_STRINGS = {15, 253, 254, 247, 248}  # VARCHAR, VAR_STRING, STRING, ENUM, SET
_MYSQL_BLOBS = {249, 250, 251, 252}  # TINY/MEDIUM/LONG/BLOB: TEXT or BLOB by collation

_PG_BY_NAME: dict[str, Any] = {
    "bool": sa.Boolean,
    "int2": sa.SmallInteger,
    "int4": sa.Integer,
    "int8": sa.BigInteger,
    "oid": sa.BigInteger,
    "float4": sa.REAL,
    "float8": sa.Double,
    "text": sa.Text,
    "name": sa.Text,
    "bytea": sa.LargeBinary,
    "date": sa.Date,
    "time": sa.Time,
    "timestamp": sa.DateTime,
    "interval": sa.Interval,
    "json": sa.JSON,
    "jsonb": sa.JSON,
    "uuid": sa.Uuid,
}
_PG_OIDS = {
    16: "bool", 17: "bytea", 19: "name", 20: "int8", 21: "int2", 23: "int4", 25: "text",
    26: "oid", 114: "json", 700: "float4", 701: "float8", 1042: "bpchar", 1043: "varchar",
    1082: "date", 1083: "time", 1114: "timestamp", 1184: "timestamptz", 1186: "interval",
    1266: "timetz", 1700: "numeric", 2950: "uuid", 3802: "jsonb",
}  # fmt: skip
_LENGTH = re.compile(r"\((\d+)\)")


def column_types(
    dialect: str,
    description: Sequence[Any],
    sample: Sequence[Sequence[Any]],
    destination: str,
) -> list[sa.types.TypeEngine[Any]]:
    """One SQLAlchemy type per described column, for a table on the ``destination`` dialect."""
    types = []
    for index, entry in enumerate(description):
        value = next((row[index] for row in sample if row[index] is not None), None)
        found = None
        code = entry[1] if len(entry) > 1 else None
        if isinstance(code, int) and dialect in ("mysql", "mariadb"):
            found = _from_mysql(code, entry, value, destination)
        elif isinstance(code, int) and dialect == "postgresql":
            found = _from_postgres(code, entry)
        types.append(found if found is not None else from_value(value, destination))
    return types


def _from_mysql(code: int, entry: Sequence[Any], value: Any, destination: str) -> Any:
    size = entry[3] if len(entry) > 3 and isinstance(entry[3], int) else None
    scale = entry[5] if len(entry) > 5 and isinstance(entry[5], int) else 0
    if code in (0, 246):  # DECIMAL: the display size counts the point (and the sign)
        if size is None:
            return sa.Numeric()
        return sa.Numeric(min(max(size - (1 if scale else 0), scale + 1), 65), scale)
    if code == 2:  # SHORT: signed ones show 6 characters (-32768), unsigned 5 (65535)
        return sa.SmallInteger() if size is not None and size >= 6 else sa.Integer()
    if code == 3:  # LONG: signed 11 characters, unsigned 10 (up to 4294967295)
        return sa.Integer() if size is not None and size >= 11 else sa.BigInteger()
    if code == 11:  # TIME: the driver gives a timedelta, which only MySQL stores as a time
        return sa.Time() if destination in ("mysql", "mariadb") else sa.Interval()
    if code in _MYSQL_FIXED:
        return _MYSQL_FIXED[code]()
    if code in _MYSQL_STRINGS:
        if isinstance(value, bytes):
            return sa.LargeBinary()
        return _string(size, destination)
    if code in _MYSQL_BLOBS:
        return sa.LargeBinary() if isinstance(value, bytes) else sa.Text()
    return None


def _from_postgres(code: int, entry: Any) -> Any:
    name = _PG_OIDS.get(code)
    display = getattr(entry, "type_display", None) or ""
    if name is None:
        return None
    if name in ("varchar", "bpchar"):
        found = _LENGTH.search(display)
        kind = sa.String if name == "varchar" else sa.CHAR
        return kind(int(found.group(1))) if found else sa.Text()
    if name == "numeric":
        precision = getattr(entry, "precision", None)
        scale = getattr(entry, "scale", None)
        return sa.Numeric(precision, scale) if precision else sa.Numeric()
    if name == "timestamptz":
        return sa.DateTime(timezone=True)
    if name == "timetz":
        return sa.Time(timezone=True)
    return _PG_BY_NAME[name]()


def _string(size: int | None, destination: str) -> Any:
    if size is None or size > _LONGEST_VARCHAR:
        return sa.Text()
    return sa.String(max(size, 1))


def from_value(value: Any, destination: str) -> sa.types.TypeEngine[Any]:
    """The type that holds ``value`` (None: text)."""
    if isinstance(value, bool):
        return sa.Boolean()
    if isinstance(value, int):
        return sa.BigInteger()
    if isinstance(value, float):
        return sa.Double()
    if isinstance(value, decimal.Decimal):
        return sa.Numeric()
    if isinstance(value, bytes | bytearray | memoryview):
        return sa.LargeBinary()
    if isinstance(value, dt.datetime):
        return sa.DateTime(timezone=value.tzinfo is not None)
    if isinstance(value, dt.date):
        return sa.Date()
    if isinstance(value, dt.time):
        return sa.Time(timezone=value.tzinfo is not None)
    if isinstance(value, dt.timedelta):
        return sa.Time() if destination in ("mysql", "mariadb") else sa.Interval()
    if isinstance(value, uuid.UUID):
        return sa.Uuid()
    if isinstance(value, dict | list):
        return sa.JSON()
    return sa.Text()


def keyable(kind: sa.types.TypeEngine[Any], destination: str) -> sa.types.TypeEngine[Any]:
    """``kind`` made usable in a primary key: MySQL/MariaDB index no TEXT or BLOB whole."""
    if destination not in ("mysql", "mariadb"):
        return kind
    if isinstance(kind, sa.Text):
        return sa.String(255)
    if isinstance(kind, sa.LargeBinary):
        return sa.VARBINARY(255)
    return kind
