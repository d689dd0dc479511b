"""The cron loop: create one QUEUED run per due tick of every scheduled, unpaused flow.

``Scheduler.evaluate(flows, now)`` decides with the pure functions of ``ticks`` and records
the runs; the unique schedule key in the store makes "one run per tick" hold even with several
schedulers on one database. Workers run what it queues.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pauta.core.errors import DefinitionError, ScheduleError
from pauta.core.loading import module_name_for
from pauta.definitions.deadlines import Deadline
from pauta.definitions.schedules import Schedule, from_spec
from pauta.scheduling.discovery import FlowInfo
from pauta.scheduling.ticks import (
    data_interval,
    due_runs,
    next_tick,
    schedule_key,
    ticks_between,
)
from pauta.store.creation import FlowIdentity, Interval, new_flow_run
from pauta.store.records import FlowRunRecord
from pauta.store.repository import DuplicateRunError, Store

log = logging.getLogger("pauta.scheduler")

DEFAULT_MAX_CATCHUP = 10
"""At most this many missed ticks are created at once after downtime (``catchup=True``)."""

RETRY_CANNOT_TICK = timedelta(hours=1)
"""A schedule found unable to tick (a calendar never open) is looked at again after this long,
or as soon as its definition changes: searching ten years of closed days every second would
cost the loop a core and fill the log."""


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def paused_flows(store: Store) -> set[str]:
    """The names of the paused flows."""
    return store.paused_flows()


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


@dataclass(frozen=True, slots=True)
class _Handled:
    """A flow whose due ticks all have a run: nothing is due before ``next_tick``."""

    info: FlowInfo  # the definition this holds for (a changed file is scanned into a new one)
    last_tick: datetime | None
    next_tick: datetime | None  # None: the schedule has no more ticks


class Scheduler:
    """Creates the runs that time-based schedules make due."""

    def __init__(self, store: Store, *, max_catchup: int = DEFAULT_MAX_CATCHUP) -> None:
        self.store = store
        self.max_catchup = max_catchup
        # Evaluated every second, most flows have nothing due: remembering each flow's next
        # tick skips the store query and the tick arithmetic for them (1,000 every-minute
        # flows cost 40% of a core without it).
        self._handled: dict[str, _Handled] = {}
        # Since when each flow's ticks have been dispatchable to this scheduler, by flow name
        # (with the schedule it holds for): a tick that fell due earlier (before the first
        # evaluation, while the flow was paused or held back by max_active_runs, or under
        # another schedule) is due from then on; sooner is not lateness (`due_at`).
        self._due_from: dict[str, tuple[tuple[Any, ...], datetime]] = {}
        # Flows whose schedule cannot tick, with the definition that failed and when to retry.
        self._stuck: dict[str, tuple[FlowInfo, datetime]] = {}

    def evaluate(
        self, flows: Iterable[FlowInfo], now: datetime, *, paused: set[str] | None = None
    ) -> list[FlowRunRecord]:
        """Queue a run for each due tick; returns the runs this call created. ``paused`` names
        the paused flows (read from the store when not given)."""
        if paused is None:
            paused = paused_flows(self.store)
        records: list[FlowRunRecord] = []
        handled: list[_Handled] = []
        for info in flows:
            if not info.schedule_spec or info.name in paused:
                self._due_from.pop(info.name, None)
                continue
            if self._waiting(info, now) or self._is_stuck(info, now):
                continue
            try:
                due, done = self._due(info, now)
            except (DefinitionError, ValueError) as exc:
                log.error("cannot schedule flow %s (%s): %s", info.name, info.file, exc)
                if isinstance(exc, ScheduleError):
                    self._stuck[info.name] = (info, now + RETRY_CANNOT_TICK)
                continue
            records.extend(due)
            if done is not None:
                handled.append(done)
        # One transaction for every run due now: flows on the same cron line all fall due on
        # the same second. A tick another scheduler created first is skipped.
        created = self.store.create_flow_runs(records)
        for done in handled:
            self._handled[done.info.name] = done
        return created

    def _waiting(self, info: FlowInfo, now: datetime) -> bool:
        """Whether ``info`` certainly has no due tick without a run at ``now``."""
        handled = self._handled.get(info.name)
        if handled is None or not (handled.info is info or handled.info == info):
            return False
        return handled.next_tick is None or now < handled.next_tick

    def _is_stuck(self, info: FlowInfo, now: datetime) -> bool:
        """Whether ``info``'s schedule was found unable to tick, and it is not time to retry."""
        stuck = self._stuck.get(info.name)
        if stuck is None:
            return False
        if stuck[0] == info and now < stuck[1]:
            return True
        del self._stuck[info.name]
        return False

    def _due(self, info: FlowInfo, now: datetime) -> tuple[list[FlowRunRecord], _Handled | None]:
        """The runs ``info``'s due ticks need, and what to remember once they exist (None while
        ``max_active_runs`` holds ticks back: they stay due, created when a run ends)."""
        # forgotten until the runs exist: an error makes the next evaluation start afresh
        known = self._handled.pop(info.name, None)
        schedule = _schedule_of(info)
        start, end = _moment(info.start), _moment(info.end)
        if known is not None and known.info == info:
            # A tick another scheduler (or a backfill) created meanwhile is skipped as a
            # duplicate, so this process's own memory is as good as the store's answer.
            last_tick = known.last_tick
        else:
            last_tick = self.store.last_scheduled_tick(info.name)
        due = due_runs(
            schedule,
            info.timezone,
            last_tick=last_tick,
            now=now,
            catchup=info.catchup,
            max_catchup=self.max_catchup,
            start=start,
            end=end,
        )
        held_back = False
        if info.max_active_runs and due:
            room = max(0, info.max_active_runs - self.store.count_active_runs(info.name))
            held_back = room < len(due)
            due = due[:room]  # the oldest first, as they would run
        due_from = self._watch(info, now)
        records = [
            scheduled_run(info, schedule, tick, now, trigger="schedule", due_from=due_from)
            for tick in due
        ]
        if held_back:
            # the ticks left are dispatchable only once a run ends: due from then at the soonest
            self._due_from[info.name] = (_timing(info), now)
            return records, None
        upcoming = next_tick(schedule, info.timezone, now, start=start, end=end)
        newest = max([*due, last_tick] if last_tick else due, default=None)
        return records, _Handled(info, newest, upcoming)

    def _watch(self, info: FlowInfo, now: datetime) -> datetime:
        """Since when ``info``'s ticks have been dispatchable here (``now`` the first time, and
        again after its schedule changed)."""
        timing = _timing(info)
        known = self._due_from.get(info.name)
        if known is None or known[0] != timing:
            known = self._due_from[info.name] = (timing, now)
        return known[1]


