"""``/api/v1/pools``, ``/api/v1/users``, ``/api/v1/me``: pools, users and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from pauta.api import logins
from pauta.api.deps import Admin, StoreDep, Viewer
from pauta.api.schemas import (
    Error,
    Me,
    NewPassword,
    NewRole,
    NewToken,
    NewUser,
    Pool,
    PoolSize,
    TokenOptions,
    TokenOut,
    UserOut,
)
from pauta.app import users
from pauta.store.auth import UnknownTokenError

router = APIRouter()

PoolName = Annotated[str, Path(max_length=255, pattern=r"^[^\x00-\x1f]+$")]
Username = Annotated[str, Path(max_length=255, pattern=r"^[^\x00-\x1f]+$")]


@router.get("/pools", response_model=list[Pool], tags=["pools"])
def list_pools(user: Viewer, store: StoreDep) -> list[dict[str, Any]]:
    """Every pool and its slots, by name."""
    return [{"name": name, "slots": slots} for name, slots in sorted(store.list_pools().items())]


@router.put("/pools/{name}", response_model=Pool, tags=["pools"])
def set_pool(name: PoolName, size: PoolSize, user: Admin, store: StoreDep) -> dict[str, Any]:
    """Create or resize a pool: at most `slots` of its tasks run at once (0 holds them)."""
    store.set_pool(name, size.slots)
    return {"name": name, "slots": size.slots}


@router.get("/me", response_model=Me, tags=["users"])
def me(user: Viewer, request: Request) -> dict[str, Any]:
    """Who the credentials belong to, and their role."""
    return {"username": user.username, "role": user.role, "auth": request.state.auth}


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(user: Admin, store: StoreDep) -> list[dict[str, Any]]:
    """Every user and role (admin only)."""
    return users.list_users(store)


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(new: NewUser, user: Admin, store: StoreDep) -> dict[str, Any]:
    """Add a user (admin only). 409 when the name is taken."""
    created = users.create_user(store, new.username, new.password, new.role)
    return {"username": created.username, "role": created.role}


@router.delete("/users/{username}", status_code=204, tags=["users"])
def delete_user(username: Username, user: Admin, store: StoreDep) -> Response:
    """Remove a user with its API tokens and sessions (admin only); 409 for the last admin."""
    users.delete_user(store, username)
    return Response(status_code=204)


@router.put("/users/{username}/role", response_model=UserOut, tags=["users"])
def set_role(username: Username, new: NewRole, user: Admin, store: StoreDep) -> dict[str, Any]:
    """Give a user another role (admin only); 409 when it would leave no admin."""
    changed = users.set_role(store, username, new.role)
    return {"username": changed.username, "role": changed.role}


@router.put(
    "/users/{username}/password",
    status_code=204,
    tags=["users"],
    responses={
        429: {"model": Error, "description": "Too many wrong current passwords: see Retry-After."},
        503: {"model": Error, "description": "Busy checking other passwords: retry shortly."},
    },
)
async def set_password(
    username: Username, new: NewPassword, user: Viewer, store: StoreDep, request: Request
) -> Response:
    """Set the password of `username` and end that user's sessions; API tokens keep working.

    Your own password needs `current_password` (403 when it is wrong; 429 after repeated
    wrong ones); an admin resets another user's without it."""
    if username == user.username:
        guard = logins.guard_of(request)
        address = logins.client_address(request)
        await guard.confirm(store, username, new.current_password, address)
    elif not user.may("admin"):
        raise HTTPException(403, "only an admin may set another user's password")
    await run_in_threadpool(users.change_password, store, username, new.password)
    return Response(status_code=204)


@router.post("/users/{username}/tokens", response_model=NewToken, status_code=201, tags=["users"])
def create_token(
    username: Username, user: Viewer, store: StoreDep, options: TokenOptions | None = None
) -> dict[str, Any]:
    """A new API token for `username` (yourself, or anyone for an admin); shown only once.
    `expires` (like 90d, 12h, 30m) limits how long it works."""
    if username != user.username and not user.may("admin"):
        raise HTTPException(403, "only an admin may create tokens for another user")
    expires = options.expires if options is not None else None
    lifetime = users.parse_lifetime(expires) if expires is not None else None
    issued = users.issue_token(store, username, lifetime)
    expires_at = issued.expires_at.isoformat() if issued.expires_at else None
    return {"username": username, "id": issued.id, "token": issued.token, "expires_at": expires_at}


TokenId = Annotated[str, Path(max_length=64, pattern=r"^[^\x00-\x1f]+$")]


@router.get("/users/{username}/tokens", response_model=list[TokenOut], tags=["users"])
def list_tokens(username: Username, user: Viewer, store: StoreDep) -> list[dict[str, Any]]:
    """The API tokens of `username` (yours, or anyone's for an admin): ids and dates only."""
    if username != user.username and not user.may("admin"):
        raise HTTPException(403, "only an admin may list another user's tokens")
    return users.list_tokens(store, username)


@router.delete("/tokens/{token_id}", status_code=204, tags=["users"])
def revoke_token(token_id: TokenId, user: Viewer, store: StoreDep) -> Response:
    """Revoke an API token (one of yours, or anyone's for an admin); 404 for an unknown id."""
    mine = {t["id"] for t in users.list_tokens(store, user.username)}
    if token_id not in mine and not user.may("admin"):
        # another user's token is answered like an unknown one: ids are not disclosed
        raise UnknownTokenError(f"no API token of yours has the id {token_id!r}")
    users.revoke_token(store, token_id)
    return Response(status_code=204)
