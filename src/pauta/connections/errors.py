"""What can go wrong with connections; every error is a ``PautaError`` with advice."""

from __future__ import annotations

from pauta.core.errors import PautaError


class ConnectionsError(PautaError):
    """A connection could not be added, found, read or reached."""


class InvalidConnectionError(ConnectionsError):
    """A connection's name, URL or extras are not acceptable."""


class UnknownConnectionError(ConnectionsError):
    """No connection has this name, in the environment or in the store."""


class ConnectionExistsError(ConnectionsError):
    """A connection with this name is stored already (replace it with ``--force``)."""


class SecretKeyError(ConnectionsError):
    """The key that seals connections is missing, malformed, exposed, or not the right one."""
