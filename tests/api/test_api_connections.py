"""/api/v1/connections: admins only, answers masked, credentials never in the clear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_support import bearer
from fastapi.testclient import TestClient

from pauta.core.settings import Settings
from pauta.store.repository import Store

PASSWORD = "api-pw-0c4e9d71"
SECRET = "api-secret-5f21aa"
BODY = {
    "url": f"postgresql://etl:{PASSWORD}@127.0.0.1:1/wh",
    "extras": {"schema": "analytics", "api_token": SECRET},
    "secret_extras": {"aws_secret": SECRET + "-2"},
}


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAUTA_SECRET_KEY", raising=False)
    monkeypatch.delenv("PAUTA_CONN_WH", raising=False)


def no_secrets(text: str) -> None:
    assert PASSWORD not in text
    assert SECRET not in text


def test_admins_add_list_show_replace_test_and_delete(
    client: TestClient, as_admin: dict[str, str], settings: Settings
) -> None:
    created = client.post("/api/v1/connections", json={"name": "wh", **BODY}, headers=as_admin)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["url"] == "postgresql://etl:***@127.0.0.1:1/wh"
    assert view["extras"] == {"api_token": "***", "aws_secret": "***", "schema": "analytics"}
    assert view["secret_extras"] == ["api_token", "aws_secret"]
    assert view["source"] == "store"
    assert view["env_var"] == "PAUTA_CONN_WH"
    again = client.post("/api/v1/connections", json={"name": "wh", **BODY}, headers=as_admin)
    assert again.status_code == 409

    listed = client.get("/api/v1/connections", headers=as_admin)
    assert [c["name"] for c in listed.json()] == ["wh"]
    shown = client.get("/api/v1/connections/wh", headers=as_admin)
    assert shown.json()["url"] == view["url"]

    replaced = client.put(
        "/api/v1/connections/wh", json={"url": "sqlite:///replaced.db"}, headers=as_admin
    )
    assert replaced.status_code == 200
    assert replaced.json()["url"] == "sqlite:///replaced.db"
    new = client.put("/api/v1/connections/files", json={"url": "file:///"}, headers=as_admin)
    assert new.status_code == 201

    tested = client.post("/api/v1/connections/files/test", headers=as_admin)
    assert tested.status_code == 200
    assert tested.json()["ok"] is True
    assert tested.json()["kind"] == "filesystem"

    gone = client.delete("/api/v1/connections/wh", headers=as_admin)
    assert gone.status_code == 204
    assert client.get("/api/v1/connections/wh", headers=as_admin).status_code == 404
    assert client.delete("/api/v1/connections/wh", headers=as_admin).status_code == 404
    for answer in (created, again, listed, shown, replaced, tested):
        no_secrets(answer.text)
    for path in Path(settings.home).rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_failed_test_is_an_answer_with_the_reason_masked(
    client: TestClient, as_admin: dict[str, str]
) -> None:
    client.post("/api/v1/connections", json={"name": "wh", **BODY}, headers=as_admin)
    tested = client.post("/api/v1/connections/wh/test", headers=as_admin)
    assert tested.status_code == 200
    result = tested.json()
    assert result["ok"] is False
    assert result["message"].startswith("could not reach postgresql://etl:***@127.0.0.1:1/wh")
    no_secrets(tested.text)


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_operators_and_viewers_get_403_everywhere(
    client: TestClient, tokens: dict[str, str], as_admin: dict[str, str], role: str
) -> None:
    client.post("/api/v1/connections", json={"name": "wh", **BODY}, headers=as_admin)
    headers = bearer(tokens[role])
    answers = [
        client.get("/api/v1/connections", headers=headers),
        client.get("/api/v1/connections/wh", headers=headers),
        client.post("/api/v1/connections", json={"name": "x", **BODY}, headers=headers),
        client.put("/api/v1/connections/wh", json=BODY, headers=headers),
        client.delete("/api/v1/connections/wh", headers=headers),
        client.post("/api/v1/connections/wh/test", headers=headers),
    ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    for answer in answers:
        no_secrets(answer.text)
    assert client.get("/api/v1/connections/wh", headers=as_admin).status_code == 200


def test_anonymous_callers_get_401(client: TestClient) -> None:
    assert client.get("/api/v1/connections").status_code == 401
    assert client.post("/api/v1/connections", json={"name": "x", **BODY}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "<script>", "url": "sqlite://"},
        {"name": "wh", "url": f"no-scheme:{PASSWORD}@h"},
        {"name": "wh", "url": "sqlite://", "extras": {"bad key": "v"}},
        {"name": "wh", "url": "sqlite://", "extras": {"k": 3}},
        {"name": "wh", "url": "sqlite://", "unknown": 1},
        {"name": "wh", "url": "sqlite://", "extras": {"k": "v"}, "secret_extras": {"k": "w"}},
    ],
)
def test_bad_input_is_422_and_never_echoes_the_url(
    client: TestClient, as_admin: dict[str, str], body: dict[str, object]
) -> None:
    answer = client.post("/api/v1/connections", json=body, headers=as_admin)
    assert answer.status_code == 422, answer.text
    no_secrets(answer.text)
    assert client.get("/api/v1/connections", headers=as_admin).json() == []


def test_a_bad_name_in_the_path_is_422(client: TestClient, as_admin: dict[str, str]) -> None:
    assert client.get("/api/v1/connections/%3Cscript%3E", headers=as_admin).status_code == 422


def test_the_servers_environment_overrides_and_is_listed(
    client: TestClient, as_admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client.post("/api/v1/connections", json={"name": "wh", **BODY}, headers=as_admin)
    monkeypatch.setenv("PAUTA_CONN_WH", f"sqlite:///{PASSWORD}/x.db?password={SECRET}")
    [view] = client.get("/api/v1/connections", headers=as_admin).json()
    assert view["source"] == "environment"
    assert view["overridden"] is True
    assert view["url"] == f"sqlite:///{PASSWORD}/x.db?password=***"  # a path is not secret
    assert SECRET not in json.dumps(view)


def test_a_wrong_key_on_the_server_is_a_clear_answer(
    client: TestClient, as_admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    client.post("/api/v1/connections", json={"name": "wh", **BODY}, headers=as_admin)
    monkeypatch.setenv("PAUTA_SECRET_KEY", Fernet.generate_key().decode())
    answer = client.get("/api/v1/connections/wh", headers=as_admin)
    assert answer.status_code == 409
    assert "PAUTA_SECRET_KEY" in answer.json()["detail"]
    no_secrets(answer.text)


def test_the_openapi_description_lists_the_endpoints(client: TestClient, store: Store) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/connections"]) == {"get", "post"}
    assert set(paths["/api/v1/connections/{name}"]) == {"get", "put", "delete"}
    assert set(paths["/api/v1/connections/{name}/test"]) == {"post"}
