"""Users, roles, API tokens and web sessions: who may call pauta, below any interface.

The CLI (`pauta users`, `pauta tokens`), the REST API and the UI all manage accounts through
these functions; none of them needs FastAPI. Passwords are argon2 hashes and tokens are stored
as sha256 hashes (``pauta.app.credentials``).
"""

from __future__ import annotations

import re
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from pauta.app import credentials as security
from pauta.core.errors import PautaError
from pauta.store.auth import AuthStore, UnknownTokenError
from pauta.store.repository import Store

SESSION_TTL = timedelta(hours=12)
ROLES = ("viewer", "operator", "admin")
"""From least to most allowed: each role may do what the ones before it may."""
ADMIN_USERNAME = "admin"


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
    _auth(store).create_user(username, security.hash_password(password), role, store.clock.now())
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
    # hex, so an id never starts with '-' and reads as an option to `pauta tokens revoke`
    token_id = secrets.token_hex(8)
    now = store.clock.now()
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
    now = store.clock.now()
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
    now = store.clock.now()
    _auth(store).add_session(
        security.token_hash(token), user.username, csrf, now, now + SESSION_TTL
    )
    return token, csrf


def end_session(store: Store, session_token: str) -> None:
    _auth(store).delete_session(security.token_hash(session_token))


def session_user(store: Store, session_token: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live session, or None."""
    found = _auth(store).session(security.token_hash(session_token), store.clock.now())
    if found is None:
        return None
    record, csrf = found
    return User(record.username, record.role), csrf
