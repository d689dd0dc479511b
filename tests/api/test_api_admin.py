"""Flows, pools, users and /metrics through the API."""

from __future__ import annotations

from api_support import PASSWORD, add_run, bearer
from fastapi.testclient import TestClient

from pauta.app import users
from pauta.core.states import FlowRunState
from pauta.store.repository import Store


def test_flows_list_and_show(client: TestClient, as_admin: dict[str, str]) -> None:
    listed = client.get("/api/v1/flows", headers=as_admin).json()
    names = [f["name"] for f in listed]
    assert names[:2] == ["greet", "nightly"]
    broken = listed[2]
    assert broken["name"] is None
    assert broken["error"]["type"] == "ModuleNotFoundError"
    greet = client.get("/api/v1/flows/greet", headers=as_admin).json()
    assert greet["description"] == "Say hello."
    assert [p["name"] for p in greet["parameters"]] == ["name", "times"]
    assert greet["parameters_schema"]["required"] == ["name"]
    assert greet["schedule"] is None
    assert greet["next_run"] is None
    nightly = client.get("/api/v1/flows/nightly", headers=as_admin).json()
    assert nightly["schedule"] == "0 3 * * *"
    assert nightly["next_run"].endswith("03:00:00+00:00")
    assert client.get("/api/v1/flows/nope", headers=as_admin).status_code == 404


def test_pause_and_unpause(client: TestClient, as_admin: dict[str, str], store: Store) -> None:
    reply = client.post("/api/v1/flows/nightly/pause", headers=as_admin)
    assert reply.json()["paused"] is True
    assert store.get_flow("nightly")["paused"] is True
    reply = client.post("/api/v1/flows/nightly/unpause", headers=as_admin)
    assert reply.json()["paused"] is False
    assert client.post("/api/v1/flows/nope/pause", headers=as_admin).status_code == 404


def test_pools(client: TestClient, as_admin: dict[str, str]) -> None:
    assert client.get("/api/v1/pools", headers=as_admin).json() == []
    reply = client.put("/api/v1/pools/db", json={"slots": 4}, headers=as_admin)
    assert reply.json() == {"name": "db", "slots": 4}
    client.put("/api/v1/pools/db", json={"slots": 2}, headers=as_admin)
    assert client.get("/api/v1/pools", headers=as_admin).json() == [{"name": "db", "slots": 2}]
    bad = client.put("/api/v1/pools/db", json={"slots": -1}, headers=as_admin)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "slots"


def test_users(client: TestClient, as_admin: dict[str, str]) -> None:
    new = {"username": "grace", "password": "a long password", "role": "operator"}
    created = client.post("/api/v1/users", json=new, headers=as_admin)
    assert created.status_code == 201
    again = client.post("/api/v1/users", json=new, headers=as_admin)
    assert again.status_code == 409
    listed = client.get("/api/v1/users", headers=as_admin).json()
    assert {"grace", "admin", "operator", "viewer"} == {u["username"] for u in listed}
    assert all("password" not in str(u) for u in listed)
    weak = client.post("/api/v1/users", json={**new, "password": "x"}, headers=as_admin)
    assert weak.status_code == 422
    assert weak.json()["detail"][0]["field"] == "password"


def test_metrics(client: TestClient, tokens: dict[str, str], store: Store) -> None:
    add_run(store, state=FlowRunState.FAILED)
    add_run(store, state=FlowRunState.QUEUED)
    reply = client.get("/metrics", headers=bearer(tokens["viewer"]))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert 'pauta_flow_runs{state="FAILED"} 1.0' in text
    assert "pauta_queued_runs 1.0" in text
    assert "pauta_scheduler_lag_seconds" in text
    assert "pauta_oldest_queued_run_age_seconds" in text
    assert "# TYPE pauta_task_duration_seconds histogram" in text


def test_tokens_are_listed_and_revoked(client: TestClient, tokens: dict[str, str]) -> None:
    as_viewer, as_operator = bearer(tokens["viewer"]), bearer(tokens["operator"])
    created = client.post("/api/v1/users/viewer/tokens", headers=as_viewer)
    assert created.status_code == 201
    new = created.json()
    listed = client.get("/api/v1/users/viewer/tokens", headers=as_viewer).json()
    assert new["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)  # only ids and dates, never the secret
    # another user's tokens: not listed for a non-admin, and answered like unknown ones
    assert client.get("/api/v1/users/viewer/tokens", headers=as_operator).status_code == 403
    assert client.delete(f"/api/v1/tokens/{new['id']}", headers=as_operator).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(new["token"])).status_code == 200
    assert client.delete(f"/api/v1/tokens/{new['id']}", headers=as_viewer).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(new["token"])).status_code == 401
    assert client.delete(f"/api/v1/tokens/{new['id']}", headers=as_viewer).status_code == 404
    # an admin may revoke anyone's token
    [viewer_token] = client.get("/api/v1/users/viewer/tokens", headers=as_viewer).json()
    as_admin = bearer(tokens["admin"])
    assert (
        client.delete(f"/api/v1/tokens/{viewer_token['id']}", headers=as_admin).status_code == 204
    )
    assert client.get("/api/v1/me", headers=as_viewer).status_code == 401


