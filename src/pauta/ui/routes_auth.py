"""The login form and logging out.

The login form carries a token of its own, also set as a cookie that only this site's login
page receives (SameSite=Strict, path /login): a form posted from another site has no cookie to
match, so nobody can log a visitor in as somebody else (login CSRF). There is no session yet,
hence no session CSRF token to use.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pauta.api import auth, logins
from pauta.app import users
from pauta.app.credentials import new_token, same
from pauta.ui.render import page
from pauta.ui.session import safe_next, store_of

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "pauta_login"
LOGIN_FORM_TTL_S = 3600
STALE_FORM = "This login form expired or came from another site: log in again."


def login_page(
    request: Request, next: str, error: str | None, username: str = "", status: int = 200
) -> Response:
    """The login form, with a fresh form token in a hidden field and in its cookie."""
    token = new_token()
    context = {"next": safe_next(next), "error": error, "username": username, "token": token}
    response = page(request, "login.html", None, context, status=status)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_FORM_TTL_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token and users.session_user(store_of(request), token):
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, next, None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    login_token: Annotated[str, Form()] = "",
) -> Response:
    # async: the password is checked in the login pool, awaited without taking one of the
    # request threads that /health and the API need (pauta.api.logins)
    expected = request.cookies.get(LOGIN_COOKIE)
    if not login_token or not expected or not same(login_token, expected):
        return login_page(request, next, STALE_FORM, username, status=403)
    store = store_of(request)
    user = None
    if username and password:
        guard = logins.guard_of(request)
        try:
            user = await guard.authenticate(
                store, username, password, logins.client_address(request)
            )
        except (logins.LoginThrottledError, logins.LoginBusyError) as exc:
            status = 429 if isinstance(exc, logins.LoginThrottledError) else 503
            refused = login_page(request, next, _sentence(str(exc)), username, status=status)
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
    if user is None:
        return login_page(request, next, "Wrong user name or password.", username, status=401)
    token, _csrf = await run_in_threadpool(users.start_session, store, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    auth.set_session_cookie(response, token, request)
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict")
    return response


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


@router.post("/logout")
def logout(request: Request) -> Response:
    # No CSRF check: ending a session is harmless, and a stale page must still log out.
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        users.end_session(store_of(request), token)
    response = RedirectResponse("/login", status_code=303)
    auth.clear_session_cookie(response)
    return response
