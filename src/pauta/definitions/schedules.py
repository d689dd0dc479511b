"""Time schedules users write in ``@flow(schedule=...)``: cron strings and ``Every(...)``.

These are plain, validated values: no clock, no I/O. When they fire is computed by
``pauta.scheduling.ticks`` from (schedule, timezone, start, end, now).

- ``"0 3 * * MON"`` (a five-field cron string, or an alias such as ``"@daily"``) becomes a
  ``Cron``, evaluated in the flow's timezone;
- ``Every(minutes=15)`` is a fixed interval counted from the flow's ``start``, or from the Unix
  epoch (1970-01-01 00:00 UTC) when the flow has none, so every scheduler computes the same ticks.

Both take ``calendar=`` (a ``pauta.definitions.calendars.Calendar`` such as
``BusinessDays("AR")``) and ``exclude=`` (dates): a tick whose local date the calendar says is
closed, or that is excluded, is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeAlias

from cronsim import CronSim, CronSimError

from pauta.core.errors import DefinitionError
from pauta.definitions.calendars import (
    Calendar,
    as_calendar,
    as_dates,
    calendar_from_spec,
    calendar_name,
    calendar_spec,
)

#: Cron aliases and the five-field expressions they stand for.
ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_FORM = (
    "expected five fields 'minute hour day-of-month month day-of-week' such as '0 3 * * MON' "
    "or '*/15 * * * *', or one of " + ", ".join(ALIASES)
)

# Any fixed moment works: cronsim only needs one to parse. Not the wall clock (pure module).
_PARSE_AT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Cron:
    """A cron schedule: five fields or an alias, evaluated in the flow's timezone.

    ``expression`` is what the user wrote (whitespace normalised); ``fields`` is the five-field
    form that is evaluated (an alias resolved). With ``calendar`` (such as
    ``BusinessDays("AR")``) it ticks only on the days the calendar says are open, and never on
    the ``exclude`` dates; the day is the tick's local date in the flow's timezone.
    """

    expression: str
    calendar: Calendar | None = field(default=None, kw_only=True)
    exclude: Collection[date] = field(default=(), kw_only=True)
    fields: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expression", _normalise(self.expression))
        object.__setattr__(self, "fields", _resolve(self.expression))
        _check_days(self, f"Cron({self.expression!r})")

    def runs_on(self, day: date) -> bool:
        """Whether the schedule may tick on ``day`` (its calendar and ``exclude``)."""
        return _runs_on(self, day)

    def describe(self, timezone: str | None = None) -> str:
        """Human text: ``"0 3 * * MON (America/Argentina/Buenos_Aires)"``,
        ``"0 3 * * * on business days in AR, except 2026-12-23"``."""
        text = f"{self.expression} ({timezone})" if timezone else self.expression
        return text + _days_text(self)

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True, slots=True)
class Every:
    """A fixed interval: ``Every(minutes=15)``, ``Every(hours=1, minutes=30)``.

    Ticks fall at ``start + k * interval`` (the flow's ``start``, else the Unix epoch in UTC).
    The interval is elapsed time, not wall-clock time: ``Every(days=1)`` is 24 hours, so it
    does not follow daylight-saving changes; use a cron string such as ``"0 0 * * *"`` for
    "local midnight".
    """

    seconds: float = 0
    minutes: float = 0
    hours: float = 0
    days: float = 0
    calendar: Calendar | None = field(default=None, kw_only=True)
    exclude: Collection[date] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        for name in ("seconds", "minutes", "hours", "days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DefinitionError(
                    f"Every({name}={value!r}): {name} must be a number, such as Every(minutes=15)"
                )
            if not math.isfinite(value) or value < 0:
                raise DefinitionError(
                    f"Every({name}={value!r}): {name} must be zero or a positive number"
                )
        if self.interval <= timedelta(0):
            raise DefinitionError(
                f"{self!r} has no length: give a positive total, such as Every(minutes=15) "
                "or Every(hours=1, minutes=30)"
            )
        _check_days(self, "Every(...)")

    def runs_on(self, day: date) -> bool:
        """Whether the schedule may tick on ``day`` (its calendar and ``exclude``)."""
        return _runs_on(self, day)

    @property
    def interval(self) -> timedelta:
        """The length of one interval."""
        return timedelta(
            seconds=self.seconds, minutes=self.minutes, hours=self.hours, days=self.days
        )

    def describe(self, timezone: str | None = None) -> str:
        """Human text: ``"every 15 minutes"``, ``"every hour"``, ``"every 1 hour 30 minutes"``.

        ``timezone`` is accepted for symmetry with ``Cron.describe`` and ignored: an interval
        is the same length in every zone.
        """
        return "every " + _duration_text(self.interval) + _days_text(self)

    def __str__(self) -> str:
        return self.describe()


Schedule: TypeAlias = Cron | Every


def has_days(schedule: Schedule) -> bool:
    """Whether some days are closed to ``schedule`` (it has a calendar or excluded dates)."""
    return schedule.calendar is not None or bool(schedule.exclude)


def _check_days(schedule: Schedule, where: str) -> None:
    object.__setattr__(schedule, "calendar", as_calendar(schedule.calendar, where=where))
    object.__setattr__(schedule, "exclude", as_dates(schedule.exclude, where=where))


def _runs_on(schedule: Schedule, day: date) -> bool:
    if day in schedule.exclude:  # a sorted tuple: excluded dates are few
        return False
    return schedule.calendar is None or bool(schedule.calendar.is_open(day))


_LISTED_EXCLUDES = 3


def _days_text(schedule: Schedule) -> str:
    text = ""
    if schedule.calendar is not None:
        text += f" on {calendar_name(schedule.calendar)}"
    excluded = list(schedule.exclude)
    if len(excluded) > _LISTED_EXCLUDES:
        text += f", except {len(excluded)} dates"
    elif excluded:
        text += ", except " + ", ".join(day.isoformat() for day in excluded)
    return text


def as_schedule(value: Any, *, where: str = "schedule") -> Schedule | None:
    """Turn what ``@flow(schedule=...)`` received into a ``Schedule`` (None stays None).

    A string is a cron expression or alias (validated now, so a typo fails at definition
    time); a ``Cron`` or ``Every`` is returned as is. Anything else is a ``DefinitionError``.
    ``where`` prefixes error messages, such as ``"@flow 'etl'"``.
    """
    if value is None or isinstance(value, Cron | Every):
        return value
    if isinstance(value, str):
        try:
            return Cron(value)
        except DefinitionError as exc:
            raise DefinitionError(f"{where}: {exc}") from None
    raise DefinitionError(
        f"{where}: a schedule must be a cron string such as '0 3 * * MON', an alias such as "
        f"'@daily', or Every(minutes=15); got {type(value).__name__} {value!r}"
    )


def _normalise(expression: Any) -> str:
    if not isinstance(expression, str):
        raise DefinitionError(
            f"cron expression must be a string, got {type(expression).__name__} "
            f"{expression!r}; {_FORM}"
        )
    return " ".join(expression.split())


def _resolve(expression: str) -> str:
    if expression.startswith("@"):
        fields = ALIASES.get(expression.lower())
        if fields is None:
            raise DefinitionError(f"unknown cron alias {expression!r}; {_FORM}")
        return fields
    count = len(expression.split())
    if count != 5:
        raise DefinitionError(
            f"bad cron expression {expression!r}: it has {count} field"
            f"{'' if count == 1 else 's'}; {_FORM}"
        )
    try:
        CronSim(expression, _PARSE_AT)
    except CronSimError as exc:
        reason = str(exc).lower().replace("bad ", "bad value in the ")
        raise DefinitionError(f"bad cron expression {expression!r}: {reason}; {_FORM}") from None
    return expression


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def _duration_text(interval: timedelta) -> str:
    rest = interval.total_seconds()
    parts: list[tuple[float, str]] = []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append((count, unit))
    if rest:
        parts.append((rest, "second"))
    if len(parts) == 1 and parts[0][0] == 1:
        return parts[0][1]
    return " ".join(f"{_number(n)} {unit}{'' if n == 1 else 's'}" for n, unit in parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def schedule_spec(schedule: Schedule | None, *, today: date | None = None) -> dict[str, Any] | None:
    """A JSON form a schedule can be rebuilt from: ``{"cron": ...}`` or ``{"every": seconds}``,
    with ``"calendar"`` and ``"exclude"`` when it has them.

    A calendar other than ``BusinessDays`` is recorded for the years around ``today`` (see
    ``pauta.definitions.calendars``), so it needs ``today``.
    """
    if schedule is None:
        return None
    spec: dict[str, Any]
    if isinstance(schedule, Cron):
        spec = {"cron": schedule.expression}
    else:
        spec = {"every": schedule.interval.total_seconds()}
    if schedule.calendar is not None:
        spec["calendar"] = calendar_spec(schedule.calendar, today)
    if schedule.exclude:
        spec["exclude"] = [day.isoformat() for day in schedule.exclude]
    return spec


def from_spec(spec: dict[str, Any] | None) -> Schedule | None:
    """The schedule ``schedule_spec`` describes."""
    if not spec:
        return None
    calendar = calendar_from_spec(spec["calendar"]) if spec.get("calendar") else None
    exclude = spec.get("exclude") or ()
    if "cron" in spec:
        return Cron(spec["cron"], calendar=calendar, exclude=exclude)
    return Every(seconds=float(spec["every"]), calendar=calendar, exclude=exclude)
