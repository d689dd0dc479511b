"""The cron loop: create one QUEUED run per due tick of every scheduled, unpaused flow.

``Scheduler.evaluate(flows, now)`` decides with the pure functions of ``ticks`` and records
the runs; the unique schedule key in the store makes "one run per tick" hold even with several
schedulers on one database. Workers run what it queues.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from pauta.core.errors import DefinitionError
from pauta.core.ids import new_run_id
from pauta.core.loading import module_name_for
from pauta.core.states import FlowRunState
from pauta.definitions.schedules import Schedule, from_spec
from pauta.scheduling.discovery import FlowInfo
from pauta.scheduling.ticks import data_interval, due_runs, schedule_key, ticks_between
from pauta.store.records import FlowRunRecord
from pauta.store.repository import DuplicateRunError, Store

log = logging.getLogger("pauta.scheduler")

DEFAULT_MAX_CATCHUP = 10
"""At most this many missed ticks are created at once after downtime (``catchup=True``)."""


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _schedule_of(info: FlowInfo) -> Schedule:
    """The flow's schedule; ValueError when it has none or has parameters a schedule cannot
    fill (no default)."""
    schedule = from_spec(info.schedule_spec)
    if schedule is None:
        raise ValueError(f"flow {info.name!r} has no schedule: it has no ticks")
    missing = [p.name for p in info.parameters if p.required]
    if missing:
        raise ValueError(
            f"flow {info.name!r} has parameters without defaults ({', '.join(missing)}): "
            "scheduled and backfill runs cannot fill them"
        )
    return schedule


class Scheduler:
    """Creates the runs that time-based schedules make due."""

    def __init__(self, store: Store, *, max_catchup: int = DEFAULT_MAX_CATCHUP) -> None:
        self.store = store
        self.max_catchup = max_catchup

    def evaluate(self, flows: Iterable[FlowInfo], now: datetime) -> list[FlowRunRecord]:
        """Queue a run for each due tick; returns the runs this call created."""
        paused = {row["name"]: bool(row["paused"]) for row in self.store.list_flows()}
        created: list[FlowRunRecord] = []
        for info in flows:
            if not info.schedule_spec or paused.get(info.name):
                continue
            try:
                created.extend(self._evaluate_flow(info, now))
            except (DefinitionError, ValueError) as exc:
                log.error("cannot schedule flow %s (%s): %s", info.name, info.file, exc)
        return created

    def _evaluate_flow(self, info: FlowInfo, now: datetime) -> list[FlowRunRecord]:
        schedule = _schedule_of(info)
        start, end = _moment(info.start), _moment(info.end)
        due = due_runs(
            schedule,
            info.timezone,
            last_tick=self.store.last_scheduled_tick(info.name),
            now=now,
            catchup=info.catchup,
            max_catchup=self.max_catchup,
            start=start,
            end=end,
        )
        created = []
        for tick in due:
            if info.max_active_runs and (
                self.store.count_active_runs(info.name) >= info.max_active_runs
            ):
                break  # the tick stays due: it is created when a run ends
            record = scheduled_run(info, schedule, tick, now, trigger="schedule")
            try:
                created.append(self.store.create_flow_run(record))
            except DuplicateRunError:
                continue  # another scheduler created this tick's run first
        return created


def scheduled_run(
    info: FlowInfo, schedule: Schedule, tick: datetime, now: datetime, *, trigger: str
) -> FlowRunRecord:
    """The QUEUED run of ``info`` for ``tick`` (a scheduled or backfill run), with its data
    interval, default parameters and the unique schedule key."""
    start = _moment(info.start)
    interval_start, interval_end = data_interval(schedule, info.timezone, tick, start=start)
    return FlowRunRecord(
        id=new_run_id(),
        flow=info.name,
        state=FlowRunState.QUEUED,
        params={p.name: p.default for p in info.parameters},
        logical_date=tick,
        interval_start=interval_start,
        interval_end=interval_end,
        trigger=trigger,
        created_at=now,
        flow_ref={
            "module": module_name_for(info.file),
            "qualname": info.qualname,
            "path": str(info.file),
        },
        schedule_key=schedule_key(info.name, tick),
        priority=info.priority,
        tags=list(info.tags),
    )


def backfill(
    store: Store, info: FlowInfo, since: datetime, until: datetime, now: datetime
) -> tuple[list[FlowRunRecord], int]:
    """Queue a backfill run for every tick in [since, until) that has no run yet and is not
    in the future.

    Returns the runs created and how many ticks already had one (a scheduled run or an
    earlier backfill): running a backfill twice creates nothing the second time.
    """
    schedule = _schedule_of(info)
    ticks = ticks_between(
        schedule, info.timezone, since, until, start=_moment(info.start), end=_moment(info.end)
    )
    created, existing = [], 0
    for tick in (t for t in ticks if t <= now):
        try:
            created.append(
                store.create_flow_run(scheduled_run(info, schedule, tick, now, trigger="backfill"))
            )
        except DuplicateRunError:
            existing += 1
    return created, existing
