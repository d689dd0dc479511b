"""``/api/v1/connections``: named places with credentials, for admins only.

Answers never carry credentials in the clear: URLs and secret extras come back masked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from pauta.api.deps import Admin, SettingsDep, StoreDep
from pauta.api.schemas import (
    CONNECTION_NAME,
    ConnectionIn,
    ConnectionOut,
    ConnectionTest,
    NewConnection,
)
from pauta.app import connections

router = APIRouter(tags=["connections"])

ConnectionName = Annotated[str, Path(max_length=255, pattern=CONNECTION_NAME)]


@router.get("/connections", response_model=list[ConnectionOut])
def list_connections(user: Admin, store: StoreDep, settings: SettingsDep) -> list[dict[str, Any]]:
    """Every connection, by name, credentials masked (admin only)."""
    return connections.list_connections(store, settings.home)


@router.post("/connections", response_model=ConnectionOut, status_code=201)
def create_connection(
    new: NewConnection, user: Admin, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Add a connection (admin only); 409 when the name is taken (PUT replaces)."""
    view, _ = connections.add_connection(
        store,
        settings.home,
        new.name,
        new.url,
        extras=new.extras,
        secret_extras=new.secret_extras,
    )
    return view


@router.get("/connections/{name}", response_model=ConnectionOut)
def show_connection(
    name: ConnectionName, user: Admin, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """The connection `name` resolves to (the server's environment first), masked."""
    return connections.show_connection(store, settings.home, name)


@router.put(
    "/connections/{name}",
    response_model=ConnectionOut,
    responses={201: {"model": ConnectionOut, "description": "Created."}},
)
def put_connection(
    name: ConnectionName,
    body: ConnectionIn,
    user: Admin,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> dict[str, Any]:
    """Create or replace the connection `name` (admin only): 201 when it is new."""
    view, created = connections.add_connection(
        store,
        settings.home,
        name,
        body.url,
        extras=body.extras,
        secret_extras=body.secret_extras,
        replace=True,
    )
    response.status_code = 201 if created else 200
    return view


@router.delete("/connections/{name}", status_code=204)
def delete_connection(
    name: ConnectionName, user: Admin, store: StoreDep, settings: SettingsDep
) -> Response:
    """Remove a stored connection (admin only); 404 when none is stored by that name."""
    connections.delete_connection(store, settings.home, name)
    return Response(status_code=204)


@router.post("/connections/{name}/test", response_model=ConnectionTest)
def test_connection(
    name: ConnectionName, user: Admin, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Connect from the server and say what was reached, or why not (`ok` false)."""
    return connections.test_connection(store, settings.home, name)
