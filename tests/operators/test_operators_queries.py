"""``sql`` and ``sql_script`` on SQLite, PostgreSQL and MariaDB: rows as dicts, values bound
(an injection attempt stays data), scripts split safely and run in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from pauta.operators import OperatorError, sql, sql_script

SCHEMA = """
-- a table of people; the semicolons in strings and comments do not split statements
CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, note VARCHAR(200));
INSERT INTO people (id, name, note) VALUES (1, 'Ana', 'likes ; semicolons');
INSERT INTO people (id, name, note) VALUES (2, 'Bo', 'it''s /* not */ a comment');
/* a block comment; with a semicolon */
INSERT INTO people (id, name, note) VALUES (3, 'Cy', NULL);
"""


def test_rows_come_back_as_dicts(db_url: str) -> None:
    assert sql_script(db_url, SCHEMA) == 4
    rows = sql(db_url, "SELECT id, name, note FROM people WHERE id >= :low ORDER BY id", {"low": 2})
    assert rows == [
        {"id": 2, "name": "Bo", "note": "it's /* not */ a comment"},
        {"id": 3, "name": "Cy", "note": None},
    ]
    assert sql(db_url, "SELECT note FROM people WHERE id = 1") == [{"note": "likes ; semicolons"}]


def test_an_injection_attempt_stays_data(db_url: str) -> None:
    sql_script(db_url, SCHEMA)
    attack = "x'); DROP TABLE people; --"
    assert sql(db_url, "SELECT id FROM people WHERE name = :name", {"name": attack}) == []
    sql(db_url, "INSERT INTO people (id, name) VALUES (:id, :name)", {"id": 4, "name": attack})
    # the table is still there, and the attack is a name like any other
    assert sql(db_url, "SELECT name FROM people WHERE id = 4") == [{"name": attack}]
    assert sql(db_url, "SELECT COUNT(*) AS n FROM people") == [{"n": 4}]


def test_a_list_of_params_runs_the_statement_per_row(db_url: str) -> None:
    sql_script(db_url, SCHEMA)
    many = [{"id": i, "name": f"n{i}"} for i in range(10, 15)]
    assert sql(db_url, "INSERT INTO people (id, name) VALUES (:id, :name)", many) == []
    assert sql(db_url, "SELECT COUNT(*) AS n FROM people WHERE id >= 10") == [{"n": 5}]


def test_sql_commits_and_a_failure_rolls_back(db_url: str) -> None:
    sql_script(db_url, SCHEMA)
    sql(db_url, "UPDATE people SET note = :note WHERE id = 3", {"note": "kept"})
    assert sql(db_url, "SELECT note FROM people WHERE id = 3") == [{"note": "kept"}]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        sql(db_url, "INSERT INTO people (id, name) VALUES (1, 'again')")
    assert sql(db_url, "SELECT name FROM people WHERE id = 1") == [{"name": "Ana"}]


def test_a_failing_script_is_rolled_back_and_names_the_statement(db_url: str) -> None:
    sql_script(db_url, SCHEMA)
    broken = """
    INSERT INTO people (id, name) VALUES (20, 'in the failed script');
    INSERT INTO no_such_table VALUES (1);
    """
    with pytest.raises(OperatorError, match="statement 2 of 2 failed") as raised:
        sql_script(db_url, broken)
    assert "no_such_table" in str(raised.value)
    assert sql(db_url, "SELECT COUNT(*) AS n FROM people WHERE id = 20") == [{"n": 0}]


def test_a_script_from_a_file(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    path.write_text(SCHEMA)
    assert sql_script(db_url, path) == 4
    sql_script(db_url, "DROP TABLE people")
    assert sql_script(db_url, str(path)) == 4  # a string naming a .sql file is read too
    assert sql(db_url, "SELECT COUNT(*) AS n FROM people") == [{"n": 3}]


def test_script_colons_and_percents_are_sent_as_they_are(db_url: str) -> None:
    sql_script(db_url, SCHEMA)
    sql_script(db_url, "UPDATE people SET note = 'at 12:30, 100% done :x' WHERE id = 1")
    assert sql(db_url, "SELECT note FROM people WHERE id = 1") == [
        {"note": "at 12:30, 100% done :x"}
    ]


@pytest.mark.postgres
def test_a_postgres_function_body_is_one_statement(pg_url: str) -> None:
    script = """
    CREATE FUNCTION twice(x integer) RETURNS integer AS $$
    BEGIN
      RETURN x * 2;  -- a semicolon inside the body
    END;
    $$ LANGUAGE plpgsql;
    SELECT twice(21);
    """
    assert sql_script(pg_url, script) == 2
    assert sql(pg_url, "SELECT twice(:x) AS y", {"x": 4}) == [{"y": 8}]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sql("sqlite://", "  "), "give the query as a non-empty string"),
        (lambda: sql("sqlite://", "SELECT 1", params=[1, 2]), "params must be a dict"),
        (lambda: sql_script("sqlite://", "-- nothing;"), "holds no statement"),
        (lambda: sql_script("sqlite://", "/no/such/file.sql"), "cannot read /no/such/file.sql"),
        (lambda: sql("nosuchdb://x", "SELECT 1"), "cannot open nosuchdb://x"),
        (lambda: sql(None, "SELECT 1"), "conn is missing"),
        (lambda: sql(42, "SELECT 1"), "conn must be a URL, a connection name or an object"),
    ],
)
def test_bad_calls_are_refused_clearly(call: object, message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        call()  # type: ignore[operator]
