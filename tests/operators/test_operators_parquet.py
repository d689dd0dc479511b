"""``sql_to_parquet`` and ``parquet_to_sql``: rows to Parquet row groups in a local folder and
on a real S3 server, and back with equal row counts and values; no partial file on failure."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq
import pytest

from pauta.operators import OperatorError, parquet_to_sql, sql, sql_script, sql_to_parquet

ROWS = 5000


def _events(url: str, rows: int = ROWS) -> None:
    binary, moment = "BLOB", "TIMESTAMP"
    if url.startswith("postgresql"):
        binary = "BYTEA"
    elif url.startswith("mysql"):
        moment = "DATETIME"  # a MariaDB TIMESTAMP changes itself on update
    sql_script(
        url,
        f"CREATE TABLE events (id INTEGER PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12, 2), "
        f"ratio DOUBLE PRECISION, day DATE, at {moment}, raw {binary}, note TEXT)",
    )
    sql(
        url,
        "INSERT INTO events VALUES (:id, :name, :amount, :ratio, :day, :at, :raw, :note)",
        [
            {
                "id": i,
                "name": f"event-{i}",
                "amount": str(decimal.Decimal(i) / 100),  # text: SQLite's driver takes no Decimal
                "ratio": i / 7,
                "day": dt.date(2026, 1, 1) + dt.timedelta(days=i % 365),
                "at": dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i),
                "raw": bytes([i % 256]),
                "note": None if i % 10 == 0 else f"note {i}",
            }
            for i in range(1, rows + 1)
        ],
    )


def _summary(url: str, table: str = "events") -> dict[str, Any]:
    """Figures that change if any row is lost, doubled or altered."""
    [row] = sql(
        url,
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids, SUM(amount) AS amount, "
        f"SUM(ratio) AS ratio, MIN(day) AS first_day, MAX(at) AS last_at, COUNT(note) AS notes "
        f"FROM {table}",
    )
    row["amount"] = decimal.Decimal(row["amount"]).quantize(decimal.Decimal("0.01"))
    row["ratio"] = round(float(row["ratio"]), 6)
    row["first_day"] = str(row["first_day"])[:10]
    row["last_at"] = str(row["last_at"])[:19]
    return row


def _one(url: str, key: int = 42) -> dict[str, Any]:
    [row] = sql(url, "SELECT id, name, amount, raw, note FROM events WHERE id = :id", {"id": key})
    row["amount"] = decimal.Decimal(row["amount"])
    row["raw"] = bytes(row["raw"])
    return row


@pytest.fixture
def sqlite_events(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    _events(url)
    return url


def test_rows_to_a_local_folder_and_back(sqlite_events: str, tmp_path: Path) -> None:
    target = tmp_path / "exports" / "day=1" / "events.parquet"
    moved = sql_to_parquet(sqlite_events, "SELECT * FROM events", str(target), chunk_rows=1000)
    assert moved.rows == ROWS
    found = pq.ParquetFile(target)
    assert found.metadata.num_rows == ROWS
    assert found.num_row_groups == 5  # one per chunk
    back = f"sqlite:///{tmp_path / 'back.db'}"
    folder = str(tmp_path / "exports")
    loaded = parquet_to_sql(folder, back, "events", mode="replace", chunk_rows=700)
    assert loaded.rows == ROWS
    assert _summary(back) == _summary(sqlite_events)
    assert _one(back) == _one(sqlite_events)


@pytest.mark.postgres
def test_mariadb_to_s3_and_into_postgres(mariadb_url: str, pg_url: str, bucket: str) -> None:
    _events(mariadb_url)
    url = f"{bucket}/warehouse/events.parquet"
    assert sql_to_parquet(mariadb_url, "SELECT * FROM events", url, chunk_rows=2000).rows == ROWS
    with fsspec.open(url, "rb") as handle:
        found = pq.ParquetFile(handle)
        assert (found.metadata.num_rows, found.num_row_groups) == (ROWS, 3)
        schema = found.schema_arrow
    assert str(schema.field("amount").type).startswith("decimal128(")
    assert str(schema.field("at").type) == "timestamp[us]"
    for _ in range(2):  # an upsert twice leaves one copy
        loaded = parquet_to_sql(url, pg_url, "events", mode="upsert", key="id", chunk_rows=1500)
        assert loaded.rows == ROWS
    assert _summary(pg_url) == _summary(mariadb_url)
    assert _one(pg_url) == _one(mariadb_url)


@pytest.mark.postgres
def test_postgres_to_s3_and_back_into_mariadb(pg_url: str, mariadb_url: str, bucket: str) -> None:
    _events(pg_url)
    url = f"{bucket}/events.parquet"
    sql_to_parquet(pg_url, "SELECT * FROM events WHERE id <= 3000", url, chunk_rows=1000)
    assert parquet_to_sql(url, mariadb_url, "events", key="id").rows == 3000
    assert sql(mariadb_url, "SELECT COUNT(*) AS n, MAX(id) AS top FROM events") == [
        {"n": 3000, "top": 3000}
    ]
    assert _one(mariadb_url) == _one(pg_url)


def test_a_failing_query_leaves_no_file(sqlite_events: str, tmp_path: Path, bucket: str) -> None:
    for url in (str(tmp_path / "out" / "events.parquet"), f"{bucket}/out/events.parquet"):
        with pytest.raises(Exception, match="no such column"):
            sql_to_parquet(sqlite_events, "SELECT nope FROM events", url)
        assert not fsspec.filesystem(url.split("://")[0] if "://" in url else "file").exists(url)


def test_a_folder_of_files_and_a_glob_load_every_file(sqlite_events: str, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    for low in (0, 2000, 4000):
        query = f"SELECT * FROM events WHERE id > {low} AND id <= {low + 2000}"
        sql_to_parquet(sqlite_events, query, str(parts / f"part-{low}.parquet"))
    (parts / "README.txt").write_text("not a parquet file")
    into = f"sqlite:///{tmp_path / 'parts.db'}"
    assert parquet_to_sql(str(parts), into, "events", key="id").rows == ROWS
    assert _summary(into) == _summary(sqlite_events)
    glob = str(parts / "part-[02]*.parquet")
    assert parquet_to_sql(glob, into, "some", key="id").rows == 4000


def test_an_empty_result_writes_the_columns_only(sqlite_events: str, tmp_path: Path) -> None:
    url = str(tmp_path / "empty.parquet")
    assert sql_to_parquet(sqlite_events, "SELECT id, name FROM events WHERE id < 0", url).rows == 0
    found = pq.ParquetFile(url)
    assert (found.metadata.num_rows, found.schema_arrow.names) == (0, ["id", "name"])
    into = f"sqlite:///{tmp_path / 'empty.db'}"
    assert parquet_to_sql(url, into, "empty_copy").rows == 0
    assert sql(into, "SELECT COUNT(*) AS n FROM empty_copy") == [{"n": 0}]


def test_files_with_other_columns_are_refused(sqlite_events: str, tmp_path: Path) -> None:
    sql_to_parquet(sqlite_events, "SELECT id, name FROM events", str(tmp_path / "m" / "a.parquet"))
    sql_to_parquet(sqlite_events, "SELECT id, note FROM events", str(tmp_path / "m" / "b.parquet"))
    into = f"sqlite:///{tmp_path / 'mixed.db'}"
    with pytest.raises(OperatorError, match=r"has the columns \['id', 'note'\]"):
        parquet_to_sql(str(tmp_path / "m"), into, "mixed")


@pytest.mark.parametrize(
    ("url", "message"),
    [("/no/such/place.parquet", "does not exist"), ("", "give a path or a URL")],
)
def test_missing_files_are_named(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        parquet_to_sql(url, f"sqlite:///{tmp_path / 'x.db'}", "x")
