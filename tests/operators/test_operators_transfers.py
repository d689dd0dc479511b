"""``transfer`` between real databases: a 200,000-row MariaDB table into PostgreSQL in bounded
memory, upsert twice leaving one copy, a failed replace leaving the old table, each mode on
each destination, tables created from the source's types, metrics in a flow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import transfer_flows as tf

from pauta.core.states import FlowRunState
from pauta.engine.runner import Runner
from pauta.operators import OperatorError, sql, sql_script, transfer
from pauta.store.repository import Store

HERE = Path(__file__).parent
ROWS = 200_000
PAD = 800  # bytes of filler per row, so the table is large next to the process


def _people(url: str, rows: list[tuple[int, str]]) -> None:
    sql_script(url, "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL)")
    if rows:
        sql(
            url,
            "INSERT INTO people (id, name) VALUES (:id, :name)",
            [{"id": i, "name": n} for i, n in rows],
        )


def _all(url: str, table: str = "people") -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in sql(url, f"SELECT * FROM {table} ORDER BY id")]


def _helper_tables(url: str) -> list[str]:
    if url.startswith("postgresql"):
        query = "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE '%%pauta%%'"
    elif url.startswith("mysql"):
        query = (
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name LIKE '%pauta%'"
        )
    else:
        query = "SELECT name FROM sqlite_master WHERE name LIKE '%pauta%'"
    return [r["name"] for r in sql(url, query.replace("%%", "%"))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"])
def dst_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A destination database on SQLite, PostgreSQL and MariaDB in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dst.db'}"
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(request.getfixturevalue("mariadb_url"))


@pytest.fixture
def src_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'src.db'}"
    _people(url, [(1, "Ana"), (2, "Bo"), (3, "Cy")])
    return url


# -- the large one ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_a_large_table_moves_in_bounded_memory_and_an_upsert_rerun_leaves_one_copy(
    mariadb_url: str, pg_url: str
) -> None:
    sql_script(
        mariadb_url,
        f"""
        CREATE TABLE events (id INT PRIMARY KEY, name VARCHAR(40), pad VARCHAR({PAD}));
        INSERT INTO events SELECT seq, CONCAT('event-', seq), REPEAT('x', {PAD})
        FROM seq_1_to_{ROWS};
        """,
    )
    data_kib = ROWS * (PAD + 20) // 1024  # what the rows hold, before any Python overhead
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(HERE / "bigcopy.py"), mariadb_url, pg_url, "5000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["rows"] == [ROWS, ROWS]
    grown = figures["peak_kib"] - figures["baseline_kib"]
    # the rows are ~160 MiB; fetched whole they would cost more than that in Python
    assert grown < data_kib / 6, f"peak grew by {grown} KiB moving {data_kib} KiB of rows"
    [counts] = sql(
        pg_url,
        "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids, SUM(LENGTH(pad)) AS pad FROM events",
    )
    assert (counts["n"], counts["ids"], counts["pad"]) == (ROWS, ROWS, ROWS * PAD)
    assert sql(pg_url, "SELECT id, name FROM events WHERE id IN (1, 200000) ORDER BY id") == [
        {"id": 1, "name": "event-1"},
        {"id": ROWS, "name": f"event-{ROWS}"},
    ]


# -- replace: a failure leaves the old table ------------------------------------------------------


@pytest.mark.postgres
def test_a_replace_whose_query_fails_mid_stream_leaves_the_old_table(
    mariadb_url: str, pg_url: str
) -> None:
    _people(pg_url, [(1, "old")])
    sql_script(
        mariadb_url,
        """
        CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(100));
        INSERT INTO people SELECT seq, CONCAT('new-', seq) FROM seq_1_to_30000;
        """,
    )
    # a function that fails on one row: the server has sent the rows before it by then
    sql(
        mariadb_url,
        "CREATE FUNCTION checked(x INT) RETURNS INT DETERMINISTIC BEGIN "
        "IF x = 25000 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'row 25000 is bad'; "
        "END IF; RETURN x; END",
    )
    with pytest.raises(Exception, match="row 25000 is bad"):
        transfer(
            mariadb_url,
            "SELECT checked(id) AS id, name FROM people",
            pg_url,
            "people",
            mode="replace",
            chunk_rows=2000,
        )
    assert _all(pg_url) == [(1, "old")]
    assert _helper_tables(pg_url) == []


def test_a_replace_with_a_bad_row_leaves_the_old_table(dst_url: str, tmp_path: Path) -> None:
    _people(dst_url, [(1, "old"), (2, "older")])
    src = f"sqlite:///{tmp_path / 'bad.db'}"
    sql_script(src, "CREATE TABLE people (id INTEGER, name TEXT)")
    rows = [{"id": i, "name": f"new-{i}"} for i in range(1, 5001)]
    rows[4000]["name"] = None  # the destination's name is NOT NULL
    sql(src, "INSERT INTO people VALUES (:id, :name)", rows)
    with pytest.raises(Exception, match=r"(?i)null"):
        transfer(
            src, "SELECT id, name FROM people", dst_url, "people", mode="replace", chunk_rows=1000
        )
    assert _all(dst_url) == [(1, "old"), (2, "older")]
    assert _helper_tables(dst_url) == []


def test_replace_swaps_in_the_new_rows_and_keeps_the_table(dst_url: str, src_url: str) -> None:
    _people(dst_url, [(9, "gone")])
    moved = transfer(src_url, "SELECT id, name FROM people", dst_url, "people", mode="replace")
    assert moved.rows == 3
    assert _all(dst_url) == [(1, "Ana"), (2, "Bo"), (3, "Cy")]
    # the primary key is still there: a duplicate is refused
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        sql(dst_url, "INSERT INTO people (id, name) VALUES (1, 'twin')")
    assert _helper_tables(dst_url) == []
    # into a table that does not exist yet
    transfer(src_url, "SELECT id, name FROM people", dst_url, "fresh", mode="replace", key="id")
    assert _all(dst_url, "fresh") == [(1, "Ana"), (2, "Bo"), (3, "Cy")]


# -- append and upsert --------------------------------------------------------------------------


def test_append_adds_rows_and_a_failure_adds_none(dst_url: str, src_url: str) -> None:
    transfer(src_url, "SELECT id, name FROM people WHERE id < 3", dst_url, "people", key="id")
    assert _all(dst_url) == [(1, "Ana"), (2, "Bo")]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        # row 3 is new but rows 1 and 2 clash: the whole append is rolled back
        transfer(
            src_url, "SELECT id, name FROM people ORDER BY id DESC", dst_url, "people", chunk_rows=1
        )
    assert _all(dst_url) == [(1, "Ana"), (2, "Bo")]


def test_upsert_twice_leaves_one_copy_with_the_new_values(dst_url: str, src_url: str) -> None:
    for _ in range(2):
        moved = transfer(
            src_url, "SELECT id, name FROM people", dst_url, "people", mode="upsert", key="id"
        )
        assert moved.rows == 3
    assert _all(dst_url) == [(1, "Ana"), (2, "Bo"), (3, "Cy")]
    sql(src_url, "UPDATE people SET name = 'Bea' WHERE id = 2")
    sql(src_url, "INSERT INTO people VALUES (4, 'Di')")
    transfer(src_url, "SELECT id, name FROM people", dst_url, "people", mode="upsert", key=["id"])
    assert _all(dst_url) == [(1, "Ana"), (2, "Bea"), (3, "Cy"), (4, "Di")]


def test_upsert_on_a_composite_key_and_on_key_columns_only(dst_url: str, tmp_path: Path) -> None:
    src = f"sqlite:///{tmp_path / 'scores.db'}"
    sql_script(src, "CREATE TABLE scores (day TEXT, model TEXT, score REAL)")
    sql(src, "INSERT INTO scores VALUES ('mon', 'a', 0.5), ('mon', 'b', 0.7), ('tue', 'a', 0.6)")
    for _ in range(2):
        transfer(
            src,
            "SELECT day, model, score FROM scores",
            dst_url,
            "scores",
            mode="upsert",
            key=["day", "model"],
        )
    rows = sql(dst_url, "SELECT day, model, score FROM scores ORDER BY day, model")
    assert [(r["day"], r["model"], r["score"]) for r in rows] == [
        ("mon", "a", 0.5),
        ("mon", "b", 0.7),
        ("tue", "a", 0.6),
    ]
    for _ in range(2):  # nothing to update: existing keys are kept as they are
        transfer(
            src,
            "SELECT day, model FROM scores",
            dst_url,
            "pairs",
            mode="upsert",
            key=["day", "model"],
        )
    assert sql(dst_url, "SELECT COUNT(*) AS n FROM pairs") == [{"n": 3}]


def test_upsert_needs_a_unique_key_on_the_key_columns(dst_url: str, src_url: str) -> None:
    sql_script(dst_url, "CREATE TABLE loose (id INTEGER, name VARCHAR(100))")
    with pytest.raises(OperatorError, match=r"needs a primary key or a unique index on exactly"):
        transfer(src_url, "SELECT id, name FROM people", dst_url, "loose", mode="upsert", key="id")
    assert sql(dst_url, "SELECT COUNT(*) AS n FROM loose") == [{"n": 0}]


# -- the created table -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_created_table_has_the_source_column_types(mariadb_url: str, pg_url: str) -> None:
    sql_script(
        mariadb_url,
        """
        CREATE TABLE kinds (
          id INT PRIMARY KEY, big BIGINT, small SMALLINT, tiny TINYINT(1), uns INT UNSIGNED,
          price DECIMAL(12, 2), ratio DOUBLE, name VARCHAR(40), body TEXT, raw BLOB,
          day DATE, at DATETIME
        );
        INSERT INTO kinds VALUES (1, 9000000000, -3, 1, 4000000000, 12.50, 0.25, 'ana',
          'long text', x'00ff', '2026-12-01', '2026-12-01 03:00:00');
        """,
    )
    transfer(mariadb_url, "SELECT * FROM kinds", pg_url, "kinds", mode="upsert", key="id")
    columns = sql(
        pg_url,
        "SELECT column_name AS c, data_type AS t, numeric_precision AS p, numeric_scale AS s "
        "FROM information_schema.columns WHERE table_name = 'kinds' ORDER BY ordinal_position",
    )
    types = {c["c"]: c["t"] for c in columns}
    assert types == {
        "id": "integer",
        "big": "bigint",
        "small": "smallint",
        "tiny": "smallint",
        "uns": "bigint",  # unsigned: wider, so 4,000,000,000 fits
        "price": "numeric",
        "ratio": "double precision",
        "name": "character varying",
        "body": "text",
        "raw": "bytea",
        "day": "date",
        "at": "timestamp without time zone",
    }
    price = next(c for c in columns if c["c"] == "price")
    assert price["s"] == 2
    assert price["p"] >= 12
    [row] = sql(pg_url, "SELECT * FROM kinds")
    assert (row["uns"], str(row["price"]), row["raw"], row["name"]) == (
        4000000000,
        "12.50",
        b"\x00\xff",
        "ana",
    )


# -- in a flow: metrics --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_transfer_in_a_flow_reports_its_metrics(
    runner: Runner, store: Store, src_url: str, tmp_path: Path
) -> None:
    dst = f"sqlite:///{tmp_path / 'flow-dst.db'}"
    run = runner.run(tf.copy_table, {"src": src_url, "dst": dst})
    assert run.state == FlowRunState.SUCCEEDED
    assert run.result() == 3
    [task] = run.tasks
    assert task.key == "nightly_copy-0"
    metrics = {m.name: m.value for m in store.list_metrics(run.id)}
    assert metrics["rows"] == 3
    assert metrics["seconds"] >= 0
    assert metrics["rows_per_s"] >= 0
    assert _all(dst) == [(1, "Ana"), (2, "Bo"), (3, "Cy")]


# -- refused calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "merge"}, "mode must be one of append, replace, upsert"),
        ({"mode": "upsert"}, "needs key="),
        ({"mode": "upsert", "key": "nope"}, "key column nope not among the columns read"),
        ({"chunk_rows": 0}, "chunk_rows must be a whole number >= 1"),
        ({"query": "  "}, "give the query as a non-empty string"),
        ({"query": "SELECT id, name, id FROM people"}, "more than one column named id"),
        ({"table": ""}, "table must be a table name"),
    ],
)
def test_bad_calls_are_refused_clearly(
    src_url: str, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    call: dict[str, Any] = {
        "src_conn": src_url,
        "query": "SELECT id, name FROM people",
        "dst_conn": f"sqlite:///{tmp_path / 'x.db'}",
        "table": "people",
        **kwargs,
    }
    with pytest.raises(OperatorError, match=message):
        transfer(**call)


def test_a_column_the_destination_lacks_is_named(src_url: str, tmp_path: Path) -> None:
    dst = f"sqlite:///{tmp_path / 'other.db'}"
    sql_script(dst, "CREATE TABLE people (id INTEGER PRIMARY KEY, full_name TEXT)")
    with pytest.raises(OperatorError, match="table people has no column name"):
        transfer(src_url, "SELECT id, name FROM people", dst, "people")
