"""The cron loop's decisions against a real store, with time passed in (no sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pauta.api import metrics
from pauta.core.clock import FrozenClock
from pauta.scheduling.discovery import Discovery, discover
from pauta.scheduling.scheduler import Scheduler
from pauta.scheduling.service import SchedulerService
from pauta.store.repository import Store

pytestmark = pytest.mark.slow

FLOWS = """
from datetime import datetime
from pauta import Every, flow

@flow(schedule="*/5 * * * *")
def every_five(limit: int = 3) -> None:
    pass

@flow(schedule="0 * * * *", catchup=True, start=datetime(2026, 1, 1))
def hourly_catchup() -> None:
    pass

@flow(schedule=Every(minutes=30))
def half_hourly() -> None:
    pass

@flow(schedule="*/5 * * * *", max_active_runs=1)
def one_at_a_time() -> None:
    pass

@flow(schedule="*/5 * * * *")
def needs_input(name: str) -> None:
    pass

@flow
def unscheduled() -> None:
    pass"""

WEEKLY = """
from pauta import flow

@flow(schedule="0 3 * * MON", timezone="America/Argentina/Buenos_Aires")
def weekly() -> None:
    pass
"""


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Discovery:
    folder = tmp_path_factory.mktemp("flows")
    (folder / "scheduled.py").write_text(FLOWS)
    return discover(folder)


def at(hour: int, minute: int, day: int = 2, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def only(found: Discovery, *names: str) -> list:
    return [found.flows[name] for name in names]


def test_one_run_per_due_tick_with_its_interval(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store)
    flows = only(found, "every_five")
    [first] = scheduler.evaluate(flows, at(10, 7))
    assert first.logical_date == at(10, 5)
    assert (first.interval_start, first.interval_end) == (at(10, 0), at(10, 5))
    assert first.trigger == "schedule"
    assert first.state == "QUEUED"
    assert first.params == {"limit": 3}
    assert scheduler.evaluate(flows, at(10, 8)) == []  # nothing new is due
    [second] = scheduler.evaluate(flows, at(10, 11))
    assert second.logical_date == at(10, 10)
    # without catch-up, an outage creates only the latest tick
    [latest] = scheduler.evaluate(flows, at(11, 2))
    assert latest.logical_date == at(11, 0)


def test_catchup_creates_missed_ticks_up_to_the_cap(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store, max_catchup=3)
    flows = only(found, "hourly_catchup")
    created = scheduler.evaluate(flows, at(10, 30))
    assert [r.logical_date for r in created] == [at(8, 0), at(9, 0), at(10, 0)]
    created = scheduler.evaluate(flows, at(13, 5))
    assert [r.logical_date for r in created] == [at(11, 0), at(12, 0), at(13, 0)]


def test_every_and_paused_flows(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store)
    store.upsert_flow(found.flows["half_hourly"].row())
    store.set_paused("half_hourly", True)
    assert scheduler.evaluate(only(found, "half_hourly"), at(10, 45)) == []
    store.set_paused("half_hourly", False)
    [run] = scheduler.evaluate(only(found, "half_hourly"), at(10, 45))
    assert run.logical_date == at(10, 30)


def test_max_active_runs_holds_ticks_back(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store)
    flows = only(found, "one_at_a_time")
    [run] = scheduler.evaluate(flows, at(10, 7))
    assert scheduler.evaluate(flows, at(10, 12)) == []  # the first run is still queued
    store.request_cancel(run.id, at(10, 12))
    [later] = scheduler.evaluate(flows, at(10, 13))
    assert later.logical_date == at(10, 10)


def test_flows_that_cannot_be_scheduled_are_skipped(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store)
    assert scheduler.evaluate(only(found, "needs_input", "unscheduled"), at(10, 7)) == []


@pytest.mark.postgres
def test_two_schedulers_on_one_database_create_each_tick_once(
    pg_url: str, found: Discovery
) -> None:
    first, second = Store(pg_url), Store(pg_url)
    try:
        flows = only(found, "every_five", "half_hourly")
        a = Scheduler(first).evaluate(flows, at(10, 7))
        b = Scheduler(second).evaluate(flows, at(10, 7))
        assert len(a) == 2
        assert b == []
        assert len(first.list_flow_runs(limit=0)) == 2
    finally:
        first.close()
        second.close()


def scheduler_lag(store: Store) -> float:
    """``pauta_scheduler_lag_seconds`` as /metrics reports it."""
    [line] = [
        line
        for line in metrics.render(store).decode().splitlines()
        if line.startswith("pauta_scheduler_lag_seconds ")
    ]
    return float(line.split()[1])


def test_the_tick_a_first_start_catches_up_is_not_late(store: Store, tmp_path: Path) -> None:
    # Wednesday 02:00 in Buenos Aires: the weekly Monday 03:00 tick passed 47 hours ago.
    (tmp_path / "weekly.py").write_text(WEEKLY)
    clock = FrozenClock(datetime(2026, 3, 4, 5, 0, tzinfo=UTC))
    service = SchedulerService(store, tmp_path, clock=clock)
    found = service.scan()
    clock.advance(0.4)
    service.evaluate(found)
    [run] = store.list_flow_runs(limit=0)
    assert run.logical_date == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert scheduler_lag(store) == pytest.approx(0.0)
    # The next tick, dispatched 1.5 s after it fell due: that is the lag.
    clock.advance(until_next_monday(clock.now()) + 1.5)
    service.evaluate(found)
    assert len(store.list_flow_runs(limit=0)) == 2
    assert scheduler_lag(store) == pytest.approx(1.5)


def until_next_monday(now: datetime) -> float:
    return (datetime(2026, 3, 9, 6, 0, tzinfo=UTC) - now).total_seconds()


def test_lag_is_how_late_a_running_scheduler_queued_a_due_tick(
    store: Store, found: Discovery
) -> None:
    scheduler = Scheduler(store)
    flows = only(found, "every_five")
    scheduler.evaluate(flows, at(10, 7))  # the first evaluation catches 10:05 up
    assert scheduler_lag(store) == pytest.approx(0.0)
    scheduler.evaluate(flows, at(10, 10, second=2))
    assert scheduler_lag(store) == pytest.approx(2.0)
    # a loop that stalled past the 10:15 tick queues it 3 minutes late
    scheduler.evaluate(flows, at(10, 18))
    assert scheduler_lag(store) == pytest.approx(180.0)


def test_ticks_held_back_or_paused_are_not_scheduler_lag(store: Store, found: Discovery) -> None:
    scheduler = Scheduler(store)
    flows = only(found, "one_at_a_time")
    [run] = scheduler.evaluate(flows, at(10, 7))
    assert scheduler.evaluate(flows, at(10, 12)) == []  # max_active_runs holds 10:10 back
    store.request_cancel(run.id, at(10, 12))
    scheduler.evaluate(flows, at(10, 12, second=1))
    assert scheduler_lag(store) == pytest.approx(1.0)  # from when it could run, not 10:10
    half = only(found, "half_hourly")
    scheduler.evaluate(half, at(10, 5))
    store.upsert_flow(found.flows["half_hourly"].row())
    store.set_paused("half_hourly", True)
    assert scheduler.evaluate(half, at(10, 31)) == []
    store.set_paused("half_hourly", False)
    [late] = scheduler.evaluate(half, at(11, 20))  # 11:00 fell due while it was paused
    assert late.logical_date == at(11, 0)
    assert scheduler_lag(store) == pytest.approx(0.0)
