"""The web UI: the API app plus server-rendered pages and their static files.

Pages are Jinja2 templates; htmx (vendored, no build step) polls fragments of the run page
while a run is in progress, and a small script draws the graph with cytoscape + dagre.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from pauta.api import create_app as create_api_app
from pauta.api.errors import request_invalid, validation_message
from pauta.ui import (
    routes_auth,
    routes_compare,
    routes_connections,
    routes_flows,
    routes_runs,
    routes_services,
    routes_users,
)
from pauta.ui.plugin_pages import mount_plugin_pages
from pauta.ui.render import page
from pauta.ui.session import Forbidden, LoginRequired, PageSession, page_session
from pauta.ui.templating import STATIC

if TYPE_CHECKING:
    from pauta.core.settings import Settings
    from pauta.store.repository import Store


def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get("HX-Request"):
        # a polled fragment of an expired session: send the whole page to the login form
        return Response(status_code=200, headers={"HX-Redirect": exc.next_url})
    return RedirectResponse(exc.next_url, status_code=303)


def _error_page(request: Request, message: str, status: int) -> Response:
    try:
        session: PageSession | None = page_session(request)
    except LoginRequired:
        session = None
    return page(request, "error.html", session, {"message": message}, status=status)


def _forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(request, str(exc), 403)


async def _invalid(request: Request, exc: Exception) -> Response:
    """A request FastAPI could not validate: the API's JSON 422 under ``/api/``, else a 422
    page of the UI (plain text for a fragment htmx asked for)."""
    assert isinstance(exc, RequestValidationError)
    if request.url.path.startswith("/api/"):
        return await request_invalid(request, exc)
    message = validation_message(exc)
    if request.headers.get("HX-Request"):
        return PlainTextResponse(message, status_code=422)
    return _error_page(request, message, 422)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    flows_dir: Path | None = None,
) -> FastAPI:
    """The API app (``/api/v1``, ``/health``) with the web UI's pages and ``/static``."""
    app = create_api_app(settings, store=store, flows_dir=flows_dir)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    routers = (
        routes_auth,
        routes_flows,
        routes_runs,
        routes_compare,
        routes_services,
        routes_connections,
        routes_users,
    )
    for router in (module.router for module in routers):
        app.include_router(router)
    # plugins' pages come after pauta's own, so a plugin's route never shadows one of them
    app.state.plugin_pages = mount_plugin_pages(app)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(RequestValidationError, _invalid)
    return app
