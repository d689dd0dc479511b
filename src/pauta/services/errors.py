"""What ``pauta.services`` raises."""

from __future__ import annotations

from pauta.core.errors import PautaError


class ServiceError(PautaError):
    """A service could not be deployed, rolled back or stopped."""


class ServiceSpecError(ServiceError):
    """A deploy's arguments do not describe a service pauta can run."""


class NoSupervisorError(ServiceError):
    """No supervisor runs the services of this database."""


class DeployFailed(ServiceError):
    """A revision never became ready and was rolled back (or was superseded or stopped).

    ``revision`` is its id; the message ends with the log tail of the replica that failed.
    """

    def __init__(self, message: str, *, revision: str) -> None:
        super().__init__(message)
        self.revision = revision
