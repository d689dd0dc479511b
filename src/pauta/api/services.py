"""``/api/v1/services``: the long-running services flows deploy; deploying, rolling back and
stopping them.

Viewers read; operators deploy new revisions of a service's code (new config, replicas),
roll back and stop; running new code on the server's host (a new app or command, or a new
service) needs an admin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request

from pauta.api.deps import Operator, StoreDep, Viewer, fast_json
from pauta.api.service_schemas import (
    DeployRequest,
    Revision,
    RollbackRequest,
    Service,
    ServiceDetail,
    ServiceLogs,
)
from pauta.services import control
from pauta.services.views import revision_view

router = APIRouter(tags=["services"])

ServiceName = Annotated[str, Path(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
RevisionRef = Annotated[
    str | None, Query(max_length=80, pattern=r"^([a-z0-9][a-z0-9_-]*@)?\d{1,9}$")
]
Lines = Annotated[int, Query(ge=1, le=5000, description="Lines per replica.")]


@router.get("/services", response_model=list[Service])
def list_services(user: Viewer, store: StoreDep) -> Any:
    """Every service: state, revision serving, address, replicas, traffic."""
    return fast_json(control.list_views(store))


@router.get("/services/{name}", response_model=ServiceDetail)
def show_service(name: ServiceName, user: Viewer, store: StoreDep) -> Any:
    """A service with its replicas (health, restarts), traffic and revisions, newest first."""
    return fast_json(control.show(store, name))


@router.get("/services/{name}/logs", response_model=ServiceLogs)
def service_logs(
    name: ServiceName,
    user: Viewer,
    store: StoreDep,
    revision: RevisionRef = None,
    lines: Lines = 100,
) -> dict[str, Any]:
    """The last lines of each replica's log of a revision (default: the one serving)."""
    found = control.logs(store, name, revision=revision, lines=lines)
    return {"logs": [{"replica": label, "text": text} for label, text in found]}


@router.post("/services/{name}/revisions", response_model=Revision, status_code=201)
def deploy(
    name: ServiceName,
    user: Operator,
    request: Request,
    store: StoreDep,
    body: Annotated[DeployRequest, Body()],
) -> dict[str, Any]:
    """Deploy a new revision; the supervisor rolls it out (poll `GET /services/{name}`).

    Fields left out are the newest revision's. A new app or command, or a new service, runs
    new code on the server's host: admins only (403 for others). 409 when no supervisor runs.
    """
    fields = body.model_dump(exclude_unset=True)
    port = fields.pop("port", None)
    spec, new_code = control.spec_from_request(store, name, fields, request.app.state.flows_dir)
    if new_code and not user.may("admin"):
        raise HTTPException(
            403,
            f"user {user.username!r} ({user.role}) may deploy new config of a service's code, "
            "but new code (an app or command, or a new service) needs admin",
        )
    created = control.record_revision(
        store, name, spec, port=port, created_by=f"user {user.username}"
    )
    return revision_view(created)


@router.post("/services/{name}/rollback", response_model=Revision, status_code=201)
def rollback(
    name: ServiceName,
    user: Operator,
    store: StoreDep,
    body: Annotated[RollbackRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Serve an earlier revision again, as a new revision with its spec (`to`, default: the
    one that served before the current one)."""
    to = body.to if body is not None else None
    created = control.rollback(store, name, to, f"user {user.username}")
    return revision_view(created)


@router.post("/services/{name}/stop", response_model=Service)
def stop(name: ServiceName, user: Operator, store: StoreDep) -> Any:
    """Stop the service: requests in progress finish, its replicas stop. A new revision (or a
    rollback) starts it again."""
    return fast_json(control.stop(store, name))
