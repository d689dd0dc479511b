"""``GET /api/v1/flows/{flow}/metrics``: each metric over a flow's last runs, a series per
task call name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_support import add_run
from fastapi.testclient import TestClient

from pauta.core.states import FlowRunState, State
from pauta.store.records import TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.reports import MetricRecord
from pauta.store.repository import Store

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def a_week(store: Store, week: int, accuracy: dict[str, float], flow: str = "greet") -> str:
    """A run of ``flow`` a week after the last, whose fit calls logged these accuracies."""
    when = T0 + timedelta(weeks=week)
    run = add_run(store, flow, FlowRunState.SUCCEEDED, created_at=when)
    calls, logged = [], []
    for n, (kind, value) in enumerate(accuracy.items()):
        key = f"fit-{n}"
        calls.append(
            TaskRunRecord(
                run.id, key, "fit", State.SUCCEEDED, created_at=when, label=f"fit[{kind}]"
            )
        )
        logged.append(MetricRecord(run.id, key, 1, "accuracy", value, None, when))
        logged.append(MetricRecord(run.id, key, 1, "loss", 1 - value, 0, when))
        logged.append(MetricRecord(run.id, key, 1, "loss", (1 - value) / 2, 1, when))
    store.write(WriteBatch(tasks=[TaskWrite(c, None) for c in calls], metrics=logged), when)
    return run.id


def test_each_metric_has_a_series_per_label_over_the_runs(
    client: TestClient, store: Store, as_admin: dict[str, str]
) -> None:
    first = a_week(store, 0, {"logreg": 0.80, "forest": 0.84})
    second = a_week(store, 1, {"logreg": 0.82})
    third = a_week(store, 2, {"forest": 0.86, "logreg": 0.81})
    a_week(store, 3, {"logreg": 0.1}, flow="other")
    reply = client.get("/api/v1/flows/greet/metrics", headers=as_admin)
    assert reply.status_code == 200
    found = reply.json()
    assert found["flow"] == "greet"
    assert [r["id"] for r in found["runs"]] == [first, second, third]  # oldest first
    assert found["runs"][0]["logical_date"] == T0.isoformat()
    accuracy, loss = found["metrics"]
    assert accuracy["name"] == "accuracy"
    by_label = {s["label"]: s["points"] for s in accuracy["series"]}
    assert set(by_label) == {"fit[logreg]", "fit[forest]"}
    assert [(p["run_id"], p["value"]) for p in by_label["fit[logreg]"]] == [
        (first, 0.80),
        (second, 0.82),
        (third, 0.81),
    ]
    # the same label is another key in the third run: matched by label, each point has its key
    assert [(p["run_id"], p["key"]) for p in by_label["fit[forest]"]] == [
        (first, "fit-1"),
        (third, "fit-0"),
    ]
    # a metric logged with steps: its last value
    assert loss["name"] == "loss"
    logreg = next(s for s in loss["series"] if s["label"] == "fit[logreg]")
    assert [p["value"] for p in logreg["points"]] == pytest.approx([0.1, 0.09, 0.095])

    last_two = client.get("/api/v1/flows/greet/metrics?runs=2", headers=as_admin).json()
    assert [r["id"] for r in last_two["runs"]] == [second, third]


def test_unknown_flows_and_bad_run_counts(
    client: TestClient, store: Store, as_admin: dict[str, str]
) -> None:
    missing = client.get("/api/v1/flows/nosuchflow/metrics", headers=as_admin)
    assert missing.status_code == 404
    assert "nosuchflow" in missing.json()["detail"]
    for runs in ("0", "201", "many"):
        reply = client.get(f"/api/v1/flows/greet/metrics?runs={runs}", headers=as_admin)
        assert reply.status_code == 422, runs
        assert reply.json()["detail"][0]["field"] == "runs"
    add_run(store, "greet", FlowRunState.QUEUED)
    empty = client.get("/api/v1/flows/greet/metrics", headers=as_admin).json()
    assert (len(empty["runs"]), empty["metrics"]) == (1, [])


def test_the_endpoint_is_in_the_openapi_description(client: TestClient) -> None:
    described = client.get("/api/v1/openapi.json").json()
    operation = described["paths"]["/api/v1/flows/{flow}/metrics"]["get"]
    assert operation["tags"] == ["flows"]
    assert {p["name"] for p in operation["parameters"]} == {"flow", "runs"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/FlowMetrics")
    assert {"404", "401", "403", "422"} <= set(operation["responses"])
