"""Deadlines in the store: due runs found by one query, a miss recorded once, and how a flow's
recent runs kept their deadline. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pauta.core.states import FlowRunState
from pauta.definitions.deadlines import Deadline
from pauta.store.creation import FlowIdentity, Interval, new_flow_run
from pauta.store.deadlines import (
    claim_deadline_miss,
    deadline_record,
    due_deadlines,
    missed_deadlines,
)
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
ETL = FlowIdentity("etl", {"module": "m", "qualname": "etl"}, deadline=Deadline(within=3600))


def make_run(store: Store, identity: FlowIdentity = ETL, *, at: datetime = T0) -> FlowRunRecord:
    run = new_flow_run(identity, {}, now=at, trigger="schedule", interval=Interval.at(at))
    return store.create_flow_run(run)


def test_a_run_records_when_it_is_due(store: Store) -> None:
    run = make_run(store)
    stored = store.get_flow_run(run.id)
    assert stored.deadline_at == T0 + timedelta(hours=1)
    assert stored.deadline_cancel is False
    plain = make_run(store, FlowIdentity("plain", {}))
    assert store.get_flow_run(plain.id).deadline_at is None


def test_due_deadlines_are_unfinished_runs_past_due_not_yet_recorded(store: Store) -> None:
    late = make_run(store)
    finished = make_run(store, at=T0 - timedelta(minutes=1))
    store.transition_flow_run(
        finished.id, FlowRunState.CANCELLED, expected=FlowRunState.QUEUED, now=T0
    )
    later = make_run(store, at=T0 + timedelta(hours=5))
    make_run(store, FlowIdentity("plain", {}))
    now = T0 + timedelta(hours=2)
    assert [r.id for r in due_deadlines(store, now)] == [late.id]
    assert due_deadlines(store, T0 + timedelta(minutes=59)) == []
    assert claim_deadline_miss(store, late, now, "scheduler") is True
    assert claim_deadline_miss(store, late, now, "driver") is False  # once, whoever asks
    assert due_deadlines(store, now) == []
    assert [r.id for r in due_deadlines(store, T0 + timedelta(hours=7))] == [later.id]
    assert missed_deadlines(store, [late.id, later.id, finished.id]) == {late.id}


def test_a_flow_keeps_count_of_its_recent_misses(store: Store) -> None:
    runs = [make_run(store, at=T0 + timedelta(days=n)) for n in range(25)]
    for run in runs[-3:]:
        claim_deadline_miss(store, run, run.created_at + timedelta(hours=2), "scheduler")
    claim_deadline_miss(store, runs[0], T0 + timedelta(hours=2), "scheduler")  # too old to count
    record = deadline_record(store, "etl", 20)
    assert (record.missed, record.runs) == (3, 20)
    assert record.describe() == "missed 3 of the last 20"
    assert set(record.missed_runs) == {r.id for r in runs[-3:]}
    assert deadline_record(store, "nobody").describe() == "missed 0 of the last 0"
