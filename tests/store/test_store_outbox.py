"""The MLflow outbox: items written in the transaction of what they mirror, only with the
mirror on, read back in order; the MLflow runs remembered once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pauta.core.errors import StaleWriteError
from pauta.core.ids import new_run_id
from pauta.core.states import FlowRunState
from pauta.store.records import FlowRunRecord, WriteBatch
from pauta.store.reports import MetricRecord, ParamRecord
from pauta.store.repository import Store

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _run(store: Store) -> FlowRunRecord:
    run = FlowRunRecord(
        id=new_run_id(),
        flow="weekly",
        state=FlowRunState.RUNNING,
        params={"week": 48},
        logical_date=NOW,
        interval_start=NOW,
        interval_end=NOW,
        trigger="manual",
        created_at=NOW,
        lease_epoch=1,
    )
    store.create_flow_run(run)
    return run


def test_writes_queue_their_items_with_the_mirror_on_only(store: Store) -> None:
    off = _run(store)
    store.write(WriteBatch(metrics=[MetricRecord(off.id, "t-0", 1, "loss", 1.0, 0, NOW)]), NOW)
    assert store.outbox_items() == []
    store.mirror = True
    run = _run(store)
    batch = WriteBatch(
        fences={run.id: 1},
        metrics=[MetricRecord(run.id, "t-0", 1, "loss", 0.5, step, NOW) for step in range(2)],
        params=[ParamRecord(run.id, "t-0", "kind", "forest")],
    )
    store.write(batch, NOW)
    assert store.transition_flow_run(
        run.id, FlowRunState.SUCCEEDED, expected=FlowRunState.RUNNING, now=NOW
    )
    items = store.outbox_items()
    assert [(i.kind, i.flow_run_id) for i in items] == [
        ("run", run.id),
        ("metric", run.id),
        ("metric", run.id),
        ("param", run.id),
        ("run_state", run.id),
    ]
    assert items[0].payload["params"] == {"week": 48}
    assert [i.payload["step"] for i in items[1:3]] == [0, 1]
    assert items[4].payload["state"] == "SUCCEEDED"
    store.delete_outbox(i.id for i in items[:3])
    assert [i.kind for i in store.outbox_items()] == ["param", "run_state"]


def test_a_refused_batch_queues_nothing(store: Store) -> None:
    store.mirror = True
    run = _run(store)
    store.delete_outbox(i.id for i in store.outbox_items())
    batch = WriteBatch(
        fences={run.id: 1},
        metrics=[MetricRecord(run.id, "t-0", 1, "loss", 0.5, 0, NOW)],
    )
    from pauta.core.states import State
    from pauta.store.records import TaskRunRecord, TaskWrite

    task = TaskRunRecord(flow_run_id=run.id, key="t-0", name="t", state=State.SUCCEEDED, attempts=1)
    batch.tasks.append(TaskWrite(task, State.RUNNING))  # the store holds no such row
    with pytest.raises(StaleWriteError):
        store.write(batch, NOW)
    assert store.outbox_items() == []


def test_an_mlflow_run_is_remembered_once(store: Store) -> None:
    run = _run(store)
    store.remember_mlflow_run(run.id, "", "abc", "1")
    store.remember_mlflow_run(run.id, "", "other", "1")
    store.remember_mlflow_run(run.id, "t-0", "def", "1")
    assert store.mlflow_runs(run.id) == {"": ("abc", "1"), "t-0": ("def", "1")}
