"""When a schedule fires: pure functions of (schedule, timezone, start, end, now).

Nothing here reads the clock or does I/O; the scheduler passes ``now`` in. Every instant
goes in timezone-aware (any zone) and comes out aware in UTC.

- A **tick** is a moment the schedule fires. A scheduled run's logical date is its tick, and
  its data interval is [previous tick, this tick).
- Cron strings are evaluated in the flow's timezone with cronsim, which behaves like Debian
  cron across daylight-saving changes: a job whose local time is skipped (02:30 on a
  spring-forward night) runs once, right after the jump; a job whose local time happens twice
  (01:30 on a fall-back night in New York) runs once, at the first occurrence. Jobs with a
  ``*`` in the minute or hour field (``0 * * * *``) follow elapsed time instead: an hourly
  job fires every 60 minutes of real time across both changes, no duplicate, no gap.
  Arithmetic between instants is done in UTC; local time is used only to match the fields.
- ``Every`` ticks fall at ``start + k * interval`` (the Unix epoch when there is no start).
- ``start`` and ``end`` bound the ticks, both inclusive. They may be aware datetimes, naive
  datetimes (wall time in the flow's timezone) or dates (that day's midnight there).
- A schedule with a calendar or ``exclude`` dates skips the ticks whose local date (in the
  flow's timezone) is closed: the ticks are the schedule's own, fewer. The data interval of a
  run runs from the previous open tick (Monday's run of a business-day schedule covers the
  weekend). A closed day is skipped whole, so the cost is per closed day, not per tick; and a
  search that finds no open tick within ``SEARCH_LIMIT`` raises ``ScheduleError`` instead of
  going on for ever (a calendar that is never open).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from pauta.core.errors import DefinitionError, ScheduleError
from pauta.definitions.schedules import Cron, Every, Schedule, has_days

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SEARCH_LIMIT = timedelta(days=3653)
"""How far (ten years) the ticks of a schedule with a calendar are searched for an open day."""

_US = timedelta(microseconds=1)

Bound = datetime | date | None
Zone = str | tzinfo


def next_tick(
    schedule: Schedule,
    tz: Zone,
    after: datetime,
    *,
    start: Bound = None,
    end: Bound = None,
) -> datetime | None:
    """The first tick strictly after ``after`` (and at or after ``start``); None past ``end``."""
    grid = _Grid(schedule, tz, start)
    after = _instant(after, "after")
    if grid.start is not None and after < grid.start:
        after = grid.start - _US
    end_utc = _bound(end, grid.zone)
    tick = grid.after(after, None if end_utc is None else end_utc + _US)
    return None if tick is None or (end_utc is not None and tick > end_utc) else tick


def previous_tick(
    schedule: Schedule,
    tz: Zone,
    before: datetime,
    *,
    start: Bound = None,
    end: Bound = None,
) -> datetime | None:
    """The last tick strictly before ``before`` (and at or before ``end``).

    None when there is none at or after ``start``.
    """
    grid = _Grid(schedule, tz, start)
    before = _instant(before, "before")
    end_utc = _bound(end, grid.zone)
    if end_utc is not None and before > end_utc:
        before = end_utc + _US
    tick = grid.before(before, floor=grid.start)
    return None if tick is None or (grid.start is not None and tick < grid.start) else tick


def ticks_between(
    schedule: Schedule,
    tz: Zone,
    since: datetime,
    until: datetime,
    *,
    start: Bound = None,
    end: Bound = None,
) -> list[datetime]:
    """Every tick in the half-open range [since, until), within [start, end].

    Used by backfill (``pauta backfill FLOW --start D1 --end D2`` creates the runs whose ticks
    fall in [D1, D2)) and by catch-up.
    """
    grid = _Grid(schedule, tz, start)
    since, until = _instant(since, "since"), _instant(until, "until")
    if grid.start is not None and since < grid.start:
        since = grid.start
    end_utc = _bound(end, grid.zone)
    if end_utc is not None and until > end_utc:
        until = end_utc + _US
    ticks: list[datetime] = []
    for tick in grid.iterate(since - _US, until):
        if tick >= until:
            break
        ticks.append(tick)
    return ticks


def data_interval(
    schedule: Schedule, tz: Zone, tick: datetime, *, start: Bound = None
) -> tuple[datetime, datetime]:
    """The data interval of the run at ``tick``: [previous tick, tick).

    The previous tick is taken on the schedule's grid even before ``start``, so the first run
    covers a whole interval like every other (the Monday 03:00 weekly run covers the week
    before it). ``start`` matters for ``Every``, whose grid it anchors.
    """
    grid = _Grid(schedule, tz, start)
    tick = _instant(tick, "tick")
    previous = grid.before(tick)
    if previous is None:
        raise ValueError(f"{schedule!r} has no tick before {tick.isoformat()}")
    return previous, tick


def due_runs(
    schedule: Schedule,
    tz: Zone,
    *,
    last_tick: datetime | None,
    now: datetime,
    catchup: bool,
    max_catchup: int,
    start: Bound = None,
    end: Bound = None,
) -> list[datetime]:
    """The ticks that need a run now, oldest first.

    A tick is due once ``now`` has reached it. ``last_tick`` is the latest tick a run was
    created for (None on the first evaluation).

    - ``catchup=False``: only the latest due tick, if it is after ``last_tick``.
    - ``catchup=True``: every due tick after ``last_tick``, but at most ``max_catchup`` of them:
      the most recent ones. After a long outage the newest data matters most, the latest tick
      always runs (as without catch-up), and the cap bounds the outage for good: the next
      evaluation continues from the newest tick, so the skipped older ones never trickle in
      later. Create those with ``pauta backfill`` if they are wanted.
    - First evaluation: only the latest due tick (history is never backfilled implicitly),
      unless ``start`` is given with ``catchup=True``: then the ticks since ``start``, capped.
    """
    if isinstance(max_catchup, bool) or not isinstance(max_catchup, int) or max_catchup < 1:
        raise ValueError(f"max_catchup must be a whole number >= 1, got {max_catchup!r}")
    now = _instant(now, "now")
    last = None if last_tick is None else _instant(last_tick, "last_tick")
    latest = previous_tick(schedule, tz, now + _US, start=start, end=end)
    if latest is None or (last is not None and latest <= last):
        return []
    if not catchup or (last is None and start is None):
        return [latest]
    due = [latest]
    while len(due) < max_catchup:
        earlier = previous_tick(schedule, tz, due[-1], start=start, end=end)
        if earlier is None or (last is not None and earlier <= last):
            break
        due.append(earlier)
    due.reverse()
    return due


def schedule_key(flow_name: str, logical_date: datetime) -> str:
    """The unique key of a scheduled run: one run per flow and tick.

    ``"nightly@2026-03-09T07:00:00Z"``: the flow name and the tick in UTC, so two schedulers
    (or a scheduler and a backfill) computing the same tick produce the same key.
    """
    if not isinstance(flow_name, str) or not flow_name:
        raise ValueError(f"schedule_key needs a flow name, got {flow_name!r}")
    moment = _instant(logical_date, "logical_date")
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return f"{flow_name}@{moment.replace(tzinfo=None).isoformat(timespec=spec)}Z"


def to_utc(value: datetime | date, tz: Zone) -> datetime:
    """A flow-level moment as aware UTC: aware datetimes are converted; naive ones are wall
    time in ``tz`` (the first one when it happens twice); a date is that day's midnight in ``tz``.
    """
    zone = _zone(tz)
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise DefinitionError(
                f"expected a datetime or a date, got {type(value).__name__} {value!r}"
            )
        value = datetime.combine(value, time())
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=zone, fold=0)
    return value.astimezone(UTC)


class _Grid:
    """A schedule's unbounded ticks in one zone: the steps the public functions are made of."""

    def __init__(self, schedule: Schedule, tz: Zone, start: Bound) -> None:
        self.zone = _zone(tz)
        self.start = _bound(start, self.zone)
        self.schedule = schedule
        self.filtered = has_days(schedule) if isinstance(schedule, Cron | Every) else False
        if isinstance(schedule, Every):
            self.anchor = self.start if self.start is not None else EPOCH
            self.interval = schedule.interval
        elif isinstance(schedule, Cron):
            self.fields = schedule.fields
        else:
            raise DefinitionError(
                f"expected a Cron or Every schedule, got {type(schedule).__name__} {schedule!r}"
            )

    def after(self, moment: datetime, until: datetime | None = None) -> datetime | None:
        return next(self.iterate(moment, until), None)

    def iterate(self, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
        """Ticks strictly after ``after``, ascending; with a calendar, only open ones, and not
        searched for at or past ``until``."""
        if self.filtered:
            yield from self._open_ticks(after, until)
        else:
            yield from self._ticks(after)

    def before(self, moment: datetime, *, floor: datetime | None = None) -> datetime | None:
        """The last tick strictly before ``moment``; with a calendar, the last open one, not
        searched for below ``floor`` (a tick below it is returned as is, for the caller to
        refuse)."""
        if not self.filtered:
            return self._before(moment)
        probe = moment
        while True:
            tick = self._before(probe)
            if tick is None or (floor is not None and tick < floor):
                return tick
            day = tick.astimezone(self.zone).date()
            if self.schedule.runs_on(day):
                return tick
            if moment - tick > SEARCH_LIMIT:
                raise ScheduleError(self._never(moment, "before"))
            try:
                probe = min(tick, self._midnight(day))
            except OverflowError:
                return None

    def _open_ticks(self, after: datetime, until: datetime | None) -> Iterator[datetime]:
        found = after  # the last open tick, or where the search began
        probe = after
        while True:
            for tick in self._ticks(probe):
                if until is not None and tick >= until:
                    return
                day = tick.astimezone(self.zone).date()
                if self.schedule.runs_on(day):
                    found = tick
                    yield tick
                    continue
                if tick - found > SEARCH_LIMIT:
                    raise ScheduleError(self._never(found, "after"))
                # the rest of a closed day is closed too: go on from its end
                try:
                    skip = self._midnight(day + timedelta(days=1)) - _US
                except OverflowError:
                    return
                if skip > tick:
                    probe = skip
                    break
            else:
                return

    def _midnight(self, day: date) -> datetime:
        """The start of ``day`` in the zone, in UTC (a skipped midnight: where the day begins)."""
        return datetime.combine(day, time(), tzinfo=self.zone).astimezone(UTC)

    def _never(self, moment: datetime, side: str) -> str:
        zone = getattr(self.zone, "key", None) or str(self.zone)
        when = moment.isoformat(timespec="seconds")
        return (
            f"schedule {self.schedule.describe(zone)!r} has no tick on an open day in the ten "
            f"years {side} {when}: its calendar (or exclude list) closes every day it ticks "
            "on; check the calendar's is_open(), the country code and the weekend"
        )

    def _ticks(self, after: datetime) -> Iterator[datetime]:
        """The schedule's own ticks strictly after ``after``, ascending, calendar ignored."""
        if isinstance(self.schedule, Every):
            k = (after - self.anchor) // self.interval + 1
            try:
                while True:
                    yield self.anchor + k * self.interval
                    k += 1
            except OverflowError:
                return
        else:
            yield from self._cron_forward(after)

    def _before(self, moment: datetime) -> datetime | None:
        if isinstance(self.schedule, Every):
            k = -((self.anchor - moment) // self.interval) - 1
            try:
                return self.anchor + k * self.interval
            except OverflowError:
                return None
        return self._cron_before(moment)

    def _cron_forward(self, after: datetime) -> Iterator[datetime]:
        last = after
        try:
            for local in CronSim(self.fields, after.astimezone(self.zone)):
                tick = local.astimezone(UTC)
                # In Debian-cron mode cronsim walks naive wall time, so from a moment inside a
                # repeated hour it can answer the hour's first pass, which is already behind us.
                if tick > last:
                    last = tick
                    yield tick
        except (StopIteration, OverflowError):
            # cronsim gives up after 50 years without a match (such as "0 0 29 2 MON").
            return

    def _cron_before(self, before: datetime) -> datetime | None:
        # The forward walk defines the ticks. Walking backwards only finds a starting point
        # two ticks back; the forward walk from there settles the answer, so previous and
        # next agree even inside a repeated hour, where the reverse walk can skip a tick.
        probe = before
        for _ in range(8):
            backwards = CronSim(self.fields, probe.astimezone(self.zone), reverse=True)
            floor: datetime | None = None
            try:
                for _ in range(2):
                    floor = next(backwards).astimezone(UTC)
            except (StopIteration, OverflowError):
                pass
            if floor is None:
                return None
            floor = min(floor, probe - timedelta(seconds=1))
            best = None
            for tick in self._cron_forward(floor - _US):
                if tick >= before:
                    break
                best = tick
            if best is not None:
                return best
            probe = floor
        return None


def _zone(tz: Zone) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    if tz == "UTC":
        # The fixed UTC zone lets cronsim skip its daylight-saving handling.
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DefinitionError(
            f"unknown timezone {tz!r}; use an IANA name such as 'Europe/Madrid' or "
            "'America/Argentina/Buenos_Aires'"
        ) from None


def _bound(value: Bound, zone: tzinfo) -> datetime | None:
    return None if value is None else to_utc(value, zone)


def _instant(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name}={value.isoformat()} is naive; pass a timezone-aware datetime "
            "(pauta.core.clock.utcnow() gives one)"
        )
    return value.astimezone(UTC)
