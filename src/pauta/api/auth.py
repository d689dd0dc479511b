"""Who is calling: users, roles, API tokens, web sessions and CSRF checks.

Every API endpoint (and every UI page but the login form) needs a bearer token
(``Authorization: Bearer TOKEN``) or a session cookie. Roles are ordered: an admin may do
everything, an operator may also trigger, retry, cancel, resume and pause, a viewer may read.
A state-changing request made with a session cookie must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``); bearer requests need none, since a
browser never adds a bearer token on its own.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from pauta.api import security
from pauta.core.clock import utcnow
from pauta.core.errors import PautaError
from pauta.store.auth import AuthStore, UnknownTokenError
from pauta.store.repository import Store

SESSION_COOKIE = "pauta_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_TTL = timedelta(hours=12)
ROLES = ("viewer", "operator", "admin")
"""From least to most allowed: each role may do what the ones before it may."""
ADMIN_USERNAME = "admin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthError(PautaError):
    """A user, role or password is not acceptable."""


class WrongPasswordError(AuthError):
    """A password given to confirm a change does not match."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this user has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


_auth_stores: weakref.WeakKeyDictionary[Store, AuthStore] = weakref.WeakKeyDictionary()


def _auth(store: Store) -> AuthStore:
    found = _auth_stores.get(store)
    if found is None:
        found = _auth_stores[store] = AuthStore(store)
    return found


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; use one of {', '.join(reversed(ROLES))}")
    return role


# users and tokens -----------------------------------------------------------------------------
def create_user(store: Store, username: str, password: str, role: str) -> User:
    """Add a user with an argon2-hashed password. AuthError on a bad name, role or password."""
    check_role(role)
    if not username or len(username) > 255 or username != username.strip():
        raise AuthError("a user name must be 1 to 255 characters, without surrounding spaces")
    _check_password(password)
    _auth(store).create_user(username, security.hash_password(password), role, utcnow())
    return User(username, role)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AuthError("a password must be at least 8 characters long")


def change_password(store: Store, username: str, password: str) -> int:
    """Give a user a new password and end its sessions (a stolen cookie stops working);
    how many sessions ended. API tokens are kept: revoke them with `pauta tokens revoke`."""
    _check_password(password)
    auth = _auth(store)
    auth.set_password(username, security.hash_password(password))
    return auth.end_sessions(username)


def set_role(store: Store, username: str, role: str) -> User:
    """Give a user another role (it applies to its sessions and tokens at once); never take
    the last admin's away."""
    _auth(store).set_role(username, check_role(role))
    return User(username, role)


def delete_user(store: Store, username: str) -> None:
    """Remove a user with its API tokens and sessions; never the last admin."""
    _auth(store).delete_user(username)


def list_users(store: Store) -> list[dict[str, str | None]]:
    """Every user: name, role, created_at (ISO 8601)."""
    return [
        {"username": u.username, "role": u.role, "created_at": u.created_at.isoformat()}
        for u in _auth(store).list_users()
    ]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created: the only time the token itself is known."""

    id: str
    """For listing and revoking it."""
    token: str
    expires_at: datetime | None
    """None: it never expires."""


_LIFETIME = re.compile(r"([1-9][0-9]{0,5})([dhm])")
_LIFETIME_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_TOKEN_LIFETIME = timedelta(days=3650)


def parse_lifetime(text: str) -> timedelta:
    """A token lifetime such as ``90d``, ``12h`` or ``30m``. AuthError for anything else."""
    found = _LIFETIME.fullmatch(text.strip())
    lifetime = timedelta(**{_LIFETIME_UNITS[found[2]]: int(found[1])}) if found else None
    if lifetime is None or lifetime > MAX_TOKEN_LIFETIME:
        raise AuthError(
            f"token lifetime {text!r} is not a whole number of days, hours or minutes like "
            f"90d, 12h or 30m (at most {MAX_TOKEN_LIFETIME.days}d)"
        )
    return lifetime


def issue_token(store: Store, username: str, lifetime: timedelta | None = None) -> IssuedToken:
    """A new API token for ``username``, valid for ``lifetime`` (default: until revoked).
    Only the token's hash is kept, so it is shown once."""
    token = security.new_token()
    token_id = security.new_token()[:16]
    now = utcnow()
    expires_at = now + lifetime if lifetime is not None else None
    _auth(store).add_token(token_id, username, security.token_hash(token), now, expires_at)
    return IssuedToken(token_id, token, expires_at)


