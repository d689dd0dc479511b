"""Ticks of schedules with calendars, as pure functions of explicit datetimes: holidays, year
ends, excluded dates, the tick's local date across daylight-saving changes, Every with a
calendar, catch-up, and a calendar that is never open. No clock is read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from time import monotonic
from zoneinfo import ZoneInfo

import pytest

from pauta.core.errors import ScheduleError
from pauta.definitions.calendars import BusinessDays
from pauta.definitions.schedules import Cron, Every, Schedule, from_spec, schedule_spec
from pauta.scheduling.ticks import (
    data_interval,
    due_runs,
    next_tick,
    previous_tick,
    ticks_between,
)

BA = "America/Argentina/Buenos_Aires"
NY = "America/New_York"
MADRID = "Europe/Madrid"
AR = BusinessDays("AR")
SUNDAYS_US = BusinessDays("US", weekend=tuple(range(6)))  # only Sundays, unless a holiday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def wall(ticks: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%a %m-%d %H:%M %Z") for t in ticks]


class Never:
    def is_open(self, day: date) -> bool:
        return False


class Tuesdays:
    def is_open(self, day: date) -> bool:
        return day.weekday() == 1


def test_business_days_across_the_year_end_skip_holidays_weekends_and_excluded_dates() -> None:
    cron = Cron("0 3 * * *", calendar=AR, exclude=[date(2026, 12, 23)])
    ticks = ticks_between(cron, BA, local(BA, 2026, 12, 21), local(BA, 2027, 1, 6))
    assert wall(ticks, BA) == [
        "Mon 12-21 03:00 -03",
        "Tue 12-22 03:00 -03",
        # 12-23 excluded; 12-25 Christmas; then the weekend
        "Thu 12-24 03:00 -03",
        "Mon 12-28 03:00 -03",
        "Tue 12-29 03:00 -03",
        "Wed 12-30 03:00 -03",
        "Thu 12-31 03:00 -03",
        # 01-01 New Year's Day, then the weekend
        "Mon 01-04 03:00 -03",
        "Tue 01-05 03:00 -03",
    ]


def test_next_and_previous_skip_to_the_neighbouring_open_days() -> None:
    cron = Cron("0 3 * * *", calendar=AR)
    assert next_tick(cron, BA, local(BA, 2026, 12, 24, 3, 0)) == local(BA, 2026, 12, 28, 3, 0)
    assert next_tick(cron, BA, local(BA, 2026, 12, 31, 12)) == local(BA, 2027, 1, 4, 3, 0)
    assert previous_tick(cron, BA, local(BA, 2027, 1, 4, 3, 0)) == local(BA, 2026, 12, 31, 3)
    assert previous_tick(cron, BA, local(BA, 2026, 12, 27)) == local(BA, 2026, 12, 24, 3)


def test_the_data_interval_runs_from_the_previous_open_tick() -> None:
    cron = Cron("0 3 * * *", calendar=AR)
    # Monday's run covers Thursday's run to now: the holiday and the weekend
    assert data_interval(cron, BA, local(BA, 2027, 1, 4, 3)) == (
        local(BA, 2026, 12, 31, 3),
        local(BA, 2027, 1, 4, 3),
    )


def test_excluded_dates_without_a_calendar() -> None:
    cron = Cron("30 2 * * *", exclude=[date(2026, 3, 8)])
    ticks = ticks_between(cron, NY, local(NY, 2026, 3, 7), local(NY, 2026, 3, 10))
    assert wall(ticks, NY) == ["Sat 03-07 02:30 EST", "Mon 03-09 02:30 EDT"]


def test_the_day_tested_is_the_local_date_not_the_utc_one() -> None:
    # 00:30 in Madrid is the evening before in UTC: Monday 00:30 CEST is Sunday 22:30Z, kept;
    # Saturday 00:30 CET is Friday 23:30Z, skipped. The clocks sprang forward on Sunday 03-29.
    cron = Cron("30 0 * * *", calendar=BusinessDays("ES"))
    ticks = ticks_between(cron, MADRID, local(MADRID, 2026, 3, 26), local(MADRID, 2026, 4, 1))
    assert wall(ticks, MADRID) == [
        "Thu 03-26 00:30 CET",
        "Fri 03-27 00:30 CET",
        "Mon 03-30 00:30 CEST",
        "Tue 03-31 00:30 CEST",
    ]
    assert ticks[2] == utc(2026, 3, 29, 22, 30)  # a Sunday in UTC
    # and late evening in New York is the next day in UTC: Friday 23:30 EST is Saturday 04:30Z
    late = Cron("30 23 * * *", calendar=BusinessDays("US"))
    ticks = ticks_between(late, NY, local(NY, 2026, 3, 6), local(NY, 2026, 3, 10))
    assert wall(ticks, NY) == ["Fri 03-06 23:30 EST", "Mon 03-09 23:30 EDT"]
    assert ticks[0] == utc(2026, 3, 7, 4, 30)


@pytest.mark.parametrize(
    ("schedule", "zone", "day", "expected"),
    [
        # the spring-forward Sunday in New York: 02:30 does not exist, the job runs at 03:00
        (Cron("30 2 * * *", calendar=SUNDAYS_US), NY, date(2026, 3, 8), ["Sun 03-08 03:00 EDT"]),
        # the fall-back Sunday: 01:30 happens twice, the job runs once
        (Cron("30 1 * * *", calendar=SUNDAYS_US), NY, date(2026, 11, 1), ["Sun 11-01 01:30 EDT"]),
        (
            Cron("30 2 * * *", calendar=BusinessDays("ES", weekend=tuple(range(6)))),
            MADRID,
            date(2026, 3, 29),
            ["Sun 03-29 03:00 CEST"],
        ),
        (
            Cron("30 2 * * *", calendar=BusinessDays("ES", weekend=tuple(range(6)))),
            MADRID,
            date(2026, 10, 25),
            ["Sun 10-25 02:30 CEST"],
        ),
    ],
)
def test_a_calendar_open_only_on_the_change_day_gets_that_days_cron_ticks(
    schedule: Schedule, zone: str, day: date, expected: list[str]
) -> None:
    # a week around the change: only its Sunday is open
    since = datetime.combine(day - timedelta(days=3), time(), ZoneInfo(zone))
    until = datetime.combine(day + timedelta(days=4), time(), ZoneInfo(zone))
    assert wall(ticks_between(schedule, zone, since, until), zone) == expected


def test_an_hourly_job_on_the_fall_back_sunday_has_its_25_hours() -> None:
    hourly = Cron("30 * * * *", calendar=SUNDAYS_US)
    ticks = ticks_between(hourly, NY, local(NY, 2026, 10, 30), local(NY, 2026, 11, 4))
    assert len(ticks) == 25
    assert (ticks[0], ticks[-1]) == (utc(2026, 11, 1, 4, 30), utc(2026, 11, 2, 4, 30))
    assert all(b - a == ticks[1] - ticks[0] for a, b in pairwise(ticks))
    assert wall(ticks[1:3], NY) == ["Sun 11-01 01:30 EDT", "Sun 11-01 01:30 EST"]


def test_every_with_a_calendar_skips_ticks_on_closed_local_days() -> None:
    # every 6 hours from the epoch: 00, 06, 12, 18 UTC, which is 21, 03, 09, 15 in Buenos Aires
    every = Every(hours=6, calendar=AR)
    ticks = ticks_between(every, BA, utc(2026, 12, 24), utc(2026, 12, 29))
    assert wall(ticks, BA) == [
        "Wed 12-23 21:00 -03",
        "Thu 12-24 03:00 -03",
        "Thu 12-24 09:00 -03",
        "Thu 12-24 15:00 -03",
        "Thu 12-24 21:00 -03",  # 12-25 00:00Z, still Christmas Eve in Buenos Aires
        "Mon 12-28 03:00 -03",
        "Mon 12-28 09:00 -03",
        "Mon 12-28 15:00 -03",
    ]
    assert data_interval(every, BA, ticks[5]) == (ticks[4], ticks[5])


def test_catch_up_creates_no_runs_for_closed_days() -> None:
    cron = Cron("0 3 * * *", calendar=AR)
    due = due_runs(
        cron,
        BA,
        last_tick=local(BA, 2026, 12, 24, 3),
        now=local(BA, 2026, 12, 29, 10),
        catchup=True,
        max_catchup=10,
    )
    assert due == [local(BA, 2026, 12, 28, 3), local(BA, 2026, 12, 29, 3)]
    every = Every(hours=6, calendar=AR)
    due = due_runs(
        every,
        BA,
        last_tick=utc(2026, 12, 24, 18),
        now=utc(2026, 12, 28, 13),
        catchup=True,
        max_catchup=10,
    )
    assert due == [utc(2026, 12, 25), utc(2026, 12, 28, 6), utc(2026, 12, 28, 12)]
    # without catch-up, the latest only, as ever
    latest = due_runs(cron, BA, last_tick=None, now=local(BA, 2026, 12, 27), catchup=False,
                      max_catchup=10)  # fmt: skip
    assert latest == [local(BA, 2026, 12, 24, 3)]


@pytest.mark.parametrize(
    ("schedule", "zone"),
    [
        (Cron("0 * * * *", calendar=BusinessDays("US")), NY),
        (Cron("30 1 * * *", calendar=SUNDAYS_US), NY),
        (Cron("*/20 2 * * *", calendar=BusinessDays("ES"), exclude=[date(2026, 3, 30)]), MADRID),
        (Every(minutes=45, calendar=BusinessDays("ES")), MADRID),
    ],
)
def test_next_and_previous_agree_with_the_list_across_dst(schedule: Schedule, zone: str) -> None:
    for since, until in [
        (local(zone, 2026, 3, 6), local(zone, 2026, 3, 31)),
        (local(zone, 2026, 10, 23), local(zone, 2026, 11, 3)),
    ]:
        ticks = ticks_between(schedule, zone, since, until)
        assert ticks
        for before, after in pairwise(ticks):
            assert next_tick(schedule, zone, before) == after
            assert previous_tick(schedule, zone, after) == before
            assert schedule.runs_on(after.astimezone(ZoneInfo(zone)).date())


def test_a_user_calendar_gives_the_same_ticks_once_recorded() -> None:
    cron = Cron("0 9 * * *", calendar=Tuesdays(), exclude=[date(2027, 1, 5)])
    recorded = from_spec(schedule_spec(cron, today=date(2026, 12, 3)))
    assert recorded is not None
    since, until = local(MADRID, 2026, 1, 1), local(MADRID, 2028, 1, 1)
    expected = ticks_between(cron, MADRID, since, until)
    assert len(expected) == 104 - 1
    assert ticks_between(recorded, MADRID, since, until) == expected


def test_start_and_end_bound_the_search() -> None:
    cron = Cron("0 3 * * *", calendar=AR)
    start = date(2026, 12, 25)  # a holiday: the first tick is the next business day
    assert next_tick(cron, BA, utc(2026, 1, 1), start=start) == local(BA, 2026, 12, 28, 3)
    assert previous_tick(cron, BA, local(BA, 2026, 12, 28, 3), start=start) is None
    monday = local(BA, 2026, 12, 28, 3)
    assert previous_tick(cron, BA, local(BA, 2026, 12, 29), start=start) == monday
    assert next_tick(cron, BA, utc(2026, 12, 24, 12), end=date(2026, 12, 27)) is None


@pytest.mark.parametrize(
    "schedule",
    [Cron("*/5 * * * *", calendar=Never()), Every(minutes=1, calendar=Never())],
    ids=["cron", "every"],
)
def test_a_calendar_that_is_never_open_is_an_error_not_an_endless_search(
    schedule: Schedule,
) -> None:
    began = monotonic()
    with pytest.raises(ScheduleError, match=r"no tick on an open day in the ten years after"):
        next_tick(schedule, MADRID, utc(2026, 12, 3))
    with pytest.raises(ScheduleError, match=r"in the ten years before"):
        previous_tick(schedule, MADRID, utc(2026, 12, 3))
    with pytest.raises(ScheduleError, match=r"Never\(\)"):
        due_runs(schedule, MADRID, last_tick=None, now=utc(2026, 12, 3), catchup=False,
                 max_catchup=10)  # fmt: skip
    # a bounded question has an answer: none
    assert next_tick(schedule, MADRID, utc(2026, 12, 3), end=date(2027, 12, 3)) is None
    assert ticks_between(schedule, MADRID, utc(2026, 1, 1), utc(2027, 1, 1)) == []
    # one closed day at a time, not one tick at a time
    assert monotonic() - began < 10


def test_business_days_that_are_all_weekend_never_tick() -> None:
    closed = Cron("0 3 * * *", calendar=BusinessDays("AR", weekend=tuple(range(7))))
    with pytest.raises(ScheduleError, match="business days in AR"):
        next_tick(closed, BA, utc(2026, 12, 3))
