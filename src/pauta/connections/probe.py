"""Checking that a connection reaches its place: `pauta connections test`.

A SQL URL (any SQLAlchemy dialect) connects, runs ``SELECT 1`` and reads the server's
version; an HTTP URL is fetched with the connection's headers; any other URL is an fsspec
filesystem whose root (the URL's path) is listed. What comes back says what was reached, or
why not, with the connection's secrets masked.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pauta.connections.urls import sqlalchemy_url
from pauta.connections.value import Connection, connection_type, has_connection_type
from pauta.core.secrets import mask

TIMEOUT_S = 10
SQL, HTTP, FILESYSTEM, PLUGIN = "sql", "http", "filesystem", "plugin"
_SHOWN_ENTRIES = 5


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    kind: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "ok": self.ok, "message": self.message}


def kind_of(conn: Connection) -> str:
    """ "http" for http(s) URLs, "sql" for a scheme SQLAlchemy has a dialect for, "plugin"
    for a scheme a ``pauta.connection_types`` plugin has, else "filesystem" (fsspec says
    whether it knows the protocol)."""
    if conn.scheme in {"http", "https"}:
        return HTTP
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        sa.engine.make_url(sqlalchemy_url(conn.url)).get_dialect()
    except (NoSuchModuleError, ArgumentError, ValueError):
        return PLUGIN if has_connection_type(conn.scheme) else FILESYSTEM
    except ImportError:
        return SQL  # a dialect whose driver is missing: the probe says so
    return SQL


def probe(conn: Connection) -> Probe:
    """Try ``conn`` once (``TIMEOUT_S`` to connect); never raises for an unreachable place.

    The connection's secrets are registered for masking first (``conn`` came from
    ``connection()``, which did that), so no message carries them."""
    kind = kind_of(conn)
    try:
        if kind == SQL:
            message = _sql(conn)
        elif kind == HTTP:
            message = _http(conn)
        elif kind == PLUGIN:
            message = _plugin(conn)
        else:
            message = _filesystem(conn)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        return Probe(conn.name, kind, False, mask(f"could not reach {conn.masked_url}: {reason}"))
    return Probe(conn.name, kind, True, mask(message))


_VERSION_QUERIES = {
    "postgresql": "SELECT version()",
    "mysql": "SELECT VERSION()",
    "mariadb": "SELECT VERSION()",
    "sqlite": "SELECT 'SQLite ' || sqlite_version()",
}
_CONNECT_TIMEOUT_ARG = {"postgresql": "connect_timeout", "mysql": "connect_timeout"}


def _sql(conn: Connection) -> str:
    import sqlalchemy as sa

    from pauta.connections.urls import sqlalchemy_url

    url = sa.engine.make_url(sqlalchemy_url(conn.url))
    dialect = url.get_backend_name()
    database = url.database or ""
    in_memory = database in {"", ":memory:"} or "mode=memory" in conn.url
    # sqlite3 would create an empty database there: say it is missing instead
    if dialect == "sqlite" and not in_memory and not Path(database).expanduser().exists():
        raise FileNotFoundError(f"no SQLite database at {database}")
    timeout_arg = _CONNECT_TIMEOUT_ARG.get("mysql" if dialect == "mariadb" else dialect)
    connect_args = {timeout_arg: TIMEOUT_S} if timeout_arg else {}
    engine = conn.sqlalchemy_engine(poolclass=sa.NullPool, connect_args=connect_args)
    try:
        with engine.connect() as db:
            one = db.execute(sa.text("SELECT 1")).scalar()
            query = _VERSION_QUERIES.get(dialect)
            version = db.execute(sa.text(query)).scalar() if query else None
    finally:
        engine.dispose()
    if version is None:
        info = engine.dialect.server_version_info or ()
        version = f"{dialect} {'.'.join(map(str, info))}".strip()
    server = " ".join(str(version).split())[:200]
    return f"reached {conn.masked_url}: SELECT 1 returned {one}; server: {server}"


def _http(conn: Connection) -> str:
    request = urllib.request.Request(conn.http_url(), headers=conn.http_headers())
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            status, reason = answer.status, answer.reason
    except urllib.error.HTTPError as exc:
        status, reason = exc.code, exc.reason
        if status >= 500 or status in (401, 403, 407):
            raise RuntimeError(f"HTTP {status} {reason}") from None
    return f"reached {conn.masked_url}: HTTP {status} {reason}"


def _plugin(conn: Connection) -> str:
    """The plugin's ``probe(conn)``; without one, making a client is the test."""
    kind = connection_type(conn.scheme)
    probe = getattr(kind, "probe", None)
    if probe is not None:
        return str(probe(conn))
    conn.client()
    return f"made a {conn.scheme} client for {conn.masked_url}"


def _filesystem(conn: Connection) -> str:
    fs = conn.filesystem()
    root = conn.path
    entries = sorted(str(entry) for entry in fs.ls(root, detail=False))
    shown = ", ".join(entry.rsplit("/", 1)[-1] for entry in entries[:_SHOWN_ENTRIES])
    more = f", and {len(entries) - _SHOWN_ENTRIES} more" if len(entries) > _SHOWN_ENTRIES else ""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    listing = f": {shown}{more}" if entries else ""
    count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    return f"reached {conn.masked_url} ({protocol}): listed {root}, {count}{listing}"
