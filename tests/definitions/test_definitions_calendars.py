"""Calendars: BusinessDays from the holidays package, the is_open protocol, exclude dates, and
the JSON form that carries a calendar from the import process to the scheduler."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

import pauta
from pauta.core.errors import DefinitionError
from pauta.definitions.calendars import BusinessDays, Calendar, RecordedCalendar
from pauta.definitions.schedules import Cron, Every, from_spec, schedule_spec

AR = BusinessDays("AR")


class Tuesdays:
    """A calendar of the user's own: only Tuesdays are open."""

    def is_open(self, day: date) -> bool:
        return day.weekday() == 1


@pytest.mark.parametrize(
    ("day", "is_open"),
    [
        (date(2026, 12, 24), True),  # Thursday
        (date(2026, 12, 25), False),  # Christmas, a Friday
        (date(2026, 12, 26), False),  # Saturday
        (date(2026, 12, 27), False),  # Sunday
        (date(2026, 12, 28), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),  # New Year's Day, a Friday
        (date(2027, 1, 4), True),
        (date(2026, 5, 25), False),  # May Revolution Day, a Monday
    ],
)
def test_argentine_business_days(day: date, is_open: bool) -> None:
    assert AR.is_open(day) is is_open


def test_the_weekend_can_be_other_days() -> None:
    friday_saturday = BusinessDays("AR", weekend=(4, 5))
    assert friday_saturday.is_open(date(2026, 12, 27))  # a Sunday
    assert not friday_saturday.is_open(date(2026, 12, 18))  # a Friday
    assert not friday_saturday.is_open(date(2026, 12, 25))  # still Christmas
    assert BusinessDays("AR", weekend=()).is_open(date(2026, 12, 26))


def test_a_subdivision_adds_its_own_holidays() -> None:
    madrid = BusinessDays("ES", subdiv="MD")
    spain = BusinessDays("ES")
    differing = [
        day
        for day in (date(2026, 1, 1) + timedelta(days=n) for n in range(365))
        if madrid.is_open(day) != spain.is_open(day)
    ]
    assert differing, "Madrid has holidays that Spain as a whole does not"
    assert all(spain.is_open(day) and not madrid.is_open(day) for day in differing)
    assert madrid.describe() == "business days in ES-MD"


def test_codes_are_read_in_any_case() -> None:
    assert BusinessDays(" ar ") == AR
    assert BusinessDays("es", subdiv="md").subdiv == "MD"


def test_holidays_are_listed_with_their_names() -> None:
    listed = AR.holidays(2026)
    assert listed[date(2026, 12, 25)] == "Christmas Day"
    assert list(listed) == sorted(listed)


def test_an_unknown_country_says_how_to_list_the_valid_codes() -> None:
    with pytest.raises(DefinitionError) as caught:
        BusinessDays("XX")
    message = str(caught.value)
    assert "unknown country code 'XX'" in message
    assert "holidays.list_supported_countries()" in message


def test_an_unknown_subdivision_lists_the_valid_ones() -> None:
    with pytest.raises(DefinitionError, match=r"ES has no subdivision 'ZZ'.*\bMD\b"):
        BusinessDays("ES", subdiv="ZZ")


@pytest.mark.parametrize("weekend", [(7,), (-1,), ("SAT",), 5, (True,)])
def test_a_bad_weekend_is_refused(weekend: object) -> None:
    with pytest.raises(DefinitionError, match="weekend"):
        BusinessDays("AR", weekend=weekend)  # type: ignore[arg-type]


def test_a_calendar_is_anything_with_is_open() -> None:
    assert isinstance(AR, Calendar)
    assert isinstance(Tuesdays(), Calendar)
    assert Cron("0 3 * * *", calendar=Tuesdays()).runs_on(date(2026, 12, 1))
    assert not Cron("0 3 * * *", calendar=Tuesdays()).runs_on(date(2026, 12, 2))


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ("AR", r"is a string; give a calendar object such as BusinessDays\('AR'\)"),
        (object(), r"must have an is_open\(date\) -> bool method"),
    ],
)
def test_what_is_not_a_calendar_is_refused(calendar: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Cron("0 3 * * *", calendar=calendar)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match=message):
        Every(hours=1, calendar=calendar)  # type: ignore[arg-type]


