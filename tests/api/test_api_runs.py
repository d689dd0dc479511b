"""Runs through the API: listing with filters and pagination, triggering, showing, cancelling,
resuming."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_support import add_run, add_task
from fastapi.testclient import TestClient

from pauta.core.clock import utcnow
from pauta.core.states import FlowRunState, State
from pauta.store.repository import Store


def test_trigger_queues_a_run_with_validated_params(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    reply = client.post(
        "/api/v1/flows/greet/runs", json={"params": {"name": "ada", "times": "2"}}, headers=as_admin
    )
    assert reply.status_code == 201, reply.text
    run = reply.json()
    assert run["state"] == "QUEUED"
    assert run["trigger"] == "api"
    assert run["params"] == {"name": "ada", "times": 2}
    assert store.get_flow_run(run["id"]).trigger == "api"


def test_trigger_without_a_body_uses_the_defaults(
    client: TestClient, as_admin: dict[str, str]
) -> None:
    reply = client.post("/api/v1/flows/nightly/runs", headers=as_admin)
    assert reply.status_code == 201, reply.text
    assert reply.json()["params"] == {}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"name": "ada", "times": "many"}, "params.times"),
        ({}, "params.name"),
        ({"name": "ada", "colour": "red"}, "params.colour"),
    ],
)
def test_a_bad_parameter_is_a_422_that_names_it(
    client: TestClient, as_admin: dict[str, str], params: dict, field: str
) -> None:
    reply = client.post("/api/v1/flows/greet/runs", json={"params": params}, headers=as_admin)
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert field in [item["field"] for item in body["detail"]]
    assert all(item["reason"] for item in body["detail"])
    assert field.split(".")[1] in body["message"]


def test_a_malformed_body_is_a_422(client: TestClient, as_admin: dict[str, str]) -> None:
    reply = client.post("/api/v1/flows/greet/runs", json={"params": [1, 2]}, headers=as_admin)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["field"] == "params"
    reply = client.post(
        "/api/v1/flows/greet/runs",
        content=b"{not json",
        headers={**as_admin, "Content-Type": "application/json"},
    )
    assert reply.status_code == 422


def test_triggering_an_unknown_flow_is_a_404(client: TestClient, as_admin: dict[str, str]) -> None:
    reply = client.post("/api/v1/flows/nope/runs", json={"params": {}}, headers=as_admin)
    assert reply.status_code == 404
    assert "nope" in reply.json()["detail"]


def test_runs_list_filters_newest_first(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    start = utcnow()
    ok = add_run(store, created_at=start)
    failed = add_run(store, state=FlowRunState.FAILED, created_at=start + timedelta(seconds=1))
    other = add_run(store, "nightly", trigger="schedule", created_at=start + timedelta(seconds=2))
    every = client.get("/api/v1/runs", headers=as_admin).json()
    assert [r["id"] for r in every["runs"]] == [other.id, failed.id, ok.id]
    assert every["next_cursor"] is None

    def ids(**query: str) -> list[str]:
        reply = client.get("/api/v1/runs", params=query, headers=as_admin)
        assert reply.status_code == 200, reply.text
        return [r["id"] for r in reply.json()["runs"]]

    assert ids(flow="greet") == [failed.id, ok.id]
    assert ids(state="FAILED") == [failed.id]
    assert ids(trigger="schedule") == [other.id]
    assert ids(flow="greet", state="SUCCEEDED") == [ok.id]
    reply = client.get("/api/v1/flows/greet/runs", params={"state": "FAILED"}, headers=as_admin)
    assert [r["id"] for r in reply.json()["runs"]] == [failed.id]


def test_runs_list_pages_with_a_cursor_or_an_offset(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    start = utcnow()
    made = [add_run(store, created_at=start + timedelta(seconds=i)) for i in range(7)]
    newest_first = [r.id for r in reversed(made)]
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/runs", params=query, headers=as_admin).json()
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    page = client.get("/api/v1/runs", params={"limit": 2, "offset": 4}, headers=as_admin).json()
    assert [r["id"] for r in page["runs"]] == newest_first[4:6]


def test_listings_summarise_large_parameters_and_the_run_has_them_all(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    big = {"name": "x" * 60_000, "times": 2, "rows": list(range(5000))}
    large = add_run(store, params=big)
    small = add_run(store, params={"name": "ada"})
    for url in ("/api/v1/runs", "/api/v1/flows/greet/runs"):
        reply = client.get(url, headers=as_admin)
        assert len(reply.content) < 8 * 1024  # two runs, not 80 KB of parameters
        listed = {r["id"]: r for r in reply.json()["runs"]}
        assert listed[small.id]["params"] == {"name": "ada"}
        assert listed[small.id]["params_truncated"] is False
        shown = listed[large.id]
        assert shown["params_truncated"] is True
        assert shown["params"]["times"] == 2  # small values stay
        assert "58.6 KiB" in shown["params"]["name"]
        assert f"/api/v1/runs/{large.id}" in shown["params"]["name"]
    detail = client.get(f"/api/v1/runs/{large.id}", headers=as_admin).json()
    assert detail["params"] == big


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 100000},
        {"state": "SLEEPING"},
        {"cursor": "garbage!"},
        {"offset": -1},
    ],
)
def test_bad_list_queries_are_422(
    client: TestClient, as_admin: dict[str, str], query: dict
) -> None:
    reply = client.get("/api/v1/runs", params=query, headers=as_admin)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["field"] == next(iter(query))


def test_show_run_has_the_cli_view_with_tasks(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    from pauta.app.runs import show_run

    run = add_run(store, state=FlowRunState.FAILED)
    add_task(store, run, "shout-0", State.FAILED)
    reply = client.get(f"/api/v1/runs/{run.id}", headers=as_admin)
    assert reply.status_code == 200
    assert reply.json() == show_run(store, run.id)
    assert reply.json()["tasks"][0]["key"] == "shout-0"
    by_prefix = client.get(f"/api/v1/runs/{run.id[:12]}", headers=as_admin)
    assert by_prefix.json()["id"] == run.id


@pytest.mark.parametrize("run_id", ["nope", "0000000000000000", "a"])
def test_unknown_runs_are_404(client: TestClient, as_admin: dict[str, str], run_id: str) -> None:
    for method, path in [
        ("GET", f"/api/v1/runs/{run_id}"),
        ("POST", f"/api/v1/runs/{run_id}/cancel"),
        ("POST", f"/api/v1/runs/{run_id}/resume"),
        ("GET", f"/api/v1/runs/{run_id}/tasks"),
        ("GET", f"/api/v1/runs/{run_id}/logs"),
    ]:
        reply = client.request(method, path, headers=as_admin)
        assert reply.status_code == 404, (method, path, reply.text)


def test_cancel_a_queued_run_at_once(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    run = add_run(store, state=FlowRunState.QUEUED)
    reply = client.post(f"/api/v1/runs/{run.id}/cancel", headers=as_admin)
    assert reply.status_code == 200
    assert reply.json()["state"] == "CANCELLED"
    again = client.post(f"/api/v1/runs/{run.id}/cancel", headers=as_admin)
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]


def test_cancel_a_running_run_asks_its_driver(
    client: TestClient, as_admin: dict[str, str], store: Store
) -> None:
    run = add_run(store, state=FlowRunState.RUNNING)
    reply = client.post(f"/api/v1/runs/{run.id}/cancel", headers=as_admin)
    assert reply.status_code == 200
    assert reply.json()["state"] == "RUNNING"
    assert store.cancel_requests([run.id]) == {run.id}


@pytest.mark.parametrize("state", [FlowRunState.FAILED, FlowRunState.CANCELLED])
def test_resume_queues_a_failed_or_cancelled_run(
    client: TestClient, as_admin: dict[str, str], store: Store, state: FlowRunState
) -> None:
    run = add_run(store, state=state)
    reply = client.post(f"/api/v1/runs/{run.id}/resume", headers=as_admin)
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "QUEUED"
    assert reply.json()["ended_at"] is None


@pytest.mark.parametrize(
    "state", [FlowRunState.SUCCEEDED, FlowRunState.RUNNING, FlowRunState.QUEUED]
)
def test_resume_refuses_other_states(
    client: TestClient, as_admin: dict[str, str], store: Store, state: FlowRunState
) -> None:
    run = add_run(store, state=state)
    reply = client.post(f"/api/v1/runs/{run.id}/resume", headers=as_admin)
    assert reply.status_code == 409
    assert str(state) in reply.json()["detail"]
