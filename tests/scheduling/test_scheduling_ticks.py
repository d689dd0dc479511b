"""Ticks: cron and Every evaluated with explicit datetimes, across DST, with start/end bounds,
data intervals, due runs with and without catch-up, and schedule keys. No clock is read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from pauta.core.clock import FrozenClock
from pauta.core.errors import DefinitionError
from pauta.definitions.schedules import Cron, Every, Schedule
from pauta.scheduling.ticks import (
    EPOCH,
    data_interval,
    due_runs,
    next_tick,
    previous_tick,
    schedule_key,
    ticks_between,
    to_utc,
)

NY = "America/New_York"
MADRID = "Europe/Madrid"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc]


def wall(ticks: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M %Z") for t in ticks]


# --- cron in UTC -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 3 * * *", utc(2026, 5, 5, 1, 0), utc(2026, 5, 5, 3, 0)),
        ("0 3 * * *", utc(2026, 5, 5, 3, 0), utc(2026, 5, 6, 3, 0)),  # strictly after
        ("0 3 * * *", utc(2026, 5, 5, 2, 59, 59, 999999), utc(2026, 5, 5, 3, 0)),
        ("*/15 * * * *", utc(2026, 5, 5, 10, 7, 30), utc(2026, 5, 5, 10, 15)),
        ("0 3 * * MON", utc(2026, 5, 5, 0, 0), utc(2026, 5, 11, 3, 0)),  # 05-05 is a Tuesday
        ("@hourly", utc(2026, 5, 5, 23, 30), utc(2026, 5, 6, 0, 0)),
        ("@monthly", utc(2026, 12, 15), utc(2027, 1, 1)),
        ("@yearly", utc(2026, 1, 1), utc(2027, 1, 1)),
        ("@weekly", utc(2026, 5, 5), utc(2026, 5, 10)),  # Sunday midnight
        ("0 0 29 2 *", utc(2026, 3, 1), utc(2028, 2, 29)),
    ],
)
def test_next_tick_in_utc(expression: str, after: datetime, expected: datetime) -> None:
    assert next_tick(Cron(expression), "UTC", after) == expected


@pytest.mark.parametrize(
    ("expression", "before", "expected"),
    [
        ("0 3 * * *", utc(2026, 5, 5, 3, 0), utc(2026, 5, 4, 3, 0)),  # strictly before
        ("0 3 * * *", utc(2026, 5, 5, 3, 0, 0, 1), utc(2026, 5, 5, 3, 0)),
        ("*/15 * * * *", utc(2026, 5, 5, 10, 7, 30), utc(2026, 5, 5, 10, 0)),
        ("0 3 * * MON", utc(2026, 5, 5, 0, 0), utc(2026, 5, 4, 3, 0)),
    ],
)
def test_previous_tick_in_utc(expression: str, before: datetime, expected: datetime) -> None:
    assert previous_tick(Cron(expression), "UTC", before) == expected


def test_ticks_come_back_in_utc_whatever_zone_goes_in() -> None:
    after = local("Asia/Tokyo", 2026, 5, 5, 12, 0)  # 03:00 UTC
    tick = next_tick(Cron("30 * * * *"), "UTC", after)
    assert tick == utc(2026, 5, 5, 3, 30)
    assert tick is not None
    assert tick.tzinfo is UTC


def test_cron_is_evaluated_in_the_flow_timezone() -> None:
    tick = next_tick(Cron("0 3 * * MON"), "America/Argentina/Buenos_Aires", utc(2026, 5, 5))
    assert tick == utc(2026, 5, 11, 6, 0)  # 03:00 at UTC-3


def test_no_tick_past_the_last_representable_moment() -> None:
    assert next_tick(Cron("@yearly"), "UTC", utc(9999, 6, 1)) is None
    assert next_tick(Every(days=365), "UTC", utc(9999, 12, 1)) is None


# --- cron across daylight-saving changes ---------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expression", "since", "expected_utc", "expected_wall"),
    [
        # New York springs forward on 2026-03-08 at 02:00 EST -> 03:00 EDT: 02:30 does not
        # exist, the job runs once, right after the jump.
        (
            NY,
            "30 2 * * *",
            utc(2026, 3, 7),
            [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)],
            ["03-07 02:30 EST", "03-08 03:00 EDT", "03-09 02:30 EDT"],
        ),
        # New York falls back on 2026-11-01 at 02:00 EDT -> 01:00 EST: 01:30 happens twice,
        # the job runs once, at the first one.
        (
            NY,
            "30 1 * * *",
            utc(2026, 10, 31),
            [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
            ["10-31 01:30 EDT", "11-01 01:30 EDT", "11-02 01:30 EST"],
        ),
        # Madrid springs forward on 2026-03-29 at 02:00 CET -> 03:00 CEST.
        (
            MADRID,
            "30 2 * * *",
            utc(2026, 3, 28),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
            ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"],
        ),
        # Madrid falls back on 2026-10-25 at 03:00 CEST -> 02:00 CET: there 02:30 is the
        # time that happens twice; it runs once, at the first one.
        (
            MADRID,
            "30 2 * * *",
            utc(2026, 10, 24),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
            ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"],
        ),
        # ... and 01:30, which happens once in Madrid, keeps running once a day.
        (
            MADRID,
            "30 1 * * *",
            utc(2026, 10, 23, 23, 0),
            [utc(2026, 10, 23, 23, 30), utc(2026, 10, 24, 23, 30), utc(2026, 10, 26, 0, 30)],
            ["10-24 01:30 CEST", "10-25 01:30 CEST", "10-26 01:30 CET"],
        ),
    ],
)
def test_daily_jobs_run_once_on_dst_days(
    zone: str,
    expression: str,
    since: datetime,
    expected_utc: list[datetime],
    expected_wall: list[str],
) -> None:
    ticks = ticks_between(Cron(expression), zone, since, since + timedelta(days=3))
    assert ticks == expected_utc
    assert wall(ticks, zone) == expected_wall


@pytest.mark.parametrize("expression", ["0 * * * *", "@hourly", "30 * * * *"])
@pytest.mark.parametrize(
    ("zone", "day", "local_hours"),
    [
        (NY, date(2026, 3, 8), 23),
        (NY, date(2026, 11, 1), 25),
        (MADRID, date(2026, 3, 29), 23),
        (MADRID, date(2026, 10, 25), 25),
    ],
)
def test_hourly_jobs_have_no_duplicate_and_no_gap_across_dst(
    expression: str, zone: str, day: date, local_hours: int
) -> None:
    schedule = Cron(expression)
    since = to_utc(day, zone)
    until = to_utc(day + timedelta(days=1), zone)
    ticks = ticks_between(schedule, zone, since, until)
    assert len(ticks) == local_hours  # one per real hour of that local day
    assert len(set(ticks)) == len(ticks)
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(ticks))


def test_hourly_job_local_times_on_fall_back_day() -> None:
    day = date(2026, 11, 1)
    ticks = ticks_between(
        Cron("30 * * * *"), NY, to_utc(day, NY), to_utc(day, NY) + timedelta(hours=4)
    )
    assert wall(ticks, NY) == [
        "11-01 00:30 EDT",
        "11-01 01:30 EDT",
        "11-01 01:30 EST",
        "11-01 02:30 EST",
    ]  # fmt: skip


def test_from_inside_the_repeated_hour_the_first_pass_is_in_the_past() -> None:
    schedule = Cron("30 1 * * *")
    inside = local(NY, 2026, 11, 1, 1, 10, fold=1)  # 01:10 EST, after 01:30 EDT happened
    assert inside.astimezone(UTC) == utc(2026, 11, 1, 6, 10)
    assert next_tick(schedule, NY, inside) == utc(2026, 11, 2, 6, 30)
    assert previous_tick(schedule, NY, inside) == utc(2026, 11, 1, 5, 30)


def test_tick_after_the_spring_forward_run_is_the_next_day() -> None:
    schedule = Cron("30 2 * * *")
    assert next_tick(schedule, NY, utc(2026, 3, 8, 7, 0)) == utc(2026, 3, 9, 6, 30)
    assert previous_tick(schedule, NY, utc(2026, 3, 9, 6, 30)) == utc(2026, 3, 8, 7, 0)


@pytest.mark.parametrize("zone", [NY, MADRID, "UTC"])
@pytest.mark.parametrize(
    "expression", ["30 1 * * *", "30 2 * * *", "0,30 1,2 * * *", "*/20 * * * *", "0 */2 * * *"]
)
@pytest.mark.parametrize(
    "window_start",
    [utc(2026, 3, 7, 12), utc(2026, 3, 28, 12), utc(2026, 10, 24, 0), utc(2026, 10, 31, 12)],
)
def test_next_and_previous_agree_with_the_grid_from_any_moment(
    zone: str, expression: str, window_start: datetime
) -> None:
    """Two schedulers starting from different moments compute the same ticks.

    Property-style check over a window with both European and American changes nearby:
    from many moments (not aligned to anything), the next and previous ticks are exactly the
    neighbours in the list of ticks.
    """
    schedule = Cron(expression)
    grid = ticks_between(
        schedule, zone, window_start - timedelta(days=2), window_start + timedelta(days=5)
    )
    assert grid == sorted(set(grid))
    moment = window_start
    while moment < window_start + timedelta(days=3):
        assert next_tick(schedule, zone, moment) == min(t for t in grid if t > moment)
        assert previous_tick(schedule, zone, moment) == max(t for t in grid if t < moment)
        moment += timedelta(minutes=37, seconds=11)


# --- Every ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "after", "expected"),
    [
        (Every(minutes=15), utc(2026, 5, 5, 10, 7, 30), utc(2026, 5, 5, 10, 15)),
        (Every(minutes=15), utc(2026, 5, 5, 10, 15), utc(2026, 5, 5, 10, 30)),
        (Every(hours=1), utc(2026, 5, 5, 10, 0, 0, 1), utc(2026, 5, 5, 11, 0)),
        (Every(days=1), utc(2026, 5, 5, 10, 0), utc(2026, 5, 6, 0, 0)),
        (Every(hours=7), utc(1970, 1, 1, 0, 0), utc(1970, 1, 1, 7, 0)),
        (Every(hours=7), utc(1969, 12, 31, 16, 0), utc(1969, 12, 31, 17, 0)),  # before epoch
    ],
)
def test_every_counts_from_the_epoch_without_start(
    every: Every, after: datetime, expected: datetime
) -> None:
    assert next_tick(every, "UTC", after) == expected


def test_every_grid_is_the_same_from_different_moments() -> None:
    every = Every(hours=7, minutes=13)
    first = ticks_between(every, "UTC", utc(2026, 5, 1), utc(2026, 5, 10))
    second = ticks_between(every, "UTC", utc(2026, 5, 3, 4, 5, 6), utc(2026, 5, 10))
    assert second == [t for t in first if t >= utc(2026, 5, 3, 4, 5, 6)]
    assert all((t - EPOCH) % every.interval == timedelta(0) for t in first)
    assert next_tick(every, "UTC", utc(2026, 5, 3, 4, 5, 6)) == second[0]
    assert previous_tick(every, "UTC", second[0]) == first[first.index(second[0]) - 1]


def test_every_is_anchored_at_start() -> None:
    start = utc(2026, 1, 1, 0, 5)
    every = Every(hours=1)
    assert next_tick(every, "UTC", utc(2025, 6, 1), start=start) == start  # start is a tick
    assert next_tick(every, "UTC", utc(2026, 3, 3, 10, 0), start=start) == utc(2026, 3, 3, 10, 5)
    assert next_tick(every, "UTC", utc(2026, 3, 3, 10, 5), start=start) == utc(2026, 3, 3, 11, 5)
    assert previous_tick(every, "UTC", start, start=start) is None
    assert previous_tick(every, "UTC", utc(2026, 3, 3, 10, 0), start=start) == utc(2026, 3, 3, 9, 5)


def test_every_is_elapsed_time_whatever_the_zone() -> None:
    start = local(NY, 2026, 3, 7, 0, 0)  # 05:00 UTC
    ticks = ticks_between(Every(days=1), NY, start, start + timedelta(days=3), start=start)
    assert ticks == [utc(2026, 3, 7, 5), utc(2026, 3, 8, 5), utc(2026, 3, 9, 5)]
    assert wall(ticks, NY) == ["03-07 00:00 EST", "03-08 00:00 EST", "03-09 01:00 EDT"]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (datetime(2026, 1, 1, 9, 0), utc(2026, 1, 1, 8, 0)),  # naive: wall time in the zone
        (date(2026, 1, 1), utc(2025, 12, 31, 23, 0)),  # a date: that day's midnight there
        (local("Asia/Tokyo", 2026, 1, 1, 9, 0), utc(2026, 1, 1, 0, 0)),  # aware: as is
    ],
)
def test_start_may_be_naive_local_a_date_or_aware(
    start: datetime | date, expected: datetime
) -> None:
    assert next_tick(Every(hours=1), MADRID, utc(2020, 1, 1), start=start) == expected


# --- start and end ---------------------------------------------------------------------------


def test_cron_start_is_inclusive_and_nothing_fires_before_it() -> None:
    daily = Cron("0 3 * * *")
    start = utc(2026, 5, 5, 3, 0)
    assert next_tick(daily, "UTC", utc(2026, 1, 1), start=start) == start
    assert next_tick(daily, "UTC", utc(2026, 1, 1), start=utc(2026, 5, 5, 3, 1)) == utc(
        2026, 5, 6, 3
    )
    assert previous_tick(daily, "UTC", utc(2026, 5, 5, 12), start=utc(2026, 5, 5, 3, 1)) is None


def test_end_stops_ticks_and_is_inclusive() -> None:
    daily = Cron("0 3 * * *")
    end = utc(2026, 5, 7, 3, 0)
    assert next_tick(daily, "UTC", utc(2026, 5, 6, 12), end=end) == end
    assert next_tick(daily, "UTC", end, end=end) is None
    assert next_tick(daily, "UTC", utc(2027, 1, 1), end=end) is None
    assert previous_tick(daily, "UTC", utc(2027, 1, 1), end=end) == end
    assert previous_tick(daily, "UTC", utc(2027, 1, 1), end=utc(2026, 5, 7, 2, 59)) == utc(
        2026, 5, 6, 3
    )
    assert ticks_between(daily, "UTC", utc(2026, 5, 5), utc(2026, 6, 1), end=end) == [
        utc(2026, 5, 5, 3),
        utc(2026, 5, 6, 3),
        utc(2026, 5, 7, 3),
    ]
    assert next_tick(Every(hours=1), "UTC", utc(2026, 5, 7, 3), end=end) is None


def test_ticks_between_is_half_open() -> None:
    hourly = Cron("@hourly")
    assert ticks_between(hourly, "UTC", utc(2026, 5, 5, 10), utc(2026, 5, 5, 13)) == [
        utc(2026, 5, 5, 10),  # since is included
        utc(2026, 5, 5, 11),
        utc(2026, 5, 5, 12),
    ]  # until (13:00) is not
    assert ticks_between(hourly, "UTC", utc(2026, 5, 5, 10, 1), utc(2026, 5, 5, 12)) == [
        utc(2026, 5, 5, 11)
    ]
    assert ticks_between(hourly, "UTC", utc(2026, 5, 5, 10), utc(2026, 5, 5, 10)) == []
    assert ticks_between(hourly, "UTC", utc(2026, 5, 5, 12), utc(2026, 5, 5, 10)) == []


def test_ticks_between_respects_start() -> None:
    every = Every(hours=6)
    start = utc(2026, 5, 5, 1)
    assert ticks_between(every, "UTC", utc(2026, 5, 4), utc(2026, 5, 6), start=start) == [
        utc(2026, 5, 5, 1),
        utc(2026, 5, 5, 7),
        utc(2026, 5, 5, 13),
        utc(2026, 5, 5, 19),
    ]


# --- data intervals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "zone", "tick", "interval_start"),
    [
        # The Monday 03:00 run covers the week before it.
        (Cron("0 3 * * MON"), "UTC", utc(2026, 3, 9, 3), utc(2026, 3, 2, 3)),
        # In New York that week is 167 hours long: the clocks sprang forward on 03-08.
        (Cron("0 3 * * MON"), NY, utc(2026, 3, 9, 7), utc(2026, 3, 2, 8)),
        # The spring-forward run of a 02:30 job covers from the day before's 02:30.
        (Cron("30 2 * * *"), NY, utc(2026, 3, 8, 7), utc(2026, 3, 7, 7, 30)),
        (Cron("@daily"), "UTC", utc(2026, 5, 5), utc(2026, 5, 4)),
        (Every(minutes=15), "UTC", utc(2026, 5, 5, 10, 15), utc(2026, 5, 5, 10, 0)),
    ],
)
def test_data_interval_is_previous_tick_to_this_tick(
    schedule: Schedule, zone: str, tick: datetime, interval_start: datetime
) -> None:
    assert data_interval(schedule, zone, tick) == (interval_start, tick)


def test_first_run_covers_a_whole_interval() -> None:
    start = utc(2026, 1, 1, 0, 5)
    assert data_interval(Every(hours=1), "UTC", start, start=start) == (
        start - timedelta(hours=1),
        start,
    )
    monday = utc(2026, 3, 9, 3)
    assert data_interval(Cron("0 3 * * MON"), "UTC", monday, start=monday) == (
        utc(2026, 3, 2, 3),
        monday,
    )


# --- due runs --------------------------------------------------------------------------------

HOURLY = Cron("0 * * * *")
NOW = utc(2026, 5, 5, 10, 20)


def hours(*values: int) -> list[datetime]:
    return [utc(2026, 5, 5, h) for h in values]


@pytest.mark.parametrize(
    ("last_tick", "catchup", "max_catchup", "start", "end", "expected"),
    [
        # Without catch-up: only the latest due tick, once.
        (utc(2026, 5, 5, 7), False, 10, None, None, hours(10)),
        (utc(2026, 5, 5, 10), False, 10, None, None, []),
        (utc(2026, 5, 5, 9), False, 10, None, None, hours(10)),
        # With catch-up: every missed tick, oldest first...
        (utc(2026, 5, 5, 7), True, 10, None, None, hours(8, 9, 10)),
        (utc(2026, 5, 5, 10), True, 10, None, None, []),
        # ...but at most max_catchup of them: the most recent ones.
        (utc(2026, 5, 5, 7), True, 2, None, None, hours(9, 10)),
        (utc(2026, 5, 5, 7), True, 1, None, None, hours(10)),
        # First evaluation: never backfill history implicitly...
        (None, True, 10, None, None, hours(10)),
        (None, False, 10, utc(2026, 5, 5, 6), None, hours(10)),
        # ...unless start is given with catch-up: from start, capped.
        (None, True, 10, utc(2026, 5, 5, 6), None, hours(6, 7, 8, 9, 10)),
        (None, True, 3, utc(2026, 5, 5, 6), None, hours(8, 9, 10)),
        (None, True, 10, utc(2026, 5, 5, 6, 30), None, hours(7, 8, 9, 10)),
        # start still bounds catch-up after the first evaluation.
        (utc(2026, 5, 5, 2), True, 10, utc(2026, 5, 5, 8), None, hours(8, 9, 10)),
        # A start in the future: nothing yet.
        (None, True, 10, utc(2026, 5, 6), None, []),
        # end: nothing after it.
        (utc(2026, 5, 5, 7), True, 10, None, utc(2026, 5, 5, 9, 30), hours(8, 9)),
        (utc(2026, 5, 5, 7), False, 10, None, utc(2026, 5, 5, 9, 30), hours(9)),
        (utc(2026, 5, 5, 9), True, 10, None, utc(2026, 5, 5, 9, 30), []),
    ],
)
def test_due_runs(
    last_tick: datetime | None,
    catchup: bool,
    max_catchup: int,
    start: datetime | None,
    end: datetime | None,
    expected: list[datetime],
) -> None:
    due = due_runs(
        HOURLY,
        "UTC",
        last_tick=last_tick,
        now=NOW,
        catchup=catchup,
        max_catchup=max_catchup,
        start=start,
        end=end,
    )
    assert due == expected


def test_a_tick_is_due_at_its_own_moment() -> None:
    kwargs = {"last_tick": utc(2026, 5, 5, 9), "catchup": False, "max_catchup": 5}
    assert due_runs(HOURLY, "UTC", now=utc(2026, 5, 5, 9, 59, 59, 999999), **kwargs) == []  # type: ignore[arg-type]
    assert due_runs(HOURLY, "UTC", now=utc(2026, 5, 5, 10), **kwargs) == hours(10)  # type: ignore[arg-type]


def test_a_long_outage_creates_at_most_the_cap_and_then_carries_on() -> None:
    every_minute = Cron("* * * * *")
    last = utc(2025, 5, 5, 10)  # a year of missed minutes
    due = due_runs(every_minute, "UTC", last_tick=last, now=NOW, catchup=True, max_catchup=5)
    assert due == [utc(2026, 5, 5, 10, m) for m in (16, 17, 18, 19, 20)]
    # The next evaluation continues from the newest tick created: the skipped year stays
    # skipped (backfill creates it if wanted); it does not trickle in five at a time.
    later = due_runs(
        every_minute,
        "UTC",
        last_tick=due[-1],
        now=NOW + timedelta(minutes=1, seconds=5),
        catchup=True,
        max_catchup=5,
    )
    assert later == [utc(2026, 5, 5, 10, 21)]


def test_due_runs_across_fall_back_with_a_fake_clock() -> None:
    """A scheduler loop on a frozen clock: every tick of a DST day is created exactly once."""
    clock = FrozenClock(utc(2026, 10, 31, 12))
    schedules = {"daily_0130": Cron("30 1 * * *"), "hourly": Cron("0 * * * *")}
    created: dict[str, list[datetime]] = {name: [] for name in schedules}
    last: dict[str, datetime | None] = {name: None for name in schedules}
    while clock.now() < utc(2026, 11, 2, 12):
        for name, schedule in schedules.items():
            for tick in due_runs(
                schedule, NY, last_tick=last[name], now=clock.now(), catchup=False, max_catchup=10
            ):
                created[name].append(tick)
                last[name] = tick
        clock.advance(minutes=7)
    # The first evaluation creates only the latest due tick (10-31 01:30 EDT), then each
    # tick once: 11-01 01:30 EDT (not again at 01:30 EST), 11-02 01:30 EST.
    assert created["daily_0130"] == [
        utc(2026, 10, 31, 5, 30),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]
    expected = ticks_between(schedules["hourly"], NY, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))
    assert created["hourly"] == expected
    assert len(expected) == 48


@pytest.mark.parametrize("max_catchup", [0, -1, 1.5, True, "10"])
def test_max_catchup_must_be_a_positive_whole_number(max_catchup: object) -> None:
    with pytest.raises(ValueError, match="max_catchup must be a whole number >= 1"):
        due_runs(HOURLY, "UTC", last_tick=None, now=NOW, catchup=True, max_catchup=max_catchup)  # type: ignore[arg-type]


# --- keys, conversions, errors -----------------------------------------------------------


def test_schedule_key_is_the_flow_and_the_tick_in_utc() -> None:
    assert schedule_key("nightly", utc(2026, 3, 9, 7)) == "nightly@2026-03-09T07:00:00Z"
    same_moment = local(NY, 2026, 3, 9, 3, 0)
    assert schedule_key("nightly", same_moment) == "nightly@2026-03-09T07:00:00Z"
    assert schedule_key("etl", utc(2026, 3, 9, 7, 0, 0, 250)) == "etl@2026-03-09T07:00:00.000250Z"
    assert schedule_key("etl", utc(2026, 3, 9, 7)) != schedule_key("nightly", utc(2026, 3, 9, 7))


def test_schedule_key_needs_a_name_and_an_aware_date() -> None:
    with pytest.raises(ValueError, match="needs a flow name"):
        schedule_key("", utc(2026, 3, 9, 7))
    with pytest.raises(ValueError, match="naive"):
        schedule_key("etl", datetime(2026, 3, 9, 7))


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        (date(2026, 3, 8), NY, utc(2026, 3, 8, 5)),
        (datetime(2026, 11, 1, 1, 30), NY, utc(2026, 11, 1, 5, 30)),  # ambiguous: first one
        (datetime(2026, 6, 1, 12, 0), "UTC", utc(2026, 6, 1, 12, 0)),
        (local(MADRID, 2026, 6, 1, 12, 0), NY, utc(2026, 6, 1, 10, 0)),
    ],
)
def test_to_utc(value: datetime | date, zone: str, expected: datetime) -> None:
    converted = to_utc(value, zone)
    assert converted == expected
    assert converted.tzinfo is UTC


def test_instants_must_be_aware() -> None:
    with pytest.raises(ValueError, match=r"after=2026-05-05T10:00:00 is naive"):
        next_tick(HOURLY, "UTC", datetime(2026, 5, 5, 10))
    with pytest.raises(ValueError, match=r"now=.* is naive"):
        due_runs(
            HOURLY, "UTC", last_tick=None, now=datetime(2026, 5, 5), catchup=False, max_catchup=1
        )


def test_unknown_timezone_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="unknown timezone 'Mars/Olympus'"):
        next_tick(HOURLY, "Mars/Olympus", NOW)


def test_only_schedules_are_evaluated() -> None:
    with pytest.raises(DefinitionError, match="expected a Cron or Every schedule, got str"):
        next_tick("0 3 * * *", "UTC", NOW)  # type: ignore[arg-type]
