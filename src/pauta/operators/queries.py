"""``sql`` and ``sql_script``: a query with bound parameters, and a script of statements.

Both run in one transaction on the database ``conn`` names (a URL, a connection object or a
connection name), committed when they succeed and rolled back when they fail.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pauta.definitions.task import task
from pauta.operators.connect import sql_engine
from pauta.operators.errors import OperatorError
from pauta.operators.statements import Dialect, split_statements


@task(name="sql")
def sql(
    conn: Any,
    query: str,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run ``query`` and return its rows as a list of dicts (empty for a statement that
    returns none).

    Values go in ``params`` and are named ``:name`` in the query: they are sent to the
    database as bound parameters, never pasted into the SQL, so a value can hold quotes or SQL
    and stays data. A list of dicts runs the statement once per dict (an insert of many rows).
    Write ``\\:`` for a colon that is not a parameter.
    """
    if not isinstance(query, str) or not query.strip():
        raise OperatorError("sql: give the query as a non-empty string")
    bound = _params(params)
    import sqlalchemy as sa

    statement = sa.text(query)
    with sql_engine(conn) as engine, engine.begin() as connection:
        result = connection.execute(statement, bound)
        if not result.returns_rows:
            return []
        return [dict(row) for row in result.mappings()]


def _params(params: Any) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return dict(params)
    if isinstance(params, Sequence) and not isinstance(params, str | bytes):
        rows = list(params)
        if rows and all(isinstance(row, Mapping) for row in rows):
            return [dict(row) for row in rows]
    raise OperatorError(
        "sql: params must be a dict of values named in the query (:name), or a list of such "
        f"dicts; got {type(params).__name__}"
    )


@task(name="sql_script")
def sql_script(conn: Any, script: str | os.PathLike[str]) -> int:
    """Run every statement of ``script`` (SQL text, or a ``.sql`` file) in one transaction;
    returns how many ran.

    Statements are split at ``;`` outside strings, quoted names, comments and PostgreSQL
    ``$$`` bodies. On PostgreSQL and SQLite a failing statement rolls back the whole script;
    MySQL and MariaDB commit DDL (``CREATE``, ``ALTER``, ``DROP``) as it runs, so there only
    the data changes are rolled back. No parameters are bound: colons and percent signs are
    sent as they are.
    """
    text = _script_text(script)
    with sql_engine(conn) as engine:
        statements = split_statements(text, Dialect.named(engine.dialect.name))
        if not statements:
            raise OperatorError("sql_script: the script holds no statement")
        with engine.begin() as connection:
            # the statement goes to the driver alone, without an (empty) parameter list that
            # would make it read % as a placeholder
            raw = connection.execution_options(no_parameters=True)
            for number, statement in enumerate(statements, 1):
                try:
                    raw.exec_driver_sql(statement)
                except Exception as exc:
                    raise OperatorError(
                        f"sql_script: statement {number} of {len(statements)} failed "
                        f"(the transaction was rolled back): {_first_line(exc)}\n"
                        f"{_excerpt(statement)}"
                    ) from exc
    return len(statements)


def _script_text(script: Any) -> str:
    if isinstance(script, os.PathLike) or (
        isinstance(script, str) and script.endswith(".sql") and "\n" not in script
    ):
        path = Path(script)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OperatorError(f"sql_script: cannot read {path}: {exc.strerror}") from None
    if not isinstance(script, str):
        raise OperatorError(
            f"sql_script: give SQL text or a path to a .sql file, not {type(script).__name__}"
        )
    return script


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__


def _excerpt(statement: str, limit: int = 300) -> str:
    return statement if len(statement) <= limit else statement[: limit - 3] + "..."
