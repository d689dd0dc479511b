"""Connections: named places with credentials (databases, object stores, HTTP services).

``connection("warehouse")`` returns a ``Connection`` with ``.url``, ``.extras``,
``.sqlalchemy_engine()`` and ``.filesystem()``: from ``PAUTA_CONN_WAREHOUSE`` when that is
set, else from the metadata store, where the URL and the secret extras are sealed with Fernet
(``pauta.connections.keys``). Resolving one masks its secrets in this process's task logs,
result previews and errors. `pauta connections add|list|show|test|delete` manages them.
"""

from pauta.connections.errors import (
    ConnectionExistsError,
    ConnectionsError,
    InvalidConnectionError,
    SecretKeyError,
    UnknownConnectionError,
)
from pauta.connections.resolve import connection, reveal_connections, reveal_reported
from pauta.connections.value import Connection

__all__ = [
    "Connection",
    "ConnectionExistsError",
    "ConnectionsError",
    "InvalidConnectionError",
    "SecretKeyError",
    "UnknownConnectionError",
    "connection",
    "reveal_connections",
    "reveal_reported",
]
