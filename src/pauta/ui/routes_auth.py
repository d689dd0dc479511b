"""The login form and logging out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pauta.api import auth
from pauta.ui.render import page
from pauta.ui.session import safe_next, store_of

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token and auth.session_user(store_of(request), token):
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", None, {"next": safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    store = store_of(request)
    user = auth.authenticate(store, username, password) if username and password else None
    if user is None:
        context = {
            "next": safe_next(next),
            "error": "Wrong user name or password.",
            "username": username,
        }
        return page(request, "login.html", None, context, status=401)
    token, _csrf = auth.start_session(store, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    auth.set_session_cookie(response, token, request)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    # No CSRF check: ending a session is harmless, and a stale page must still log out.
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        auth.end_session(store_of(request), token)
    response = RedirectResponse("/login", status_code=303)
    auth.clear_session_cookie(response)
    return response
