"""What route handlers take from the app: the store, the flows catalog, the settings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from pauta.api.auth import require_role
from pauta.app.catalog import FlowCatalog, catalog
from pauta.app.users import User
from pauta.core.settings import Settings
from pauta.store.repository import Store


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_catalog(request: Request) -> FlowCatalog:
    return catalog(request.app.state.store, request.app.state.flows_dir)


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[FlowCatalog, Depends(get_catalog)]
Viewer = Annotated[User, Depends(require_role("viewer"))]
Operator = Annotated[User, Depends(require_role("operator"))]
Admin = Annotated[User, Depends(require_role("admin"))]

# Names and ids in paths: printable, bounded (a database refuses NUL characters).
FlowName = Annotated[str, Path(max_length=255, pattern=r"^[^\x00-\x1f]+$")]
RunId = Annotated[str, Path(max_length=64, pattern=r"^[^\x00-\x1f]+$")]
TaskKey = Annotated[str, Path(max_length=512, pattern=r"^[^\x00-\x1f]+$")]


def fast_json(content: Any, status_code: int = 200) -> Response:
    """``content`` (already JSON-ready views) as a JSON answer.

    Returning a response skips FastAPI's validation against the route's ``response_model``,
    which costs more than the query on large listings; the model still documents the shape,
    and the schema tests check the answers against it.
    """
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return Response(body, status_code=status_code, media_type="application/json")
