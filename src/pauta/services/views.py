"""JSON-ready views of services and revisions: what the CLI's ``--json``, the API and the UI
show (pure: records in, dicts out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pauta.core.service_states import RevisionState
from pauta.services.lease import LEASE_TTL, supervisor_alive
from pauta.store.services import LeaseRecord, RevisionRecord, ServiceRecord, StatusRecord

WAITING = frozenset({RevisionState.PENDING, RevisionState.STARTING})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def revision_view(revision: RevisionRecord) -> dict[str, Any]:
    spec = revision.spec
    return {
        "id": revision.id,
        "service": revision.service,
        "revision": revision.revision,
        "state": str(revision.state),
        "kind": spec.get("kind"),
        "app": spec.get("app"),
        "command": spec.get("command"),
        "config": spec.get("config") or {},
        "replicas": spec.get("replicas"),
        "health": spec.get("health"),
        "ready_timeout": spec.get("ready_timeout"),
        "resources": spec.get("resources"),
        # the registered model versions it serves (MLflow), as resolved at deploy
        "models": spec.get("models") or [],
        "executor": spec.get("executor") or "local",
        "ray_address": spec.get("ray_address"),
        "isolation": spec.get("isolation"),
        "requirements": spec.get("requirements") or [],
        "image": spec.get("image"),
        "rollback_of": revision.rollback_of,
        "created_by": revision.created_by,
        "created_at": _iso(revision.created_at),
        "started_at": _iso(revision.started_at),
        "ready_at": _iso(revision.ready_at),
        "ended_at": _iso(revision.ended_at),
        "error": revision.error,
    }


def supervisor_view(lease: LeaseRecord | None, now: datetime) -> dict[str, Any]:
    if lease is None:
        return {"holder": None, "alive": False, "heartbeat_at": None}
    return {
        "holder": lease.holder,
        "alive": supervisor_alive(lease, now),
        "heartbeat_at": _iso(lease.heartbeat_at),
    }


def _state(
    service: ServiceRecord,
    serving: RevisionRecord | None,
    newest: RevisionRecord | None,
    status: dict[str, Any],
    replicas: list[dict[str, Any]],
    supervised: bool,
) -> str:
    if service.stopped_at is not None:
        # the supervisor records the revision STOPPED once its replicas stopped
        return "stopping" if serving is not None and supervised else "stopped"
    if not supervised:
        return "unsupervised"
    if newest is not None and newest.state in WAITING:
        return "deploying"
    if serving is None:
        return "failed" if newest is not None and newest.state is RevisionState.FAILED else "idle"
    ready = [
        r for r in replicas if r.get("state") == "READY" and r.get("revision") == serving.revision
    ]
    if status.get("problem"):
        return "unavailable"
    return "serving" if ready else "unavailable"


def service_view(
    service: ServiceRecord,
    revisions: list[RevisionRecord],
    status: StatusRecord | None,
    lease: LeaseRecord | None,
    now: datetime,
) -> dict[str, Any]:
    """A service as listings show it; ``revisions`` newest first (at least the active ones)."""
    serving = next((r for r in revisions if r.state is RevisionState.SERVING), None)
    waiting = [r for r in revisions if r.state in WAITING]
    newest = revisions[0] if revisions else None
    supervisor = supervisor_view(lease, now)
    fresh = status is not None and status.updated_at >= now - LEASE_TTL
    supervised = bool(supervisor["alive"]) and fresh
    found: dict[str, Any] = dict(status.status) if status is not None else {}
    replicas: list[dict[str, Any]] = list(found.get("replicas") or [])
    traffic = dict(found.get("traffic") or {})
    traffic.pop("histogram", None)
    host = lease.address_host if lease is not None else "127.0.0.1"
    executor = str(
        found.get("executor") or (newest.spec.get("executor") if newest else None) or "local"
    )
    address = found.get("address")
    if not address and executor == "local":
        address = f"http://{host}:{service.port}"
    return {
        "name": service.name,
        "port": service.port,
        "executor": executor,
        "address": address or "",
        "state": _state(service, serving, newest, found, replicas, supervised),
        "revision": serving.revision if serving is not None else None,
        "revision_id": serving.id if serving is not None else None,
        "deploying": waiting[0].revision if waiting else None,
        "replicas": replicas,
        "restarts": int(found.get("restarts") or 0),
        "traffic": traffic,
        "problem": found.get("problem"),
        "serve": found.get("serve"),
        "created_at": _iso(service.created_at),
        "updated_at": _iso(service.updated_at),
        "stopped_at": _iso(service.stopped_at),
        "status_at": _iso(status.updated_at) if status is not None else None,
        "supervisor": supervisor,
    }


def service_detail(
    service: ServiceRecord,
    revisions: list[RevisionRecord],
    status: StatusRecord | None,
    lease: LeaseRecord | None,
    now: datetime,
) -> dict[str, Any]:
    """A service with its revisions, newest first (``services show``)."""
    view = service_view(service, revisions, status, lease, now)
    view["revisions"] = [revision_view(r) for r in revisions]
    found = status.status if status is not None else {}
    view["logs_dir"] = found.get("logs_dir")
    return view
