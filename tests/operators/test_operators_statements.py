"""Splitting SQL scripts: a ``;`` inside a string, a quoted name, a comment or a dollar-quoted
body does not end a statement."""

from __future__ import annotations

import pytest

from pauta.operators.statements import Dialect, split_statements

POSTGRES = Dialect.named("postgresql")
MARIADB = Dialect.named("mariadb")


@pytest.mark.parametrize(
    ("script", "dialect", "expected"),
    [
        ("select 1; select 2", None, ["select 1", "select 2"]),
        ("select 1;;\n;  select 2;\n", None, ["select 1", "select 2"]),
        (
            "insert into t values ('a;b', 'it''s; fine')",
            None,
            ["insert into t values ('a;b', 'it''s; fine')"],
        ),
        (
            'create table "odd;name" (x int); select 1',
            None,
            ['create table "odd;name" (x int)', "select 1"],
        ),
        (
            "select 1 -- a comment; still a comment\n; select 2",
            None,
            ["select 1 -- a comment; still a comment", "select 2"],
        ),
        ("/* one; */ select 1; /* two; */", None, ["/* one; */ select 1"]),
        ("-- only a comment;\n", None, []),
        ("select 'C:\\'; select 2", POSTGRES, ["select 'C:\\'", "select 2"]),
        ("select E'it\\'s; x'; select 2", POSTGRES, ["select E'it\\'s; x'", "select 2"]),
        ("select 'it\\'s; x'; select 2", MARIADB, ["select 'it\\'s; x'", "select 2"]),
        (
            "select `a;b` from t; # note; here\nselect 2",
            MARIADB,
            ["select `a;b` from t", "# note; here\nselect 2"],
        ),
        (
            "create function f() returns int as $$ begin return 1; end; $$ language plpgsql;"
            " select f()",
            POSTGRES,
            [
                "create function f() returns int as $$ begin return 1; end; $$ language plpgsql",
                "select f()",
            ],
        ),
        (
            "do $body$ begin perform 1; end $body$; select 2",
            POSTGRES,
            ["do $body$ begin perform 1; end $body$", "select 2"],
        ),
        ("select $1; select 2", POSTGRES, ["select $1", "select 2"]),
        ("select 'never closed; select 2", None, ["select 'never closed; select 2"]),
    ],
)
def test_split(script: str, dialect: Dialect | None, expected: list[str]) -> None:
    assert split_statements(script, dialect) == expected


def test_dialect_rules_by_name() -> None:
    assert Dialect.named("mysql") == MARIADB
    assert Dialect.named("sqlite") == Dialect()
    assert POSTGRES.dollar_quotes
    assert not POSTGRES.backslash_escapes
