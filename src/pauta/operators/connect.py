"""What a ``conn`` argument may be, and the SQLAlchemy engine or HTTP endpoint it stands for.

An operator's ``conn`` is one of:

- a URL string (anything with ``://``): ``postgresql+psycopg://etl@db/warehouse``,
  ``https://user:token@api.example.com/v1``;
- a connection object: anything with ``.sqlalchemy_engine()`` (for SQL) or ``.url`` and
  ``.extras`` (for HTTP), such as ``pauta.connections.connection(name)`` returns;
- a connection name (``"warehouse"``), looked up with ``pauta.connections.connection``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pauta.operators.errors import OperatorError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@runtime_checkable
class SqlConnection(Protocol):
    """A connection that can open a SQLAlchemy engine."""

    def sqlalchemy_engine(self) -> Engine: ...


def _by_name(name: str) -> Any:
    # imported on first use: operators given URLs never load the connections store
    from pauta.connections import connection

    return connection(name)


def resolve(conn: Any) -> Any:
    """``conn`` as a URL string or a connection object (names are looked up)."""
    if isinstance(conn, str):
        if not conn.strip():
            raise OperatorError("conn is empty: give a URL, a connection or a connection name")
        return conn if "://" in conn else _by_name(conn)
    if conn is None:
        raise OperatorError("conn is missing: give a URL, a connection or a connection name")
    return conn


@contextmanager
def sql_engine(conn: Any) -> Iterator[Engine]:
    """The engine ``conn`` stands for, for one operator call.

    An engine made here from a URL keeps no pool (``NullPool``): warm worker processes would
    otherwise hold idle connections to every database a task ever touched. An engine a
    connection object returns is its own: it is not disposed.
    """
    target = resolve(conn)
    if isinstance(target, str):
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        try:
            engine = sa.create_engine(target, poolclass=NullPool)
        except Exception as exc:  # a bad URL or a missing driver: say which, without secrets
            raise OperatorError(f"cannot open {redact(target)}: {exc}") from None
        try:
            yield engine
        finally:
            engine.dispose()
        return
    if not isinstance(target, SqlConnection):
        raise OperatorError(
            f"conn must be a URL, a connection name or an object with .sqlalchemy_engine(); "
            f"got {type(target).__name__}"
        )
    from pauta.connections import Connection

    if isinstance(target, Connection):
        # pauta's connections hand their caller a new engine: this call owns it, without a
        # pool that a warm worker would keep open
        from sqlalchemy.pool import NullPool

        engine = target.sqlalchemy_engine(poolclass=NullPool)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    yield target.sqlalchemy_engine()


def redact(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"


def http_endpoint(conn: Any) -> tuple[str, Mapping[str, Any]]:
    """The base URL and the extras of ``conn`` (a URL, a connection or a name)."""
    target = resolve(conn)
    if isinstance(target, str):
        return target, {}
    url = getattr(target, "url", None)
    if not isinstance(url, str) or "://" not in url:
        raise OperatorError(
            f"conn must be a URL, a connection name or an object with a .url; got "
            f"{type(target).__name__}"
        )
    extras = getattr(target, "extras", None) or {}
    return url, extras
