"""``transfer``: rows from a query on one database into a table on another, streamed.

The source is read with a server-side cursor in chunks of ``chunk_rows`` and each chunk is
written with one ``executemany`` before the next is read, so memory stays bounded by the chunk
whatever the size of the table (see ``pauta.operators.reading`` and ``pauta.operators.loader``).
At the end the rows read are checked against the rows written, and reported as the task's
metrics ``rows``, ``seconds`` and ``rows_per_s``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any

from pauta.definitions.task import task
from pauta.operators.errors import TransferError
from pauta.operators.progress import Moved

DEFAULT_CHUNK_ROWS = 50_000


@task(name="transfer")
def transfer(
    src_conn: Any,
    query: str,
    dst_conn: Any,
    table: str,
    *,
    mode: str = "append",
    key: str | Sequence[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Moved:
    """Copy the rows of ``query`` (run on ``src_conn``) into ``table`` on ``dst_conn``.

    ``mode``: ``"append"`` adds the rows; ``"replace"`` makes them the table's whole content
    (loaded beside it and swapped in at the end: a failure leaves the old table); ``"upsert"``
    inserts new keys and updates existing ones on ``key`` (running it twice leaves one copy).
    A missing table is created with the source's column types and ``key`` as primary key.
    Both connections are URLs, connection objects or connection names.
    """
    from pauta.operators.coltypes import column_types
    from pauta.operators.connect import sql_engine
    from pauta.operators.loader import check_mode, load
    from pauta.operators.prefetch import Prefetched
    from pauta.operators.progress import Progress
    from pauta.operators.reading import check_chunk_rows, stream

    where = "transfer"
    mode, keys = check_mode(mode, key, where)
    size = check_chunk_rows(chunk_rows, where)
    progress = Progress(f"transfer into {table}")
    read = 0
    with (
        sql_engine(src_conn) as source,
        sql_engine(dst_conn) as destination,
        source.connect() as connection,
    ):
        rows = stream(connection, query, size, where)

        ahead = Prefetched(rows.chunks, "pauta-transfer-read")

        def counted() -> Iterator[Sequence[Sequence[Any]]]:
            nonlocal read
            for chunk in ahead:
                read += len(chunk)
                yield chunk

        def types_for(first: Sequence[Sequence[Any]], dialect: str) -> Any:
            return column_types(rows.dialect, rows.description, first, dialect)

        try:
            loaded = load(
                destination,
                table,
                rows.columns,
                counted(),
                mode=mode,
                key=keys,
                types_for=types_for,
                where=where,
                on_chunk=progress.chunk,
            )
        except BaseException:
            ahead.close()
            # closing a half-read result would make MySQL drivers read the rest of it first:
            # drop the connection instead
            connection.invalidate()
            with suppress(Exception):
                rows.chunks.close()
            raise
        ahead.close()
    written = loaded.counted if loaded.counted is not None and mode == "append" else loaded.sent
    if written != read:
        raise TransferError(f"transfer: read {read} rows but {written} were written into {table}")
    return progress.done(read, table)
