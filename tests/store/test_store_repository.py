"""Store: round-trips, listings, compare-and-set writes and leases, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pauta.core.errors import (
    FlowNotFoundError,
    LeaseLostError,
    RunNotFoundError,
    StaleWriteError,
    StoreError,
)
from pauta.core.settings import Settings
from pauta.core.states import FlowRunState, State
from pauta.store.records import (
    AttemptRecord,
    FlowRow,
    FlowRunRecord,
    TaskRunRecord,
    TaskWrite,
    WriteBatch,
)
from pauta.store.reports import MetricRecord
from pauta.store.repository import DuplicateRunError, Store
from pauta.store.results import StoredResult
from pauta.store.tables import flow_runs, metrics, task_attempts, task_runs

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def make_run(run_id: str = "0000run000000001", **fields: object) -> FlowRunRecord:
    base = FlowRunRecord(
        id=run_id,
        flow="weekly_training",
        state=FlowRunState.QUEUED,
        params={"min_accuracy": 0.8, "end": None},
        logical_date=T0,
        interval_start=T0 - timedelta(days=7),
        interval_end=T0,
        trigger="manual",
        created_at=T0,
    )
    return replace(base, **fields)


def make_task(run_id: str, key: str, state: State = State.QUEUED, **fields: object):
    return TaskRunRecord(flow_run_id=run_id, key=key, name=key.split("#")[0], state=state, **fields)


def running_run(store: Store, run_id: str = "0000run000000001") -> int:
    """Create a RUNNING run driven by this test; returns the lease epoch."""
    store.create_flow_run(make_run(run_id))
    epoch = store.take_lease(run_id, host="here", pid=1, now=T0, expected_epoch=0)
    assert store.transition_flow_run(
        run_id, FlowRunState.RUNNING, expected=FlowRunState.QUEUED, epoch=epoch, now=T0
    )
    return epoch


# flow runs --------------------------------------------------------------------------------------
def test_flow_run_round_trip_keeps_every_field(store: Store) -> None:
    rec = make_run(
        state=FlowRunState.RUNNING,
        trigger="schedule",
        schedule_key="weekly_training@2026-03-02T03:00:00+00:00",
        parent_run_id="0000parent000001",
        parent_key="child_flow#1",
        code_hash="c0de",
        flow_ref={"module": "flows.weekly", "qualname": "weekly_training", "path": "/f.py"},
        priority=7,
        tags=["ml", "weekly"],
        started_at=T0 + timedelta(seconds=1),
        ended_at=T0 + timedelta(seconds=9),
        driver_host="box",
        driver_pid=4242,
        lease_epoch=3,
        heartbeat_at=T0 + timedelta(seconds=5),
        result=StoredResult(
            uri=None, inline=b"\x80\x04K\x01.", size=5, serializer="pickle", preview="1"
        ),
        error={"type": "ValueError", "message": "bad", "traceback": "Traceback ..."},
    )
    store.create_flow_run(rec)
    assert store.get_flow_run(rec.id) == rec


def test_result_by_reference_round_trips(store: Store) -> None:
    result = StoredResult(
        uri="file:///r/abc.pkl",
        inline=None,
        size=10**9,
        serializer="pickle",
        preview="DataFrame(10000000 rows)",
    )
    store.create_flow_run(make_run(result=result))
    assert store.get_flow_run("0000run000000001").result == result


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    buenos_aires = T0.astimezone(timezone(timedelta(hours=-3)))
    store.create_flow_run(make_run(logical_date=buenos_aires))
    got = store.get_flow_run("0000run000000001")
    assert got.logical_date == T0
    assert got.logical_date.tzinfo is UTC
    assert got.created_at.tzinfo is UTC


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises((ValueError, sa.exc.StatementError), match="naive datetime"):
        store.create_flow_run(make_run(created_at=datetime(2026, 1, 1)))
    with pytest.raises((ValueError, sa.exc.StatementError), match="naive datetime"):
        store.write(
            WriteBatch(
                tasks=[TaskWrite(make_task("r", "a#1", created_at=datetime(2026, 1, 1)), None)]
            ),
            T0,
        )
    assert store.list_flow_runs() == []


def test_list_flow_runs_newest_first_with_filters_limit_offset(store: Store) -> None:
    for i in range(6):
        store.create_flow_run(
            make_run(
                f"0000run00000000{i}",
                flow="a" if i % 2 else "b",
                state=FlowRunState.QUEUED if i < 3 else FlowRunState.SCHEDULED,
                created_at=T0 + timedelta(minutes=i),
                parent_run_id="0000parent000001" if i == 4 else None,
            )
        )
    ids = [r.id[-1] for r in store.list_flow_runs()]
    assert ids == ["5", "4", "3", "2", "1", "0"]
    assert [r.id[-1] for r in store.list_flow_runs(flow="a")] == ["5", "3", "1"]
    assert [r.id[-1] for r in store.list_flow_runs(state="SCHEDULED")] == ["5", "4", "3"]
    assert [r.id[-1] for r in store.list_flow_runs(flow="b", state=FlowRunState.QUEUED)] == [
        "2",
        "0",
    ]
    assert [r.id[-1] for r in store.list_flow_runs(parent_run_id="0000parent000001")] == ["4"]
    assert [r.id[-1] for r in store.list_flow_runs(limit=2, offset=1)] == ["4", "3"]
    assert len(store.list_flow_runs(limit=0)) == 6
    assert [r.id[-1] for r in store.list_flow_runs(limit=0, offset=4)] == ["1", "0"]


def test_get_flow_run_by_unique_prefix(store: Store) -> None:
    store.create_flow_run(make_run("abcd111100000000"))
    store.create_flow_run(make_run("abcd222200000000"))
    assert store.get_flow_run("abcd1").id == "abcd111100000000"
    with pytest.raises(RunNotFoundError, match=r"abcd111100000000.*abcd222200000000"):
        store.get_flow_run("abcd")
    with pytest.raises(RunNotFoundError, match="no run with id"):
        store.get_flow_run("zzzz")
    with pytest.raises(RunNotFoundError, match="no run with id"):
        store.get_flow_run("abc")  # too short to be a prefix
    with pytest.raises(RunNotFoundError):
        store.get_flow_run("abc%")  # LIKE wildcards are not wildcards here


def test_schedule_key_is_unique(store: Store) -> None:
    key = "weekly_training@2026-03-02T03:00:00+00:00"
    store.create_flow_run(make_run("0000run000000001", trigger="schedule", schedule_key=key))
    with pytest.raises(DuplicateRunError, match="0000run000000001"):
        store.create_flow_run(make_run("0000run000000002", trigger="schedule", schedule_key=key))
    # manual runs have no schedule key and never collide
    store.create_flow_run(make_run("0000run000000003"))
    store.create_flow_run(make_run("0000run000000004"))
    assert len(store.list_flow_runs()) == 3


def test_transition_flow_run_compare_and_set(store: Store) -> None:
    store.create_flow_run(make_run())
    run_id = "0000run000000001"
    assert store.transition_flow_run(
        run_id, FlowRunState.RUNNING, expected=FlowRunState.QUEUED, now=T0
    )
    # a second writer expecting QUEUED loses
    assert not store.transition_flow_run(
        run_id, FlowRunState.CANCELLED, expected=FlowRunState.QUEUED, now=T0
    )
    got = store.get_flow_run(run_id)
    assert got.state == FlowRunState.RUNNING
    assert got.started_at == T0
    # the table forbids this one whatever the store holds
    with pytest.raises(StoreError, match="SUCCEEDED to RUNNING"):
        store.transition_flow_run(
            run_id, FlowRunState.RUNNING, expected=FlowRunState.SUCCEEDED, now=T0
        )
    error = {"type": "KeyError", "message": "'x'"}
    end = T0 + timedelta(minutes=1)
    assert store.transition_flow_run(
        run_id, FlowRunState.FAILED, expected=[FlowRunState.RUNNING], now=end, error=error
    )
    got = store.get_flow_run(run_id)
    assert (got.state, got.ended_at, got.error) == (FlowRunState.FAILED, end, error)
    # reopening clears the end and the error
    assert store.transition_flow_run(
        run_id, FlowRunState.QUEUED, expected=FlowRunState.FAILED, now=end
    )
    got = store.get_flow_run(run_id)
    assert (got.ended_at, got.error, got.started_at) == (None, None, T0)
    with pytest.raises(RunNotFoundError):
        store.transition_flow_run(
            "0000nosuchrun000", FlowRunState.RUNNING, expected=FlowRunState.QUEUED, now=T0
        )


def test_fenced_flow_transition_needs_the_current_epoch(store: Store) -> None:
    epoch = running_run(store)
    assert not store.transition_flow_run(
        "0000run000000001",
        FlowRunState.SUCCEEDED,
        expected=FlowRunState.RUNNING,
        epoch=epoch - 1,
        now=T0,
    )
    assert store.get_flow_run("0000run000000001").state == FlowRunState.RUNNING


def test_take_lease_twice_with_the_same_epoch_the_second_loses(store: Store) -> None:
    store.create_flow_run(make_run())
    run_id = "0000run000000001"
    assert store.take_lease(run_id, host="a", pid=1, now=T0, expected_epoch=0) == 1
    with pytest.raises(LeaseLostError, match=r"lease epoch 1, held by a pid 1"):
        store.take_lease(run_id, host="b", pid=2, now=T0, expected_epoch=0)
    got = store.get_flow_run(run_id)
    assert (got.lease_epoch, got.driver_host, got.driver_pid) == (1, "a", 1)
    assert store.heartbeat(run_id, 1, T0 + timedelta(seconds=10))
    assert store.get_flow_run(run_id).heartbeat_at == T0 + timedelta(seconds=10)
    assert store.take_lease(run_id, host="b", pid=2, now=T0, expected_epoch=1) == 2
    assert not store.heartbeat(run_id, 1, T0)
    with pytest.raises(RunNotFoundError):
        store.take_lease("0000nosuchrun000", host="a", pid=1, now=T0, expected_epoch=0)


# task runs --------------------------------------------------------------------------------------
def test_task_attempt_and_metric_round_trip(store: Store) -> None:
    epoch = running_run(store)
    run_id = "0000run000000001"
    task = make_task(
        run_id,
        "train#2",
        State.SUCCEEDED,
        attempts=2,
        map_index=3,
        fingerprint="f1ng3r",
        upstream=["load#1", "build#1"],
        priority=10,
        resources={"cpus": 2, "memory": 2 * 2**30},
        kind="task",
        child_run_id=None,
        created_at=T0,
        started_at=T0 + timedelta(seconds=1),
        ended_at=T0 + timedelta(seconds=2),
        result=StoredResult(
            uri=None, inline=b"\x00\xff" * 10, size=20, serializer="pickle", preview="b'..'"
        ),
        error=None,
        cache_key="abc",
        cached_from=None,
    )
    failed = AttemptRecord(run_id, "train#2", 1, State.FAILED, T0, T0, T0, {"type": "E"}, "w1")
    attempt = AttemptRecord(run_id, "train#2", 2, State.RUNNING, T0, T0, None, None, "w1", "/l")
    metric = MetricRecord(run_id, "train#2", 2, "accuracy", 0.93, 7, T0)
    running = replace(task, state=State.RUNNING, result=None, ended_at=None)
    store.write(
        WriteBatch(
            fences={run_id: epoch},
            tasks=[
                TaskWrite(running, None, failed, None),
                TaskWrite(running, State.RUNNING, attempt, None),
            ],
        ),
        T0,
    )
    attempt = replace(attempt, state=State.SUCCEEDED, ended_at=T0 + timedelta(seconds=2))
    batch = WriteBatch(
        fences={run_id: epoch},
        tasks=[TaskWrite(task, State.RUNNING, attempt, State.RUNNING)],
        metrics=[metric, replace(metric, name="loss", value=0.1, step=None)],
    )
    store.write(batch, T0)
    assert store.list_task_runs(run_id) == [task]
    assert store.task_runs_by_key(run_id) == {"train#2": task}
    assert store.list_attempts(run_id) == [failed, attempt]
    assert store.list_attempts(run_id, "train#2") == [failed, attempt]
    assert store.list_attempts(run_id, "other#1") == []
    assert store.list_metrics(run_id) == [
        metric,
        replace(metric, name="loss", value=0.1, step=None),
    ]
    assert store.list_metrics(run_id, "other#1") == []


def test_task_runs_are_listed_in_creation_order(store: Store) -> None:
    running_run(store)
    run_id = "0000run000000001"
    tasks = [
        make_task(run_id, "b#1", created_at=T0 + timedelta(seconds=1)),
        make_task(run_id, "a#1", created_at=T0 + timedelta(seconds=2)),
        make_task(run_id, "c#1", created_at=T0 + timedelta(seconds=1)),
    ]
    store.write(WriteBatch(tasks=[TaskWrite(t, None) for t in tasks]), T0)
    assert [t.key for t in store.list_task_runs(run_id)] == ["b#1", "c#1", "a#1"]


def test_a_stale_expected_state_writes_nothing_of_the_batch(store: Store) -> None:
    epoch = running_run(store)
    run_id = "0000run000000001"
    first = make_task(run_id, "load#1", State.QUEUED, created_at=T0)
    store.write(WriteBatch(fences={run_id: epoch}, tasks=[TaskWrite(first, None)]), T0)
    newcomer = make_task(run_id, "train#1", created_at=T0)
    stale = replace(first, state=State.SUCCEEDED)
    batch = WriteBatch(
        fences={run_id: epoch},
        tasks=[
            TaskWrite(newcomer, None, AttemptRecord(run_id, "train#1", 1, State.QUEUED), None),
            TaskWrite(stale, State.RUNNING),  # the store holds QUEUED
        ],
        metrics=[MetricRecord(run_id, "load#1", 1, "rows", 10.0, None, T0)],
    )
    with pytest.raises(StaleWriteError, match=r"'load#1'.*expected RUNNING.*holds QUEUED") as info:
        store.write(batch, T0 + timedelta(seconds=5))
    assert [c.key for c in info.value.conflicts] == ["load#1"]  # type: ignore[attr-defined]
    assert store.list_task_runs(run_id) == [first]
    assert store.list_attempts(run_id) == []
    assert store.list_metrics(run_id) == []
    assert store.get_flow_run(run_id).heartbeat_at == T0  # the fence's heartbeat rolled back


def test_inserting_a_row_that_exists_is_stale(store: Store) -> None:
    running_run(store)
    run_id = "0000run000000001"
    task = make_task(run_id, "load#1", created_at=T0)
    store.write(WriteBatch(tasks=[TaskWrite(task, None)]), T0)
    with pytest.raises(StaleWriteError, match=r"expected no row.*holds QUEUED"):
        store.write(
            WriteBatch(tasks=[TaskWrite(make_task(run_id, "x#1"), None), TaskWrite(task, None)]), T0
        )
    assert [t.key for t in store.list_task_runs(run_id)] == ["load#1"]


def test_a_stale_attempt_is_refused(store: Store) -> None:
    running_run(store)
    run_id = "0000run000000001"
    task = make_task(run_id, "load#1", State.RUNNING, created_at=T0)
    attempt = AttemptRecord(run_id, "load#1", 1, State.RUNNING)
    store.write(WriteBatch(tasks=[TaskWrite(task, None, attempt, None)]), T0)
    done = replace(task, state=State.SUCCEEDED)
    with pytest.raises(StaleWriteError, match=r"attempt 1 .*expected QUEUED.*holds RUNNING"):
        store.write(
            WriteBatch(
                tasks=[
                    TaskWrite(
                        done, State.RUNNING, replace(attempt, state=State.SUCCEEDED), State.QUEUED
                    )
                ]
            ),
            T0,
        )
    assert store.list_task_runs(run_id)[0].state == State.RUNNING


def test_a_fenced_write_with_an_old_epoch_writes_nothing(store: Store) -> None:
    running_run(store)
    run_id = "0000run000000001"
    new_epoch = store.take_lease(run_id, host="other", pid=2, now=T0, expected_epoch=1)
    batch = WriteBatch(
        fences={run_id: 1},
        tasks=[TaskWrite(make_task(run_id, "load#1", created_at=T0), None)],
        metrics=[MetricRecord(run_id, "load#1", 1, "rows", 1.0, None, T0)],
    )
    with pytest.raises(LeaseLostError, match=f"{run_id}.*epoch 1, the store {new_epoch}"):
        store.write(batch, T0 + timedelta(seconds=1))
    assert store.list_task_runs(run_id) == []
    assert store.list_metrics(run_id) == []
    assert store.get_flow_run(run_id).heartbeat_at == T0


def test_a_task_of_a_missing_run_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="refused the batch"):
        store.write(WriteBatch(tasks=[TaskWrite(make_task("0000nosuchrun000", "a#1"), None)]), T0)


def test_coalesced_writes_update_every_column(store: Store) -> None:
    epoch = running_run(store)
    run_id = "0000run000000001"
    queued = make_task(run_id, "load#1", State.QUEUED, created_at=T0)
    store.write(WriteBatch(fences={run_id: epoch}, tasks=[TaskWrite(queued, None)]), T0)
    done = replace(
        queued,
        state=State.SUCCEEDED,
        attempts=1,
        started_at=T0 + timedelta(seconds=1),
        ended_at=T0 + timedelta(seconds=3),
        result=StoredResult(None, b"x", 1, "pickle", "'x'"),
        created_at=None,  # the insert time stays
    )
    store.write(
        WriteBatch(fences={run_id: epoch}, tasks=[TaskWrite(done, State.QUEUED)]),
        T0 + timedelta(seconds=4),
    )
    assert store.list_task_runs(run_id) == [replace(done, created_at=T0)]
    assert store.get_flow_run(run_id).heartbeat_at == T0 + timedelta(seconds=4)


def test_empty_batch_is_a_no_op(store: Store) -> None:
    store.write(WriteBatch(), T0)


def test_deleting_a_run_deletes_its_tasks(store: Store) -> None:
    running_run(store)
    run_id = "0000run000000001"
    store.write(
        WriteBatch(
            tasks=[
                TaskWrite(
                    make_task(run_id, "a#1"),
                    None,
                    AttemptRecord(run_id, "a#1", 1, State.QUEUED),
                    None,
                )
            ],
            metrics=[MetricRecord(run_id, "a#1", 1, "m", 1.0, None, T0)],
        ),
        T0,
    )
    with store.engine.begin() as conn:
        conn.execute(sa.delete(flow_runs).where(flow_runs.c.id == run_id))
        for table in (task_runs, task_attempts, metrics):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


# flows and pools --------------------------------------------------------------------------------
def flow_row(name: str, **columns: Any) -> FlowRow:
    values: dict[str, Any] = {
        "description": "",
        "parameters_schema": {},
        "schedule": None,
        "timezone": "UTC",
        "source": None,
        "max_active_runs": None,
    }
    return FlowRow(name=name, **{**values, **columns})


def test_flows_upsert_keeps_paused(store: Store) -> None:
    schema = {"type": "object", "properties": {"min_accuracy": {"type": "number"}}}
    store.upsert_flow(
        flow_row(
            "etl",
            description="Load data",
            parameters_schema=schema,
            schedule="0 3 * * MON",
            timezone="America/Argentina/Buenos_Aires",
            source="/flows/etl.py",
        )
    )
    store.upsert_flow(flow_row("another"))
    store.set_paused("etl", True)
    store.upsert_flow(flow_row("etl", description="Load data v2", source="/flows/etl.py"))
    flow = store.get_flow("etl")
    assert flow is not None
    assert flow["paused"] is True
    assert flow["description"] == "Load data v2"
    assert flow["schedule"] is None
    assert flow["updated_at"].tzinfo is UTC
    assert [f["name"] for f in store.list_flows()] == ["another", "etl"]
    store.set_paused("etl", False)
    assert store.get_flow("etl")["paused"] is False  # type: ignore[index]
    assert store.get_flow("nope") is None
    with pytest.raises(FlowNotFoundError, match="no flow named"):
        store.set_paused("nope", True)


def test_pools(store: Store) -> None:
    assert store.list_pools() == {}
    store.set_pool("postgres", 4)
    store.set_pool("gpu", 1)
    store.set_pool("postgres", 2)
    assert store.list_pools() == {"gpu": 1, "postgres": 2}
    with pytest.raises(StoreError, match="0 or more"):
        store.set_pool("gpu", -1)


# opening ----------------------------------------------------------------------------------------
def test_from_settings_creates_the_home(home: Path) -> None:
    settings = Settings.from_env()
    assert settings.home == home
    with Store.from_settings(settings) as store:
        assert store.dialect == "sqlite"
        assert (home / "pauta.db").exists()
        assert (home / "logs").is_dir()


def test_from_settings_creates_a_missing_home(home: Path) -> None:
    settings = Settings.from_env(home / "deeper" / ".pauta")
    with Store.from_settings(settings) as store:
        assert store.url == f"sqlite:///{home / 'deeper' / '.pauta' / 'pauta.db'}"


@pytest.mark.postgres
def test_plain_postgresql_url_means_psycopg(pg_url: str) -> None:
    with Store(pg_url.replace("postgresql+psycopg://", "postgresql://")) as store:
        assert store.dialect == "postgresql"
        assert store.url.startswith("postgresql+psycopg://")


def test_a_sqlite_store_knows_when_its_file_is_deleted_or_replaced(tmp_path: Path) -> None:
    path, aside = tmp_path / "pauta.db", tmp_path / "aside.db"
    with Store(f"sqlite:///{path}") as store:
        assert store.lost() is None
        path.rename(aside)
        assert store.lost() == f"the database file {path} was deleted"
        aside.rename(path)  # put back: the same file again
        assert store.lost() is None
        Store(f"sqlite:///{aside}").close()
        os.replace(aside, path)
        assert store.lost() == f"the database file {path} was replaced by another file"


@pytest.mark.postgres
def test_a_postgresql_store_is_never_lost(pg_url: str) -> None:
    with Store(pg_url) as store:
        assert store.lost() is None
