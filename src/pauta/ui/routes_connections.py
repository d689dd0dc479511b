"""The Connections page (admins only): connections listed masked, and forms to add, test and
delete them. Every form carries the session's CSRF token; the URL typed in is never echoed
back into the page, since it may hold a password."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pauta.app import connections
from pauta.connections.errors import InvalidConnectionError
from pauta.connections.rules import parse_pairs
from pauta.connections.urls import user_of, with_password
from pauta.core.errors import PautaError
from pauta.ui.render import page
from pauta.ui.session import Forbidden, PageSession, Session, check_form, flash, store_of

router = APIRouter(include_in_schema=False)

HERE = "/connections"


def _admin(session: PageSession) -> None:
    if not session.may("admin"):
        raise Forbidden(
            f"user {session.user.username!r} ({session.user.role}) may not see connections: "
            "it needs the admin role"
        )


def _home(request: Request) -> Any:
    return request.app.state.settings.home


def _page(request: Request, session: PageSession, *, status: int = 200, **context: Any) -> Response:
    try:
        views = connections.list_connections(store_of(request), _home(request))
        problem = None
    except PautaError as exc:
        views, problem = [], str(exc)
    values = {"connections": views, "problem": problem, "nav": "connections", **context}
    return page(request, "connections.html", session, values, status=status)


@router.get(HERE, response_class=HTMLResponse)
def connections_page(request: Request, session: Session) -> Response:
    _admin(session)
    return _page(request, session)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.post(HERE)
async def add(request: Request, session: Session) -> Response:
    await check_form(request, session, "admin")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    name = form.get("name", "").strip()
    try:
        url = form.get("url", "").strip()
        password = form.get("password", "")
        if password:
            if user_of(url) is None:
                raise InvalidConnectionError(
                    "a password needs a user in the URL (scheme://USER@host/...)"
                )
            url = with_password(url, password)
        view, created = connections.add_connection(
            store_of(request),
            _home(request),
            name,
            url,
            extras=parse_pairs(_lines(form.get("extras", "")), "an extra"),
            secret_extras=parse_pairs(_lines(form.get("secret_extras", "")), "a secret extra"),
            replace=form.get("replace") == "on",
        )
    except PautaError as exc:
        # only the name is kept: the URL and the extras may hold secrets
        return _page(request, session, status=422, form_error=str(exc), form_name=name)
    response = RedirectResponse(HERE, status_code=303)
    flash(response, f"connection {name} {'added' if created else 'replaced'}: {view['url']}")
    return response


@router.post(HERE + "/{name}/test")
async def test(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "admin")
    response = RedirectResponse(f"{HERE}#connection-{quote(name, safe='')}", status_code=303)
    try:
        result = connections.test_connection(store_of(request), _home(request), name)
    except PautaError as exc:
        flash(response, str(exc))
    else:
        flash(response, f"{name}: {'ok' if result['ok'] else 'failed'}: {result['message']}")
    return response


@router.post(HERE + "/{name}/delete")
async def delete(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "admin")
    response = RedirectResponse(HERE, status_code=303)
    try:
        connections.delete_connection(store_of(request), _home(request), name)
    except PautaError as exc:
        flash(response, str(exc))
    else:
        flash(response, f"connection {name} deleted")
    return response
