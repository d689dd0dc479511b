"""The Services page, a service's page, and what can be done to a service: roll it back,
stop it (operators; the forms carry the session's CSRF token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pauta.core.errors import PautaError
from pauta.services import control
from pauta.store.services import ServiceNotFoundError
from pauta.ui.render import page
from pauta.ui.session import Session, check_form, flash, store_of

router = APIRouter(include_in_schema=False)


@router.get("/services", response_class=HTMLResponse)
def services_page(request: Request, session: Session) -> Response:
    views = control.list_views(store_of(request))
    return page(request, "services.html", session, {"services": views, "nav": "services"})


@router.get("/services/{name}", response_class=HTMLResponse)
def service_page(request: Request, name: str, session: Session) -> Response:
    try:
        view = control.show(store_of(request), name)
    except ServiceNotFoundError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    return page(request, "service.html", session, {"service": view, "nav": "services"})


def _back_to(name: str) -> RedirectResponse:
    return RedirectResponse(f"/services/{name}", status_code=303)


@router.post("/services/{name}/rollback")
async def rollback(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    to = (await request.form()).get("to")
    target = to if isinstance(to, str) and to.strip() else None
    try:
        created = control.rollback(store_of(request), name, target, f"user {session.user.username}")
    except ServiceNotFoundError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    except PautaError as exc:
        response = _back_to(name)
        flash(response, str(exc))
        return response
    response = _back_to(name)
    flash(response, f"{created.id} rolls back to {name}@{created.rollback_of}")
    return response


@router.post("/services/{name}/stop")
async def stop(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    try:
        control.stop(store_of(request), name)
    except ServiceNotFoundError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    response = _back_to(name)
    flash(response, f"{name} stops once its requests in progress finish")
    return response
