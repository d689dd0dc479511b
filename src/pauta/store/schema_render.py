"""Writes ``pauta/store/sqlite_schema.py``: the SQLite schema at HEAD, rendered from the tables.

The light store of ``pauta run`` (``pauta.store.lite``) creates and reads a SQLite database
without importing SQLAlchemy; what it knows of the tables comes from that file, which this
module renders from ``pauta.store.tables`` (a test checks that the file is current):

    python -m pauta.store.schema_render        # rewrite src/pauta/store/sqlite_schema.py
"""

from __future__ import annotations

import pprint
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from pauta.store.db import _ALEMBIC_VERSION, HEAD
from pauta.store.tables import metadata
from pauta.store.types import UTCDateTime

TARGET = Path(__file__).with_name("sqlite_schema.py")


def _kind(column: sa.Column[Any]) -> str | None:
    if isinstance(column.type, UTCDateTime):
        return "datetime"
    if isinstance(column.type, sa.types.TypeDecorator) and isinstance(column.type.impl, sa.JSON):
        return "json"
    if isinstance(column.type, sa.Boolean):
        return "bool"
    return None


def render() -> str:
    """The text of ``sqlite_schema.py`` for the tables as they are now."""
    dialect = sqlite.dialect()
    ddl: list[str] = []
    for table in [*metadata.sorted_tables, _ALEMBIC_VERSION]:
        ddl.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            ddl.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    columns = {t.name: tuple(c.name for c in t.c) for t in metadata.sorted_tables}
    kinds = {
        t.name: {c.name: kind for c in t.c if (kind := _kind(c)) is not None}
        for t in metadata.sorted_tables
    }
    defaults = {
        t.name: {
            c.name: c.default.arg
            for c in t.c
            if c.default is not None and c.default.is_scalar and not c.primary_key
        }
        for t in metadata.sorted_tables
    }
    return (
        '"""The SQLite schema at HEAD, rendered from pauta.store.tables by '
        "pauta.store.schema_render:\ndo not edit; run `python -m pauta.store.schema_render`."
        '"""\n\n'
        "# ruff: noqa: E501\n\n"
        f"HEAD = {HEAD!r}\n\n"
        "# CREATE statements of every table and index, then Alembic's version table\n"
        f"DDL = {pprint.pformat(tuple(ddl), width=100)}\n\n"
        "# every table's columns, in table order\n"
        f"COLUMNS = {pprint.pformat(columns, width=100)}\n\n"
        "# the columns whose values are converted: datetime (UTC text), json, bool\n"
        f"KINDS = {pprint.pformat(kinds, width=100)}\n\n"
        "# the values of columns an INSERT leaves out\n"
        f"DEFAULTS = {pprint.pformat(defaults, width=100)}\n"
    )


def main() -> None:
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()
