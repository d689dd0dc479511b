"""A ``ray`` service's revisions as Ray Serve applications (blocking calls; the supervisor runs
them in threads).

One Serve application per service, named after it, under the route prefix ``/NAME`` of
Serve's HTTP proxy; one deployment in it (``pauta.services.ray_app``) with ``num_replicas``
replicas and ``ray_actor_options`` from the revision's resources. A new revision is a new
deploy of the application: Serve replaces the replicas with its own rolling update. Ray Serve
has no rollback: pauta's is a deploy of the previous revision's spec.

Serve is started by the first deploy where it does not run yet, with the HTTP host and port of
``PAUTA_RAY_SERVE_HOST`` (default 0.0.0.0) and ``PAUTA_RAY_SERVE_PORT`` (default 8000), and its
proxies where ``PAUTA_RAY_SERVE_PROXIES`` says (``EveryNode``, Serve's default, or
``HeadOnly``). A Serve already running keeps its own settings.

Importing this module imports nothing of Ray's; each call does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.executors import ray_cluster
from pauta.executors.ray_code import CodeShipper
from pauta.services.spec import ServiceSpec

WILDCARD = frozenset({"", "0.0.0.0", "::"})
HEALTH_PERIOD_S = 2.0
HEALTH_TIMEOUT_S = 10.0
GRACEFUL_S = 20.0
"""How long Serve lets an old replica finish its requests during a rolling update."""
_shippers: dict[str, CodeShipper] = {}


class ServeFailed(PautaError):
    """Ray Serve refused a deploy or could not be reached."""


@dataclass(frozen=True, slots=True)
class AppState:
    """One application as Serve reports it."""

    status: str
    """NOT_STARTED, DEPLOYING, RUNNING, DEPLOY_FAILED, UNHEALTHY or DELETING."""
    message: str
    replicas: tuple[dict[str, Any], ...] = ()
    deployment_messages: tuple[str, ...] = field(default=())

    def reason(self) -> str:
        """Serve's words on why the application is in its state."""
        found = [m for m in (self.message, *self.deployment_messages) if m]
        return "\n".join(dict.fromkeys(found)) or f"Ray Serve reports it {self.status}"


@dataclass(frozen=True, slots=True)
class ServeView:
    """What Serve runs: its HTTP address and its applications by name."""

    address: str
    apps: dict[str, AppState]


def connect(address: str | None) -> None:
    """Connect this process to the cluster (the one ``PAUTA_RAY_ADDRESS`` names by default)."""
    ray_cluster.connect(address or os.environ.get("PAUTA_RAY_ADDRESS") or None)


def actor_options(resources: Resources | None) -> dict[str, Any]:
    """``ray_actor_options`` of a replica asking for ``resources`` (None: Serve's default)."""
    if resources is None:
        return {}
    return ray_cluster.task_options(resources)


def _runtime_env(spec: ServiceSpec) -> dict[str, Any]:
    # the app's folder becomes the replicas' working directory, pauta's runtime a py_module
    key = spec.ray_address or ""
    shipper = _shippers.get(key)
    if shipper is None:
        shipper = _shippers[key] = CodeShipper()
    folder = spec.path[0] if spec.path else None
    return shipper.runtime_env(folder)


def _start_serve() -> None:
    from ray import serve

    port_text = os.environ.get("PAUTA_RAY_SERVE_PORT", "8000")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ServeFailed(f"PAUTA_RAY_SERVE_PORT={port_text!r} must be a port number")
    proxies = os.environ.get("PAUTA_RAY_SERVE_PROXIES", "EveryNode")
    if proxies not in {"EveryNode", "HeadOnly"}:
        raise ServeFailed(f"PAUTA_RAY_SERVE_PROXIES={proxies!r} must be EveryNode or HeadOnly")
    serve.start(
        http_options={
            "host": os.environ.get("PAUTA_RAY_SERVE_HOST", "0.0.0.0"),
            "port": int(port_text),
        },
        proxy_location=proxies,
    )


def deploy(name: str, spec: ServiceSpec) -> None:
    """Deploy ``spec`` as the application ``name`` (returns once Serve took it; it becomes
    RUNNING later: see ``view``). ServeFailed with Serve's reason when it refuses it."""
    from pauta.services.ray_app import ServiceReplica
    from ray import serve

    if spec.app is None:
        raise ServeFailed("a ray service runs an app factory")
    connect(spec.ray_address)
    try:
        _start_serve()
        options = {**actor_options(spec.resources), "runtime_env": _runtime_env(spec)}
        deployment = serve.deployment(ServiceReplica).options(
            name=name,
            num_replicas=spec.replicas,
            ray_actor_options=options,
            health_check_period_s=HEALTH_PERIOD_S,
            health_check_timeout_s=HEALTH_TIMEOUT_S,
            graceful_shutdown_timeout_s=GRACEFUL_S,
        )
        application = deployment.bind(spec.app, dict(spec.config), spec.health)
        serve._run(application, _blocking=False, name=name, route_prefix=f"/{name}")
    except ServeFailed:
        raise
    except Exception as exc:
        raise ServeFailed(f"Ray Serve refused the deploy: {type(exc).__name__}: {exc}") from exc


def delete(name: str, address: str | None) -> None:
    """Delete the application ``name`` (its replicas stop); nothing when it is not there."""
    from ray import serve

    connect(address)
    if name in view(address).apps:
        serve.delete(name)


def view(address: str | None) -> ServeView:
    """Serve's address and applications now (empty when Serve does not run)."""
    from ray.serve.context import _get_global_client
    from ray.serve.exceptions import RayServeException

    connect(address)
    try:
        details = _get_global_client().get_serve_details()
    except RayServeException:
        return ServeView("", {})
    return ServeView(_address(details, address), _apps(details))


def _address(details: dict[str, Any], cluster: str | None) -> str:
    http = details.get("http_options") or {}
    host = str(http.get("host") or "")
    if host in WILDCARD:
        import ray

        # the head node's own address: where clients of the cluster reach its proxy
        host = (cluster or "").rpartition(":")[0] or ray.util.get_node_ip_address()
    port = http.get("port")
    return f"http://{host}:{port}" if port else ""


def _apps(details: dict[str, Any]) -> dict[str, AppState]:
    apps: dict[str, AppState] = {}
    for name, app in (details.get("applications") or {}).items():
        replicas: list[dict[str, Any]] = []
        messages: list[str] = []
        for deployment in (app.get("deployments") or {}).values():
            if deployment.get("message"):
                messages.append(str(deployment["message"]))
            for index, replica in enumerate(deployment.get("replicas") or []):
                replicas.append(
                    {
                        "index": index,
                        "state": _text(replica.get("state")),
                        "pid": replica.get("pid"),
                        "node": replica.get("node_ip"),
                        "replica_id": replica.get("replica_id"),
                        "started_at": replica.get("start_time_s"),
                    }
                )
        apps[name] = AppState(
            status=_text(app.get("status")),
            message=str(app.get("message") or ""),
            replicas=tuple(replicas),
            deployment_messages=tuple(messages),
        )
    return apps


def _text(value: Any) -> str:
    """An enum of Serve's (or its value) as its plain name."""
    return str(getattr(value, "value", value) or "")
