"""Reading a query's rows in chunks through a server-side cursor.

``stream_results`` makes the driver fetch rows as they are consumed (psycopg: a named cursor;
pymysql and mysqlclient: an unbuffered cursor) instead of the whole result at once, and a row
buffer of ``chunk_rows`` keeps at most about one chunk in Python: memory stays bounded by
``chunk_rows``, whatever the size of the result.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pauta.operators.errors import OperatorError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


_BUFFER_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Stream:
    """An open query: its column names, the cursor's description, and the chunks to come."""

    columns: list[str]
    description: Sequence[Any]
    dialect: str
    chunks: Generator[list[Sequence[Any]], None, None]


def check_chunk_rows(chunk_rows: Any, where: str) -> int:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise OperatorError(f"{where}: chunk_rows must be a whole number >= 1, got {chunk_rows!r}")
    return chunk_rows


def stream(connection: Connection, query: str, chunk_rows: int, where: str) -> Stream:
    """Run ``query`` on ``connection`` and stream its rows in lists of ``chunk_rows``."""
    import sqlalchemy as sa

    if not isinstance(query, str) or not query.strip():
        raise OperatorError(f"{where}: give the query as a non-empty string")
    # rows come from the driver in small batches, gathered into chunks: no second chunk-sized
    # buffer in between
    buffer = min(chunk_rows, _BUFFER_ROWS)
    streaming = connection.execution_options(stream_results=True, max_row_buffer=buffer)
    result = streaming.execute(sa.text(query))
    if not result.returns_rows:
        raise OperatorError(f"{where}: the query returns no rows (it must be a SELECT)")
    columns = list(result.keys())
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise OperatorError(
            f"{where}: the query returns more than one column named {', '.join(duplicated)}: "
            "give each a name of its own (SELECT a.id AS a_id, b.id AS b_id ...)"
        )
    description = tuple(result.cursor.description or ()) if result.cursor is not None else ()

    def chunks() -> Generator[list[Sequence[Any]], None, None]:
        try:
            yield from result.partitions(chunk_rows)  # type: ignore[misc]
        finally:
            result.close()

    return Stream(columns, description, connection.dialect.name, chunks())
