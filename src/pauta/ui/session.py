"""Who is looking at a page: the session behind the cookie, roles, CSRF on forms, flash notes.

Pages answer an anonymous visitor with a redirect to the login form (not the API's 401), and
state-changing forms check the session's CSRF token and the user's role themselves, so a
viewer who posts a form anyway gets a 403 page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, unquote, urlsplit

from fastapi import Depends, Request, Response

from pauta.api import auth
from pauta.app import users
from pauta.app.credentials import same
from pauta.store.repository import Store

FLASH_COOKIE = "pauta_flash"


class LoginRequired(Exception):
    """The page needs a session; the app answers with a redirect to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    """The user may not do this (role or CSRF token); the app answers 403 with a page."""


@dataclass(frozen=True, slots=True)
class PageSession:
    user: users.User
    csrf: str

    def may(self, role: str) -> bool:
        return self.user.may(role)


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def safe_next(value: str | None) -> str:
    """Where to go after login: a path on this site only (never ``//host`` or ``http://``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def back(request: Request, default: str = "/") -> str:
    """The page a form was posted from (same site only), to return to after the action."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return default
    path = referer.path + (f"?{referer.query}" if referer.query else "")
    return safe_next(path) if referer.path else default


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(here, safe="/")


def page_session(request: Request) -> PageSession:
    """The session of a page request; LoginRequired when there is none (or it expired)."""
    token = request.cookies.get(auth.SESSION_COOKIE)
    found = users.session_user(store_of(request), token) if token else None
    if found is None:
        raise LoginRequired(login_url(request))
    user, csrf = found
    request.state.user, request.state.csrf, request.state.auth = user, csrf, "session"
    return PageSession(user, csrf)


Session = Annotated[PageSession, Depends(page_session)]


async def check_form(request: Request, session: PageSession, role: str) -> None:
    """Refuse a form post without the session's CSRF token, or from a user below ``role``."""
    value = request.headers.get(auth.CSRF_HEADER)
    if value is None:
        field = (await request.form()).get(auth.CSRF_FIELD)
        value = field if isinstance(field, str) else None
    if not value or not same(value, session.csrf):
        raise Forbidden("the form's CSRF token is missing or stale: reload the page and retry")
    if not session.may(role):
        raise Forbidden(
            f"user {session.user.username!r} ({session.user.role}) may not do this: "
            f"it needs the {role} role"
        )


def flash(response: Response, message: str) -> None:
    """A one-time note shown on the next page (what an action did, or why it failed)."""
    response.set_cookie(FLASH_COOKIE, quote(message[:300]), max_age=60, httponly=True)


def read_flash(request: Request) -> str | None:
    value = request.cookies.get(FLASH_COOKIE)
    return unquote(value) if value is not None else None
