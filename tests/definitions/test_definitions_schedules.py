"""Schedule definitions: cron strings and aliases, Every(...), as_schedule, describe()."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pauta.core.errors import DefinitionError
from pauta.definitions.schedules import ALIASES, Cron, Every, as_schedule


@pytest.mark.parametrize(
    ("alias", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_aliases_resolve_to_five_fields(alias: str, fields: str) -> None:
    cron = Cron(alias)
    assert cron.expression == alias
    assert cron.fields == fields


def test_every_alias_is_tested() -> None:
    assert set(ALIASES) == {
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    }


@pytest.mark.parametrize(
    "expression",
    ["0 3 * * MON", "*/15 * * * *", "0 3 * * mon", "0 0 1,15 * *", "30 2 * * 1-5", "0 0 L * *"],
)
def test_valid_cron_expressions(expression: str) -> None:
    assert Cron(expression).fields == expression


def test_cron_normalises_whitespace() -> None:
    cron = Cron("  0   3 * *\tMON ")
    assert cron.expression == cron.fields == "0 3 * * MON"
    assert cron == Cron("0 3 * * MON")


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "0 fields"),
        ("* * * *", "4 fields"),
        ("0 0 3 * * MON", "6 fields"),
        ("61 * * * *", "minute"),
        ("0 25 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 31 2 *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 3 * * FUNDAY", "day-of-week"),
        ("*/0 * * * *", "minute"),
        ("@reboot", "unknown cron alias"),
        ("@every 5m", "unknown cron alias"),
    ],
)
def test_bad_cron_expressions_name_the_expression_and_the_form(
    expression: str, problem: str
) -> None:
    with pytest.raises(DefinitionError) as info:
        Cron(expression)
    message = str(info.value)
    assert repr(" ".join(expression.split())) in message
    assert problem in message
    assert "five fields 'minute hour day-of-month month day-of-week'" in message
    assert "@daily" in message


def test_cron_needs_a_string() -> None:
    with pytest.raises(DefinitionError, match="must be a string, got int 5"):
        Cron(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("every", "interval", "text"),
    [
        (Every(minutes=15), timedelta(minutes=15), "every 15 minutes"),
        (Every(hours=1), timedelta(hours=1), "every hour"),
        (Every(minutes=60), timedelta(hours=1), "every hour"),
        (Every(days=1), timedelta(days=1), "every day"),
        (Every(days=2), timedelta(days=2), "every 2 days"),
        (Every(seconds=30), timedelta(seconds=30), "every 30 seconds"),
        (Every(seconds=1), timedelta(seconds=1), "every second"),
        (Every(hours=1, minutes=30), timedelta(minutes=90), "every 1 hour 30 minutes"),
        (Every(seconds=90), timedelta(seconds=90), "every 1 minute 30 seconds"),
        (Every(days=1, hours=6), timedelta(hours=30), "every 1 day 6 hours"),
        (Every(hours=1.5), timedelta(minutes=90), "every 1 hour 30 minutes"),
        (Every(seconds=0.5), timedelta(milliseconds=500), "every 0.5 seconds"),
    ],
)
def test_every_interval_and_description(every: Every, interval: timedelta, text: str) -> None:
    assert every.interval == interval
    assert every.describe() == text
    assert every.describe("Europe/Madrid") == text
    assert str(every) == text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "no length: give a positive total"),
        ({"minutes": 0, "hours": 0}, "no length: give a positive total"),
        ({"minutes": -5}, "minutes must be zero or a positive number"),
        ({"hours": 2, "minutes": -30}, "minutes must be zero or a positive number"),
        ({"seconds": float("nan")}, "seconds must be zero or a positive number"),
        ({"days": float("inf")}, "days must be zero or a positive number"),
        ({"minutes": "15"}, "minutes must be a number"),
        ({"hours": True}, "hours must be a number"),
    ],
)
def test_every_needs_a_positive_total(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Every(**kwargs)  # type: ignore[arg-type]


def test_schedules_are_frozen_values() -> None:
    assert Every(minutes=15) == Every(seconds=0, minutes=15)
    assert len({Every(minutes=15), Every(minutes=15), Cron("@daily"), Cron("@daily")}) == 2
    with pytest.raises(AttributeError):
        Every(minutes=15).minutes = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cron", "timezone", "text"),
    [
        (Cron("0 3 * * MON"), "America/Argentina/Buenos_Aires",
         "0 3 * * MON (America/Argentina/Buenos_Aires)"),
        (Cron("0 3 * * MON"), "UTC", "0 3 * * MON (UTC)"),
        (Cron("0 3 * * MON"), None, "0 3 * * MON"),
        (Cron("@daily"), "Europe/Madrid", "@daily (Europe/Madrid)"),
    ],
)  # fmt: skip
def test_cron_description(cron: Cron, timezone: str | None, text: str) -> None:
    assert cron.describe(timezone) == text


def test_cron_str_is_the_expression() -> None:
    assert str(Cron("@hourly")) == "@hourly"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0 3 * * MON", Cron("0 3 * * MON")),
        ("@daily", Cron("@daily")),
        (Cron("*/5 * * * *"), Cron("*/5 * * * *")),
        (Every(minutes=15), Every(minutes=15)),
    ],
)
def test_as_schedule_accepts_strings_cron_every_and_none(
    value: object, expected: Cron | Every | None
) -> None:
    assert as_schedule(value) == expected


def test_as_schedule_returns_the_same_object_for_schedules() -> None:
    every = Every(hours=2)
    assert as_schedule(every) is every


def test_as_schedule_bad_string_says_where() -> None:
    with pytest.raises(DefinitionError, match=r"^@flow 'etl': bad cron expression '0 3 \* \*'"):
        as_schedule("0 3 * *", where="@flow 'etl'")


@pytest.mark.parametrize("value", [5, timedelta(hours=1), ["0 3 * * *"]])
def test_as_schedule_refuses_other_types(value: object) -> None:
    with pytest.raises(DefinitionError, match=r"^schedule: a schedule must be a cron string"):
        as_schedule(value)
