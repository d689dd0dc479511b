"""Workers claim queued runs: priority then age, each run once, and never more runs of a flow
at a time than its max_active_runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pauta.core.states import FlowRunState
from pauta.store.records import FlowRow, FlowRunRecord
from pauta.store.repository import Store

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def queue(store: Store, run_id: str, flow: str, minutes: int, priority: int = 0) -> None:
    created = T0 + timedelta(minutes=minutes)
    record = FlowRunRecord(
        id=run_id,
        flow=flow,
        state=FlowRunState.QUEUED,
        params={},
        logical_date=T0,
        interval_start=T0,
        interval_end=T0,
        trigger="manual",
        created_at=created,
    )
    store.create_flow_run(replace(record, priority=priority))


def claim(store: Store) -> str | None:
    record = store.claim_queued_run(host="here", pid=1, now=T0)
    return record.id if record else None


def test_claims_follow_priority_then_age(store: Store) -> None:
    queue(store, "run0000000000001", "etl", 0)
    queue(store, "run0000000000002", "etl", 1, priority=5)
    queue(store, "run0000000000003", "etl", 2)
    assert [claim(store) for _ in range(4)] == [
        "run0000000000002",
        "run0000000000001",
        "run0000000000003",
        None,
    ]


def test_a_flow_at_its_max_active_runs_waits_while_others_go_on(store: Store) -> None:
    store.upsert_flow(
        FlowRow(
            name="train",
            description="",
            parameters_schema={},
            schedule=None,
            timezone="UTC",
            source=None,
            max_active_runs=1,
        )
    )
    queue(store, "run0000000000001", "train", 0)
    queue(store, "run0000000000002", "train", 1)
    queue(store, "run0000000000003", "report", 2)
    assert claim(store) == "run0000000000001"
    # the second train run waits for the first; the report run is not held up behind it
    assert claim(store) == "run0000000000003"
    assert claim(store) is None
    assert store.get_flow_run("run0000000000002").state == FlowRunState.QUEUED
    store.transition_flow_run(
        "run0000000000001", FlowRunState.SUCCEEDED, expected=FlowRunState.RUNNING, now=T0
    )
    assert claim(store) == "run0000000000002"