def test_exclude_dates_are_kept_sorted_once() -> None:
    cron = Cron("0 3 * * *", exclude=[date(2026, 12, 31), "2026-12-23", date(2026, 12, 23)])
    assert cron.exclude == (date(2026, 12, 23), date(2026, 12, 31))
    assert not cron.runs_on(date(2026, 12, 23))
    assert cron.runs_on(date(2026, 12, 24))
    assert cron == Cron("0 3 * * *", exclude=(date(2026, 12, 23), date(2026, 12, 31)))
    assert hash(cron) == hash(Cron("0 3 * * *", exclude=["2026-12-31", "2026-12-23"]))


@pytest.mark.parametrize(
    ("exclude", "message"),
    [
        (date(2026, 12, 23), "exclude must be a list of dates"),
        ("2026-12-23", "exclude must be a list of dates"),
        ([datetime(2026, 12, 23, 3)], r"not date-times: write date\(2026, 12, 23\)"),
        (["23/12/2026"], "not an ISO date"),
        ([20261223], "exclude takes dates"),
    ],
)
def test_bad_exclude_values_are_refused(exclude: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Cron("0 3 * * *", exclude=exclude)  # type: ignore[arg-type]


def test_describe_names_the_calendar_and_the_excluded_dates() -> None:
    cron = Cron("0 3 * * *", calendar=AR, exclude=[date(2026, 12, 23)])
    assert cron.describe("America/Argentina/Buenos_Aires") == (
        "0 3 * * * (America/Argentina/Buenos_Aires) on business days in AR, except 2026-12-23"
    )
    assert Every(hours=6, calendar=AR).describe() == "every 6 hours on business days in AR"
    many = Cron("@daily", exclude=[date(2026, 12, d) for d in range(20, 25)])
    assert many.describe() == "@daily, except 5 dates"
    assert Cron("@daily", calendar=Tuesdays()).describe() == "@daily on Tuesdays()"


def test_business_days_travel_as_their_arguments() -> None:
    cron = Cron("0 3 * * *", calendar=BusinessDays("ES", "MD"), exclude=[date(2026, 12, 23)])
    spec = schedule_spec(cron)
    assert spec == {
        "cron": "0 3 * * *",
        "calendar": {"business_days": "ES", "subdiv": "MD", "weekend": [5, 6]},
        "exclude": ["2026-12-23"],
    }
    assert from_spec(spec) == cron
    every = from_spec(schedule_spec(Every(minutes=30, calendar=AR)))
    assert every == Every(seconds=1800, calendar=AR)


def test_other_calendars_travel_as_their_answers_around_today() -> None:
    every = Every(hours=6, calendar=Tuesdays())
    spec = schedule_spec(every, today=date(2026, 12, 3))
    assert spec is not None
    rebuilt = from_spec(spec)
    assert isinstance(rebuilt, Every)
    recorded = rebuilt.calendar
    assert isinstance(recorded, RecordedCalendar)
    assert (recorded.first, recorded.last) == (date(2006, 1, 1), date(2046, 12, 31))
    day = recorded.first
    while day <= recorded.last:
        assert recorded.is_open(day) == (day.weekday() == 1), day
        day += timedelta(days=1)
    with pytest.raises(DefinitionError, match=r"asked about 2047-01-01.*2006-01-01 to 2046-12-31"):
        recorded.is_open(date(2047, 1, 1))
    # a second trip gives the same form (the scheduler compares definitions)
    assert schedule_spec(rebuilt, today=date(2030, 1, 1)) == spec
    assert len(str(spec)) < 4000  # a bitmap, not a list of dates


def test_recording_needs_today_and_a_working_calendar() -> None:
    with pytest.raises(ValueError, match="needs today="):
        schedule_spec(Cron("@daily", calendar=Tuesdays()))

    class Broken:
        def is_open(self, day: date) -> bool:
            raise KeyError(day)

    with pytest.raises(DefinitionError, match=r"Broken\(\): is_open\(.*\) raised KeyError"):
        schedule_spec(Cron("@daily", calendar=Broken()), today=date(2026, 12, 3))


def test_cron_and_business_days_are_public_names() -> None:
    assert pauta.Cron is Cron
    assert pauta.BusinessDays is BusinessDays
    assert {"Cron", "BusinessDays"} <= set(pauta.__all__)


def test_import_pauta_does_not_import_holidays() -> None:
    code = (
        "import sys, pauta\n"
        "from pauta import BusinessDays, Cron, flow\n"
        "@flow(schedule=Cron('0 3 * * *'))\n"
        "def plain(): pass\n"
        "print('holidays' in sys.modules)\n"
        "BusinessDays('AR')\n"
        "print('holidays' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert ran.stdout.split() == ["False", "True"]
