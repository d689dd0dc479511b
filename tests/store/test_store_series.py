"""Store: metrics read for charts (each call's last value, curves thinned), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from pauta.core.states import FlowRunState, State
from pauta.store.records import FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.reports import MetricRecord, MetricValue
from pauta.store.repository import Store

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def a_run(store: Store, run_id: str, labels: dict[str, str | None]) -> None:
    store.create_flow_run(
        FlowRunRecord(
            run_id, "train", FlowRunState.SUCCEEDED, {}, T0, T0, T0, "manual", created_at=T0
        )
    )
    calls = [
        TaskRunRecord(run_id, key, key.split("-")[0], State.SUCCEEDED, created_at=T0, label=label)
        for key, label in labels.items()
    ]
    store.write(WriteBatch(tasks=[TaskWrite(c, None) for c in calls]), T0)


def logged(store: Store, *records: tuple[str, str, int, str, float, int | None]) -> None:
    store.write(
        WriteBatch(metrics=[MetricRecord(r, k, a, n, v, s, T0) for r, k, a, n, v, s in records]), T0
    )


def test_each_call_s_last_value_with_its_label(store: Store) -> None:
    a_run(store, "run0000000000001", {"fit-0": "fit[logreg]", "fit-1": None})
    a_run(store, "run0000000000002", {"fit-0": "fit[logreg]"})
    a_run(store, "run0000000000003", {"fit-0": None})
    logged(
        store,
        ("run0000000000001", "fit-0", 1, "accuracy", 0.5, None),  # a failed attempt's
        ("run0000000000001", "fit-1", 1, "accuracy", 0.7, None),
        ("run0000000000001", "fit-0", 2, "accuracy", 0.8, None),
        ("run0000000000001", "fit-0", 2, "loss", 0.9, 0),
        ("run0000000000001", "fit-0", 2, "loss", 0.4, 1),
        ("run0000000000002", "fit-0", 1, "accuracy", 0.85, None),
        ("run0000000000003", "fit-0", 1, "accuracy", 0.1, None),  # a run not asked for
    )
    found = store.metric_values(["run0000000000001", "run0000000000002"])
    assert found == [
        MetricValue("run0000000000001", "fit-1", None, "accuracy", 0.7, None, 1, False),
        MetricValue("run0000000000001", "fit-0", "fit[logreg]", "accuracy", 0.8, None, 2, False),
        MetricValue("run0000000000001", "fit-0", "fit[logreg]", "loss", 0.4, 1, 2, True),
        MetricValue("run0000000000002", "fit-0", "fit[logreg]", "accuracy", 0.85, None, 1, False),
    ]
    assert store.metric_values([]) == []


def test_curves_are_thinned_to_about_the_points_asked(store: Store) -> None:
    run = "run0000000000001"
    a_run(store, run, {"fit-0": None, "fit-1": None})
    logged(store, *[(run, "fit-0", 1, "loss", 1 / (s + 1), s) for s in range(1000)])
    logged(store, *[(run, "fit-1", 1, "loss", 2.0, s) for s in range(0, 501, 100)])
    logged(store, (run, "fit-1", 1, "accuracy", 0.5, None))
    everything = store.metric_steps(run, points=2000)
    assert len(everything) == 1006
    thinned = store.metric_steps(run, points=100)
    steps = [m.step for m in thinned if m.key == "fit-0"]
    assert steps == [*range(0, 1000, 10), 999]  # every 10th, and the last
    assert [m.step for m in thinned if m.key == "fit-1"] == [0, 100, 200, 300, 400, 500]
    assert all(m.step is not None for m in thinned)
    assert store.metric_steps("run0000000000009") == []
