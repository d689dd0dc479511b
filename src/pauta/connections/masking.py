"""Connections' secrets in the process-wide mask of ``pauta.core.secrets``.

A process that resolves a connection registers its password (raw and percent-decoded), its
secret query parameters and its secret extras, so that task logs, result previews and errors
show ``***`` instead. It also notes ``connection:NAME`` among the names a worker reports, and
the driving process resolves the same connection
(``pauta.connections.resolve.reveal_connections``) to mask the same
values in what it shows: a flow's result preview, a flow's error.
"""

from __future__ import annotations

from pauta.connections.value import Connection
from pauta.core.secrets import note_revealed, register

PREFIX = "connection:"


def reveal(conn: Connection) -> None:
    """Mask ``conn``'s secrets in this process from now on."""
    for value in conn.secret_values():
        register(value)
    note_revealed(PREFIX + conn.name)
