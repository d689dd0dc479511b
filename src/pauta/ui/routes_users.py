"""The Users page (admins only): users with their roles, and the API tokens, with forms to add
a user, change a role, delete a user, create a token and revoke one.

Every form carries the session's CSRF token and is checked for the admin role. Names travel
in form fields, not in paths, so any user name (slashes, markup) posts and renders as text. A
new token's secret is in the answer to the form that created it and nowhere else: not in a
flash cookie, not in a redirect, never again on a later page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pauta.app import users
from pauta.core.errors import PautaError
from pauta.ui.render import page
from pauta.ui.session import Forbidden, PageSession, Session, check_form, flash, store_of

router = APIRouter(include_in_schema=False)

HERE = "/users"
LIFETIMES = (
    ("", "never"),
    ("1d", "1 day"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "1 year"),
)
"""The expiry choices of the token form (any lifetime like 12h works through the API and CLI)."""


def _admin(session: PageSession) -> None:
    if not session.may("admin"):
        raise Forbidden(
            f"user {session.user.username!r} ({session.user.role}) may not manage users and "
            "tokens: it needs the admin role"
        )


def _page(request: Request, session: PageSession, *, status: int = 200, **context: Any) -> Response:
    store = store_of(request)
    values = {
        "users": users.list_users(store),
        "tokens": users.list_tokens(store),
        "roles": list(reversed(users.ROLES)),
        "lifetimes": LIFETIMES,
        "nav": "users",
        **context,
    }
    response = page(request, "users.html", session, values, status=status)
    # the answer that shows a new token must not be kept by the browser or a proxy
    response.headers["Cache-Control"] = "no-store"
    return response


async def _form(request: Request, session: PageSession) -> dict[str, str]:
    await check_form(request, session, "admin")
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _back(message: str) -> Response:
    response = RedirectResponse(HERE, status_code=303)
    flash(response, message)
    return response


@router.get(HERE, response_class=HTMLResponse)
def users_page(request: Request, session: Session) -> Response:
    _admin(session)
    return _page(request, session)


@router.post(HERE + "/create")
async def create_user(request: Request, session: Session) -> Response:
    form = await _form(request, session)
    name = form.get("username", "")
    try:
        # hashing the password takes a while: not on the event loop
        await run_in_threadpool(
            users.create_user,
            store_of(request),
            name,
            form.get("password", ""),
            form.get("role", ""),
        )
    except PautaError as exc:
        # the name is shown again, escaped; the password never is
        return _page(request, session, status=422, user_error=str(exc), form_username=name)
    return _back(f"user {name} created ({form.get('role')})")


@router.post(HERE + "/role")
async def set_role(request: Request, session: Session) -> Response:
    form = await _form(request, session)
    name, role = form.get("username", ""), form.get("role", "")
    try:
        users.set_role(store_of(request), name, role)
    except PautaError as exc:
        return _back(str(exc))
    return _back(f"user {name} is now {role}")


@router.post(HERE + "/delete")
async def delete_user(request: Request, session: Session) -> Response:
    form = await _form(request, session)
    name = form.get("username", "")
    try:
        users.delete_user(store_of(request), name)
    except PautaError as exc:
        return _back(str(exc))
    return _back(f"user {name} deleted, with its tokens and sessions")


@router.post("/tokens/create")
async def create_token(request: Request, session: Session) -> Response:
    form = await _form(request, session)
    name, expires = form.get("username", ""), form.get("expires", "").strip()
    store = store_of(request)
    try:
        lifetime = users.parse_lifetime(expires) if expires else None
        if name not in {u["username"] for u in users.list_users(store)}:
            raise users.AuthError(f"no user {name!r}: create the user first")
        issued = users.issue_token(store, name, lifetime)
    except PautaError as exc:
        return _page(request, session, status=422, token_error=str(exc))
    return _page(request, session, issued=issued, issued_for=name)


@router.post("/tokens/revoke")
async def revoke_token(request: Request, session: Session) -> Response:
    form = await _form(request, session)
    token_id = form.get("token_id", "")
    try:
        users.revoke_token(store_of(request), token_id)
    except PautaError as exc:
        return _back(str(exc))
    return _back(f"token {token_id} revoked: requests carrying it are refused from now on")
