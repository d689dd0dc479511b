"""Authentication and roles: tokens, sessions, CSRF, 401 and 403 for every endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from api_support import PASSWORD, add_run, bearer
from fastapi.testclient import TestClient

from pauta.api import auth
from pauta.app import users
from pauta.core.clock import FrozenClock
from pauta.core.states import FlowRunState
from pauta.store.repository import Store

# (method, path, body, the weakest role allowed); {run} is a failed run's id
ENDPOINTS = [
    ("GET", "/api/v1/flows", None, "viewer"),
    ("GET", "/api/v1/flows/greet", None, "viewer"),
    ("POST", "/api/v1/flows/greet/pause", None, "operator"),
    ("POST", "/api/v1/flows/greet/unpause", None, "operator"),
    ("GET", "/api/v1/flows/greet/runs", None, "viewer"),
    ("GET", "/api/v1/flows/greet/metrics", None, "viewer"),
    ("POST", "/api/v1/flows/greet/runs", {"params": {"name": "x"}}, "operator"),
    ("GET", "/api/v1/runs", None, "viewer"),
    ("GET", "/api/v1/runs/{run}", None, "viewer"),
    ("POST", "/api/v1/runs/{run}/resume", None, "operator"),
    ("POST", "/api/v1/runs/{run}/cancel", None, "operator"),
    ("GET", "/api/v1/runs/{run}/tasks", None, "viewer"),
    ("GET", "/api/v1/runs/{run}/logs", None, "viewer"),
    ("GET", "/api/v1/runs/{run}/flow-log", None, "viewer"),
    ("POST", "/api/v1/runs/{run}/tasks/x-0/retry", None, "operator"),
    ("GET", "/api/v1/runs/{run}/tasks/x-0/logs", None, "viewer"),
    ("GET", "/api/v1/pools", None, "viewer"),
    ("PUT", "/api/v1/pools/db", {"slots": 2}, "admin"),
    ("GET", "/api/v1/me", None, "viewer"),
    ("GET", "/api/v1/users", None, "admin"),
    ("POST", "/api/v1/users", {"username": "u", "password": "p" * 8, "role": "viewer"}, "admin"),
    ("POST", "/api/v1/users/admin/tokens", None, "admin"),
    ("GET", "/metrics", None, "viewer"),
    ("GET", "/api/v1/services", None, "viewer"),
    ("GET", "/api/v1/services/churn", None, "viewer"),
    ("GET", "/api/v1/services/churn/logs", None, "viewer"),
    ("POST", "/api/v1/services/churn/revisions", {"config": {"x": 1}}, "operator"),
    ("POST", "/api/v1/services/churn/rollback", None, "operator"),
    ("POST", "/api/v1/services/churn/stop", None, "operator"),
]


@pytest.mark.parametrize(("method", "path", "body", "role"), ENDPOINTS)
def test_every_endpoint_needs_credentials_and_the_role(
    client: TestClient,
    tokens: dict[str, str],
    store: Store,
    method: str,
    path: str,
    body: dict | None,
    role: str,
) -> None:
    url = path.format(run=add_run(store, state=FlowRunState.FAILED).id)
    anonymous = client.request(method, url, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = client.request(method, url, json=body, headers=bearer("not-a-token"))
    assert wrong.status_code == 401
    for who in users.ROLES:
        reply = client.request(method, url, json=body, headers=bearer(tokens[who]))
        if users.ROLES.index(who) < users.ROLES.index(role):
            assert reply.status_code == 403, (who, reply.text)
            assert role in reply.json()["detail"]
        else:
            assert reply.status_code not in (401, 403), (who, reply.text)


def test_health_needs_no_credentials(client: TestClient) -> None:
    reply = client.get("/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "flows": 2, "load_errors": 1}


def test_health_is_503_until_ready(client: TestClient) -> None:
    client.app.state.ready.clear()  # type: ignore[attr-defined]
    assert client.get("/health").status_code == 503
    client.app.state.ready.set()  # type: ignore[attr-defined]
    assert client.get("/health").status_code == 200


def test_a_malformed_authorization_header_is_401(client: TestClient) -> None:
    for value in ("Basic abc", "Bearer", "token"):
        reply = client.get("/api/v1/runs", headers={"Authorization": value})
        assert reply.status_code == 401, value


def test_authenticate_checks_name_and_password(store: Store) -> None:
    users.create_user(store, "ada", PASSWORD, "operator")
    assert users.authenticate(store, "ada", PASSWORD) == users.User("ada", "operator")
    assert users.authenticate(store, "ada", "wrong password") is None
    assert users.authenticate(store, "bob", PASSWORD) is None


def test_passwords_and_tokens_are_stored_hashed(store: Store) -> None:
    import sqlalchemy as sa

    from pauta.store.tables import api_tokens
    from pauta.store.tables import users as users_table

    users.create_user(store, "ada", PASSWORD, "viewer")
    token = users.create_token(store, "ada")
    with store.engine.connect() as conn:
        stored_hash = conn.execute(sa.select(users_table.c.password_hash)).scalar()
        token_row = conn.execute(sa.select(api_tokens.c.token_hash)).scalar()
    assert stored_hash.startswith("$argon2id$")
    assert PASSWORD not in stored_hash
    assert token not in token_row
    assert len(token_row) == 64


@pytest.mark.parametrize(
    ("name", "password", "role"),
    [("ada", "short", "viewer"), ("ada", PASSWORD, "root"), ("", PASSWORD, "viewer")],
)
def test_create_user_refuses_bad_input(store: Store, name: str, password: str, role: str) -> None:
    with pytest.raises(users.AuthError):
        users.create_user(store, name, password, role)


def test_ensure_admin_creates_the_first_admin_once(store: Store) -> None:
    password = users.ensure_admin(store)
    assert password
    assert users.authenticate(store, "admin", password) == users.User("admin", "admin")
    assert users.ensure_admin(store) is None


def test_session_cookie_and_csrf(client: TestClient, store: Store) -> None:
    user = users.create_user(store, "ada", PASSWORD, "operator")
    token, csrf = users.start_session(store, user)
    assert users.session_user(store, token) == (user, csrf)
    client.cookies.set(auth.SESSION_COOKIE, token)
    me = client.get("/api/v1/me")
    assert me.json() == {"username": "ada", "role": "operator", "auth": "session"}
    # state-changing requests with a cookie need the session's CSRF token
    assert client.post("/api/v1/flows/greet/pause").status_code == 403
    wrong = client.post("/api/v1/flows/greet/pause", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    right = client.post("/api/v1/flows/greet/pause", headers={"X-CSRF-Token": csrf})
    assert right.status_code == 200
    assert right.json()["paused"] is True
    form = client.post(
        "/api/v1/flows/greet/unpause",
        data={"csrf_token": csrf},
    )
    assert form.status_code == 200
    assert form.json()["paused"] is False
    users.end_session(store, token)
    assert users.session_user(store, token) is None
    assert client.get("/api/v1/me").status_code == 401


def test_bearer_requests_need_no_csrf_token(client: TestClient, tokens: dict[str, str]) -> None:
    reply = client.post("/api/v1/flows/greet/pause", headers=bearer(tokens["operator"]))
    assert reply.status_code == 200


def test_an_expired_session_is_refused(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    user = users.create_user(store, "ada", PASSWORD, "viewer")
    monkeypatch.setattr(users, "SESSION_TTL", timedelta(seconds=-1))
    token, _ = users.start_session(store, user)
    assert users.session_user(store, token) is None


def test_session_cookie_flags(client: TestClient) -> None:
    from fastapi import Response

    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        response = Response()
        request = type("R", (), {"url": type("U", (), {"scheme": base.split(":")[0]})()})()
        auth.set_session_cookie(response, "tok", request)  # type: ignore[arg-type]
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert ("Secure" in cookie) is secure


def test_tokens_for_yourself_or_as_admin(client: TestClient, tokens: dict[str, str]) -> None:
    own = client.post("/api/v1/users/viewer/tokens", headers=bearer(tokens["viewer"]))
    assert own.status_code == 201
    new = own.json()["token"]
    assert client.get("/api/v1/me", headers=bearer(new)).json()["username"] == "viewer"
    other = client.post("/api/v1/users/admin/tokens", headers=bearer(tokens["viewer"]))
    assert other.status_code == 403
    missing = client.post("/api/v1/users/nobody/tokens", headers=bearer(tokens["admin"]))
    assert missing.status_code == 404


@pytest.fixture
def frozen(store: Store) -> Iterator[FrozenClock]:
    """The store's clock, frozen: everything that reads the time through the store sees it."""
    clock = FrozenClock(datetime(2026, 3, 1, tzinfo=UTC))
    previous, store.clock = store.clock, clock
    yield clock
    store.clock = previous


