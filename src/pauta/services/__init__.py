"""Long-running services a pipeline deploys: ``deploy`` a revision, ``get`` what serves.

::

    from pauta import services, task

    @task
    def deploy(model_path: str) -> str:
        return services.deploy("churn", app="churn_service:create_app",
                               config={"model": model_path}, replicas=2, port=8600)

The supervisor (in ``pauta server``, or ``pauta services run``) starts the revision's replicas,
moves the service's traffic to them once they are ready, and rolls a revision that never gets
ready back. See docs/services.md.

Importing this package is cheap: the store is opened when ``deploy`` or ``get`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pauta.services.errors import DeployFailed, NoSupervisorError, ServiceError, ServiceSpecError

if TYPE_CHECKING:
    from pauta.services.client import ReplicaInfo, ServiceInfo, deploy, get

__all__ = [
    "DeployFailed",
    "NoSupervisorError",
    "ReplicaInfo",
    "ServiceError",
    "ServiceInfo",
    "ServiceSpecError",
    "deploy",
    "get",
]

_CLIENT = frozenset({"deploy", "get", "ServiceInfo", "ReplicaInfo"})


def __getattr__(name: str) -> Any:
    # the client imports the store (SQLAlchemy): only when a deploy or a look-up needs it
    if name in _CLIENT:
        from pauta.services import client

        return getattr(client, name)
    raise AttributeError(f"module 'pauta.services' has no attribute {name!r}")
