"""Who is calling: users, roles, API tokens, web sessions and CSRF checks.

Every API endpoint (and every UI page but the login form) needs a bearer token
(``Authorization: Bearer TOKEN``) or a session cookie. Roles are ordered: an admin may do
everything, an operator may also trigger, retry, cancel, resume and pause, a viewer may read.
A state-changing request made with a session cookie must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``); bearer requests need none, since a
browser never adds a bearer token on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from pauta.app import credentials as security
from pauta.app.users import (
    SESSION_TTL,
    ExpiredTokenError,
    User,
    check_role,
    session_user,
    user_for_token,
)
from pauta.store.repository import Store

SESSION_COOKIE = "pauta_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_session_cookie(response: Response, token: str, request: Request) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure when served over https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


# FastAPI dependencies -------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="An API token from `pauta tokens create`.")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The web UI's session cookie."
)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    """The caller, from a bearer token or else a session cookie; 401 without either.

    Sets ``request.state.auth`` to "bearer" or "session" and, for a session, its CSRF token in
    ``request.state.csrf``.
    """
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    store: Store = request.app.state.store
    if request.headers.get("authorization"):
        if bearer is None:
            raise _unauthorized("the Authorization header must be 'Bearer TOKEN'")
        try:
            user = user_for_token(store, bearer.credentials)
        except ExpiredTokenError as exc:
            raise _unauthorized(str(exc)) from None
        if user is None:
            raise _unauthorized("unknown API token; create one with `pauta tokens create USER`")
        request.state.auth, request.state.csrf = "bearer", None
    elif cookie:
        found = session_user(store, cookie)
        if found is None:
            raise _unauthorized("the session expired or was ended; log in again")
        user, request.state.csrf = found
        request.state.auth = "session"
    else:
        raise _unauthorized("authentication needed: an API token (Authorization: Bearer) or log in")
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


@cache
def require_role(role: str) -> Callable[[User], User]:
    """A dependency that lets through users with ``role`` or a stronger one; 403 for others."""
    check_role(role)

    def dependency(user: CurrentUser) -> User:
        if not user.may(role):
            raise HTTPException(
                403, f"user {user.username!r} ({user.role}) may not do this: it needs {role}"
            )
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


async def verify_csrf(request: Request, user: CurrentUser) -> None:
    """Refuse (403) a state-changing request authenticated by a session cookie without the
    session's CSRF token. Safe methods and bearer requests pass."""
    if request.method in SAFE_METHODS or getattr(request.state, "auth", None) != "session":
        return
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if given is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    expected = getattr(request.state, "csrf", None)
    if not given or not expected or not security.same(given, expected):
        raise HTTPException(
            403, f"missing or wrong CSRF token: send the session's token in {CSRF_HEADER}"
        )


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session, for forms in templates ("" without one)."""
    return getattr(request.state, "csrf", None) or ""