def create_token(store: Store, username: str) -> str:
    """A new API token for ``username`` that never expires (see ``issue_token``)."""
    return issue_token(store, username).token


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def list_tokens(store: Store, username: str | None = None) -> list[dict[str, str | None]]:
    """API tokens (never the tokens themselves): id, username, created_at, last_used_at,
    expires_at (None: never)."""
    return [
        {
            "id": t.id,
            "username": t.username,
            "created_at": t.created_at.isoformat(),
            "last_used_at": _iso(t.last_used_at),
            "expires_at": _iso(t.expires_at),
        }
        for t in _auth(store).list_tokens(username)
    ]


def revoke_token(store: Store, token_id: str) -> None:
    """Revoke an API token by its id: requests carrying it are answered 401 from now on."""
    if not _auth(store).delete_token(token_id):
        raise UnknownTokenError(
            f"no API token with id {token_id!r}; `pauta tokens list` shows the ids"
        )


def ensure_admin(store: Store) -> str | None:
    """When the store has no user yet, create the admin user and return its generated
    password (to be shown once); else None."""
    auth = _auth(store)
    if auth.count_users():
        return None
    password = security.new_password()
    try:
        create_user(store, ADMIN_USERNAME, password, "admin")
    except PautaError:
        return None  # another server created it at the same moment
    return password


def login_record(store: Store, username: str) -> tuple[User, str] | None:
    """The user of this name and its password hash, or None; for checking the password
    elsewhere (``pauta.api.logins``)."""
    record = _auth(store).get_user(username)
    return (User(record.username, record.role), record.password_hash) if record else None


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user with this name and password, or None. Checks the password on the calling
    thread: request handlers go through ``pauta.api.logins`` instead."""
    record = _auth(store).get_user(username)
    if not security.check_password(record.password_hash if record else None, password):
        return None
    assert record is not None
    return User(record.username, record.role)


class ExpiredTokenError(AuthError):
    """An API token past its expiry."""


def user_for_token(store: Store, token: str) -> User | None:
    """The user of an API token, or None for an unknown one; ExpiredTokenError when it
    expired."""
    now = utcnow()
    found = _auth(store).token_owner(security.token_hash(token), now)
    if found is None:
        return None
    record, expires_at = found
    if expires_at is not None and now >= expires_at:
        raise ExpiredTokenError(
            f"the API token expired at {expires_at.isoformat()}; create a new one with "
            f"`pauta tokens create {record.username} --expires 90d`"
        )
    return User(record.username, record.role)


def has_credentials(store: Store, authorization: str, session_cookie: str) -> bool:
    """Whether an ``Authorization`` header value or a session cookie is valid now (a live
    bearer token, a live session); for limits applied before a route checks them."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            return user_for_token(store, token.strip()) is not None
        except ExpiredTokenError:
            return False
    return bool(session_cookie) and session_user(store, session_cookie) is not None


# sessions -------------------------------------------------------------------------------------
def start_session(store: Store, user: User) -> tuple[str, str]:
    """A new session for ``user``: (token for the cookie, CSRF token)."""
    token, csrf = security.new_token(), security.new_token()
    now = utcnow()
    _auth(store).add_session(
        security.token_hash(token), user.username, csrf, now, now + SESSION_TTL
    )
    return token, csrf


def end_session(store: Store, session_token: str) -> None:
    _auth(store).delete_session(security.token_hash(session_token))


def session_user(store: Store, session_token: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live session, or None."""
    found = _auth(store).session(security.token_hash(session_token), utcnow())
    if found is None:
        return None
    record, csrf = found
    return User(record.username, record.role), csrf


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