def test_passwords_are_changed_and_sessions_end(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    session, _csrf = users.start_session(store, users.User("viewer", "viewer"))
    as_viewer, as_operator = bearer(tokens["viewer"]), bearer(tokens["operator"])
    new = {"password": "another long one", "current_password": PASSWORD}
    # yourself, or anyone for an admin; not someone else's as an operator
    denied = client.put("/api/v1/users/viewer/password", json=new, headers=as_operator)
    assert denied.status_code == 403
    weak = {"password": "x", "current_password": PASSWORD}
    weak_reply = client.put("/api/v1/users/viewer/password", json=weak, headers=as_viewer)
    assert weak_reply.status_code == 422
    changed = client.put("/api/v1/users/viewer/password", json=new, headers=as_viewer)
    assert changed.status_code == 204
    assert users.authenticate(store, "viewer", "another long one") == users.User("viewer", "viewer")
    assert users.authenticate(store, "viewer", PASSWORD) is None
    assert users.session_user(store, session) is None  # logged out everywhere
    assert client.get("/api/v1/me", headers=as_viewer).status_code == 200  # tokens kept
    nobody = client.put("/api/v1/users/nobody/password", json=new, headers=bearer(tokens["admin"]))
    assert nobody.status_code == 404


def test_your_own_password_needs_the_current_one(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    # A stolen token must not become the account: changing your own password asks for the
    # current one, admins included; an admin resets somebody else's without it.
    as_viewer, as_admin = bearer(tokens["viewer"]), bearer(tokens["admin"])
    url = "/api/v1/users/viewer/password"
    missing = client.put(url, json={"password": "stolen token pw"}, headers=as_viewer)
    assert missing.status_code == 422
    assert "current password" in missing.json()["message"]
    wrong = {"password": "stolen token pw", "current_password": "a guess at it"}
    refused = client.put(url, json=wrong, headers=as_viewer)
    assert refused.status_code == 403
    assert "current password is wrong" in refused.json()["detail"]
    assert users.authenticate(store, "viewer", PASSWORD) is not None  # unchanged
    own_admin = client.put(
        "/api/v1/users/admin/password", json={"password": "new admin pw"}, headers=as_admin
    )
    assert own_admin.status_code == 422
    reset = client.put(url, json={"password": "reset by admin"}, headers=as_admin)
    assert reset.status_code == 204
    assert users.authenticate(store, "viewer", "reset by admin") is not None


def test_users_are_deleted_with_their_tokens_but_never_the_last_admin(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    as_admin = bearer(tokens["admin"])
    session, _csrf = users.start_session(store, users.User("operator", "operator"))
    as_viewer = bearer(tokens["viewer"])
    assert client.delete("/api/v1/users/operator", headers=as_viewer).status_code == 403
    assert client.delete("/api/v1/users/operator", headers=as_admin).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(tokens["operator"])).status_code == 401
    assert users.session_user(store, session) is None
    assert "operator" not in {u["username"] for u in users.list_users(store)}
    assert client.delete("/api/v1/users/operator", headers=as_admin).status_code == 404
    last = client.delete("/api/v1/users/admin", headers=as_admin)
    assert last.status_code == 409
    assert "last admin" in last.json()["detail"]
    users.create_user(store, "second", PASSWORD, "admin")
    assert client.delete("/api/v1/users/admin", headers=as_admin).status_code == 204


def test_roles_are_changed_at_once_but_never_the_last_admins(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    as_admin, as_viewer = bearer(tokens["admin"]), bearer(tokens["viewer"])
    promote = {"role": "operator"}
    assert (
        client.put("/api/v1/users/viewer/role", json=promote, headers=as_viewer).status_code == 403
    )
    changed = client.put("/api/v1/users/viewer/role", json=promote, headers=as_admin)
    assert changed.status_code == 200
    assert changed.json() == {"username": "viewer", "role": "operator", "created_at": None}
    # the user's existing token carries the new role at once
    assert client.get("/api/v1/me", headers=as_viewer).json()["role"] == "operator"
    bad = client.put("/api/v1/users/viewer/role", json={"role": "root"}, headers=as_admin)
    assert bad.status_code == 422
    demote = client.put("/api/v1/users/admin/role", json={"role": "viewer"}, headers=as_admin)
    assert demote.status_code == 409
    assert "last admin" in demote.json()["detail"]
    nobody = client.put("/api/v1/users/nobody/role", json=promote, headers=as_admin)
    assert nobody.status_code == 404


def test_guessing_your_current_password_is_locked_out(
    client: TestClient, tokens: dict[str, str]
) -> None:
    url, as_viewer = "/api/v1/users/viewer/password", bearer(tokens["viewer"])
    guess = {"password": "a new password", "current_password": "a guess"}
    for _ in range(5):
        assert client.put(url, json=guess, headers=as_viewer).status_code == 403
    locked = client.put(url, json=guess, headers=as_viewer)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    assert "too many wrong passwords" in locked.json()["detail"]
