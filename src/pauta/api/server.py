"""The FastAPI application: the REST API under ``/api/v1``, ``/health`` and ``/metrics``.

``create_app`` serves one store and one flows folder. The web UI adds its pages to the app it
returns; `pauta server` serves it with uvicorn beside the scheduler and the worker.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pauta.api import admin, connections, docs, errors, flows, metrics, runs, services, tasks
from pauta.api.auth import require_role, verify_csrf
from pauta.api.headers import SecurityHeaders
from pauta.api.limits import BodyLimit
from pauta.api.logins import LoginGuard
from pauta.api.schemas import Error, Health
from pauta.app.catalog import catalog
from pauta.core.settings import Settings
from pauta.scheduling.discovery import flows_folder
from pauta.store.repository import Store

API_PREFIX = "/api/v1"

REQUEST_THREADS = 4
"""Threads that run the (synchronous) route handlers. Starlette's default of 40 lets 20 busy
clients' requests share the GIL all at once, so each takes longer and the slowest wait
longest: measured with 20 clients, p99 of a 100-run listing fell from 440 ms to 190 ms with 4
(bench/api.py). Four still overlap database waits on PostgreSQL."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "The body is not valid JSON."},
    401: {"model": Error, "description": "No valid credentials."},
    403: {"model": Error, "description": "The user's role may not do this, or no CSRF token."},
    404: {
        "model": Error,
        "description": "Unknown flow, run, task, user, connection or service.",
    },
    409: {
        "model": Error,
        "description": "The state of the run, flow or service does not allow it.",
    },
    413: {"model": Error, "description": "The body is over the limit (see docs/api.md)."},
}


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    flows_dir: Path | None = None,
) -> FastAPI:
    """The API app for ``store`` (default: the store ``settings`` name) and the flows in
    ``flows_dir`` (default: ``$PAUTA_FLOWS`` or ``./flows``).

    ``app.state.ready`` (a ``threading.Event``) is set at once; a server that discovers flows
    first replaces it with its own, and ``/health`` answers 503 until that one is set.
    """
    settings = settings or Settings.from_env()
    own_store = store is None
    if store is None:
        store = Store.from_settings(settings)
    opened: Store = store

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        yield
        app.state.logins.close()
        if own_store:
            opened.close()

    app = FastAPI(
        title="pauta",
        summary="Flows, runs, tasks, logs, pools and services of a pauta server.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # docs.install serves them from the package, under the CSP
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.flows_dir = (flows_dir or flows_folder()).expanduser().absolute()
    app.state.ready = threading.Event()
    app.state.ready.set()
    app.state.logins = LoginGuard(store.clock)
    app.add_middleware(
        BodyLimit,
        authenticated_bytes=settings.max_request_bytes,
        params_bytes=settings.max_params_bytes,
    )
    errors.install(app)
    docs.install(app, f"{API_PREFIX}/openapi.json")
    app.add_middleware(SecurityHeaders)

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(verify_csrf)], responses=_ERRORS)
    for module in (flows, runs, tasks, admin, connections, services):
        api.include_router(module.router)
    app.include_router(api)
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        response_model=Health,
        response_model_exclude_none=True,
        tags=["server"],
    )
    app.add_api_route(
        "/metrics",
        metrics_page,
        methods=["GET"],
        tags=["server"],
        response_class=Response,
        dependencies=[Depends(require_role("viewer"))],
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            401: _ERRORS[401],
        },
    )
    return app


def health(request: Request) -> Any:
    """200 once the server's first flow discovery finished (503 before, and once its database
    file was deleted or replaced, with the reason); no credentials."""
    state = request.app.state
    lost = state.store.lost()
    if lost is not None:
        return JSONResponse({"status": "database lost", "reason": lost}, status_code=503)
    if not state.ready.is_set():
        return JSONResponse({"status": "starting"}, status_code=503)
    found = catalog(state.store, state.flows_dir).discovery()
    return {"status": "ok", "flows": len(found.flows), "load_errors": len(found.errors)}


def metrics_page(request: Request) -> Response:
    """Runs by state, queue lengths, task durations and scheduler lag, for Prometheus (any
    role; send the token as a bearer token in the scrape config)."""
    return Response(metrics.render(request.app.state.store), media_type=metrics.CONTENT_TYPE)
