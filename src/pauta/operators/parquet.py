"""``sql_to_parquet`` and ``parquet_to_sql``: rows between a database and Parquet files at any
fsspec URL (a local path, ``s3://bucket/key``...), in row groups.

Writing, each chunk of ``chunk_rows`` rows read from the query (through a server-side cursor)
becomes one row group, and the file appears whole only at the end. Reading, the files are read
one batch of ``chunk_rows`` rows at a time and loaded like ``transfer`` loads (``append``,
``replace``, ``upsert``). Either way memory stays bounded by a chunk, and the row counts are
checked and reported as the task's metrics ``rows``, ``seconds`` and ``rows_per_s``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pauta.definitions.task import task
from pauta.operators.errors import OperatorError, TransferError
from pauta.operators.progress import Moved

DEFAULT_CHUNK_ROWS = 50_000


def _need_pyarrow(where: str) -> None:
    try:
        import pyarrow  # noqa: F401
    except ModuleNotFoundError:
        raise OperatorError(
            f"{where} needs pyarrow, which is not installed: pip install 'pauta[parquet]'"
        ) from None


def _schema(rows: Any, sample: Sequence[Sequence[Any]]) -> tuple[Any, list[Any]]:
    """The Arrow schema of a query's rows (types from the source, read with ``sample``), and
    how to convert each column's values."""
    import pyarrow as pa

    from pauta.operators.arrowtypes import to_arrow
    from pauta.operators.coltypes import column_types

    kinds = column_types(rows.dialect, rows.description, sample, "parquet")
    columns = list(zip(*sample, strict=True)) if sample else [[] for _ in kinds]
    typed = [to_arrow(kind, values) for kind, values in zip(kinds, columns, strict=True)]
    fields = [pa.field(name, kind) for name, (kind, _) in zip(rows.columns, typed, strict=True)]
    return pa.schema(fields), [convert for _, convert in typed]


def _table(chunk: Sequence[Sequence[Any]], schema: Any, converts: list[Any]) -> Any:
    """One chunk of rows as an Arrow table (a row group of the file)."""
    import pyarrow as pa

    arrays = []
    for values, convert, field in zip(zip(*chunk, strict=True), converts, schema, strict=True):
        items = values if convert is None else [convert(v) for v in values]
        arrays.append(pa.array(items, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


@task(name="sql_to_parquet")
def sql_to_parquet(
    conn: Any, query: str, url: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Moved:
    """Write the rows of ``query`` (run on ``conn``) to the Parquet file at ``url``, one row
    group per ``chunk_rows`` rows; column types follow the source's."""
    _need_pyarrow("sql_to_parquet")
    import pyarrow.parquet as pq

    from pauta.operators.connect import sql_engine
    from pauta.operators.progress import Progress
    from pauta.operators.reading import check_chunk_rows, stream
    from pauta.operators.storage import write_atomically

    where = "sql_to_parquet"
    size = check_chunk_rows(chunk_rows, where)
    progress = Progress(f"sql_to_parquet into {url}")
    written = 0
    with (
        sql_engine(conn) as engine,
        engine.connect() as connection,
        write_atomically(url, where) as handle,
    ):
        rows = stream(connection, query, size, where)
        writer = None
        try:
            for chunk in rows.chunks:
                if writer is None:
                    schema, converts = _schema(rows, chunk)
                    writer = pq.ParquetWriter(handle, schema)
                writer.write_table(_table(chunk, schema, converts))
                written += len(chunk)
                progress.chunk(written)
            if writer is None:  # no rows: a file with the columns and no row group
                writer = pq.ParquetWriter(handle, _schema(rows, [])[0])
        finally:
            if writer is not None:
                writer.close()
    return progress.done(written, url)


@task(name="parquet_to_sql")
def parquet_to_sql(
    url: str,
    conn: Any,
    table: str,
    *,
    mode: str = "append",
    key: str | Sequence[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Moved:
    """Load the Parquet file at ``url`` (or every ``.parquet`` file of a folder, or a glob's
    matches) into ``table`` on ``conn``; ``mode`` and ``key`` as for ``transfer``."""
    _need_pyarrow("parquet_to_sql")
    import pyarrow.parquet as pq

    from pauta.operators.arrowtypes import from_arrow
    from pauta.operators.connect import sql_engine
    from pauta.operators.loader import check_mode, load
    from pauta.operators.progress import Progress
    from pauta.operators.reading import check_chunk_rows
    from pauta.operators.storage import expand

    where = "parquet_to_sql"
    mode, keys = check_mode(mode, key, where)
    size = check_chunk_rows(chunk_rows, where)
    fs, paths = expand(url, where, ".parquet")
    with fs.open(paths[0], "rb") as first:
        schema = pq.ParquetFile(first).schema_arrow
    expected = 0
    for path in paths:
        with fs.open(path, "rb") as handle:
            found = pq.ParquetFile(handle)
            if found.schema_arrow.names != schema.names:
                raise TransferError(
                    f"{where}: {path} has the columns {found.schema_arrow.names}, but "
                    f"{paths[0]} has {schema.names}"
                )
            expected += found.metadata.num_rows
    read = 0

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        nonlocal read
        for path in paths:
            with fs.open(path, "rb") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=size):
                    columns = [column.to_pylist() for column in batch.columns]
                    rows = list(zip(*columns, strict=True))
                    del columns
                    read += len(rows)
                    yield rows

    def types_for(first: Sequence[Sequence[Any]], dialect: str) -> Any:
        return [from_arrow(field.type) for field in schema]

    progress = Progress(f"parquet_to_sql into {table}")
    with sql_engine(conn) as engine:
        loaded = load(
            engine,
            table,
            schema.names,
            chunks(),
            mode=mode,
            key=keys,
            types_for=types_for,
            where=where,
            on_chunk=progress.chunk,
        )
    written = loaded.counted if loaded.counted is not None and mode == "append" else loaded.sent
    if not read == written == expected:
        raise TransferError(
            f"{where}: the files hold {expected} rows; {read} were read and {written} written"
        )
    return progress.done(read, table)