def test_an_expired_token_is_401_saying_so(
    client: TestClient, tokens: dict[str, str], frozen: FrozenClock
) -> None:
    as_viewer = bearer(tokens["viewer"])
    made = client.post("/api/v1/users/viewer/tokens", json={"expires": "12h"}, headers=as_viewer)
    assert made.status_code == 201
    assert made.json()["expires_at"] == "2026-03-01T12:00:00+00:00"
    short = bearer(made.json()["token"])
    listed = client.get("/api/v1/users/viewer/tokens", headers=as_viewer).json()
    assert sorted(t["expires_at"] or "never" for t in listed) == [
        "2026-03-01T12:00:00+00:00",
        "never",
    ]
    frozen.advance(hours=11, minutes=59)
    assert client.get("/api/v1/me", headers=short).status_code == 200
    frozen.advance(minutes=1)
    expired = client.get("/api/v1/me", headers=short)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert client.get("/api/v1/me", headers=as_viewer).status_code == 200  # no expiry
    bad = client.post("/api/v1/users/viewer/tokens", json={"expires": "soon"}, headers=as_viewer)
    assert bad.status_code == 422
    assert "90d" in bad.json()["message"]


@pytest.mark.parametrize(
    ("text", "delta"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30))],
)
def test_token_lifetimes_are_read(text: str, delta: timedelta) -> None:
    assert users.parse_lifetime(text) == delta


@pytest.mark.parametrize("text", ["", "90", "d", "-1d", "0d", "1.5h", "3y", "99999999999d"])
def test_bad_token_lifetimes_are_refused(text: str) -> None:
    with pytest.raises(users.AuthError, match="like 90d, 12h or 30m"):
        users.parse_lifetime(text)
