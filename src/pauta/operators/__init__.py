"""Ready-made tasks: run commands, query databases, call HTTP APIs, move data.

Each is a task like your own: call it inside a flow and it returns a future; outside a flow it
runs at once; ``shell.with_options(retries=2, timeout=600)`` is a copy with other options.

- ``shell(command)``: a command, its output streaming into the task's log (``commands``).
- ``sql(conn, query, params)`` / ``sql_script(conn, script)``: queries and scripts (``queries``).
- ``http(method, url, conn=...)``: an HTTP request answered with JSON or text (``web``).
- ``transfer(src_conn, query, dst_conn, table)``: rows between two databases, streamed
  (``transfers``).
- ``sql_to_parquet`` / ``parquet_to_sql``: rows to and from Parquet files (``parquet``).
- ``copy(src_url, dst_url)``: a file between two fsspec locations (``files``).

A ``conn`` is a SQLAlchemy or HTTP URL, a connection object or a connection name
(``pauta.operators.connect``). Nothing here imports SQLAlchemy, pyarrow or fsspec until an
operator runs.
"""

from pauta.operators.commands import ShellResult, shell
from pauta.operators.errors import (
    CommandFailed,
    CommandTimeout,
    HttpStatusError,
    OperatorError,
    TransferError,
)
from pauta.operators.files import Copied, copy
from pauta.operators.parquet import parquet_to_sql, sql_to_parquet
from pauta.operators.progress import Moved
from pauta.operators.queries import sql, sql_script
from pauta.operators.transfers import transfer
from pauta.operators.web import http

__all__ = [
    "CommandFailed",
    "CommandTimeout",
    "Copied",
    "HttpStatusError",
    "Moved",
    "OperatorError",
    "ShellResult",
    "TransferError",
    "copy",
    "http",
    "parquet_to_sql",
    "shell",
    "sql",
    "sql_script",
    "sql_to_parquet",
    "transfer",
]