def _timing(info: FlowInfo) -> tuple[Any, ...]:
    """What decides a flow's ticks."""
    return (info.schedule_spec, info.timezone, info.start, info.end, info.catchup)


def scheduled_run(
    info: FlowInfo,
    schedule: Schedule,
    tick: datetime,
    now: datetime,
    *,
    trigger: str,
    due_from: datetime | None = None,
) -> FlowRunRecord:
    """The QUEUED run of ``info`` for ``tick`` (a scheduled or backfill run), with its data
    interval, default parameters and the unique schedule key. ``due_from``: since when the
    scheduler could dispatch the tick, for a scheduled run (its ``due_at`` is the later of the
    two)."""
    start = _moment(info.start)
    interval = data_interval(schedule, info.timezone, tick, start=start)
    run = new_run(
        info,
        logical_date=tick,
        interval=interval,
        now=now,
        trigger=trigger,
        key=schedule_key(info.name, tick),
    )
    if due_from is not None:
        run.due_at = max(tick, due_from)
    return run


def new_run(
    info: FlowInfo,
    *,
    logical_date: datetime,
    interval: tuple[datetime, datetime],
    now: datetime,
    trigger: str,
    key: str,
    params: dict[str, Any] | None = None,
) -> FlowRunRecord:
    """A QUEUED run of a discovered flow with its default parameters (updated by
    ``params``) and the unique key that makes a second creation fail."""
    return new_flow_run(
        flow_identity(info),
        {**{p.name: p.default for p in info.parameters}, **(params or {})},
        now=now,
        trigger=trigger,
        interval=Interval(logical_date, interval[0], interval[1]),
        schedule_key=key,
    )


def flow_identity(info: FlowInfo) -> FlowIdentity:
    """What a run records of a flow discovered in a file (without importing it)."""
    flow_ref = {
        "module": module_name_for(info.file),
        "qualname": info.qualname,
        "path": str(info.file),
    }
    deadline = Deadline.from_spec(info.deadline) if info.deadline else None
    return FlowIdentity(info.name, flow_ref, info.priority, tuple(info.tags), deadline=deadline)


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
