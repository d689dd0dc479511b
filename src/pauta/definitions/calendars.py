"""Calendars: which days a schedule may tick on.

``Cron("0 3 * * *", calendar=BusinessDays("AR"), exclude=[date(2026, 12, 23)])`` ticks only on
Argentine business days other than the excluded dates. A calendar is any object with an
``is_open(day: date) -> bool`` method (the ``Calendar`` protocol); the day asked about is the
tick's local date in the flow's timezone.

``BusinessDays`` reads public holidays from the ``holidays`` package, imported only when a
``BusinessDays`` is made (``import pauta`` does not import it).

Flow files are imported in their own processes, and the scheduler only sees what they report
as JSON. ``BusinessDays`` travels as its arguments. Any other calendar cannot travel as code, so
the import process asks it about every day of a window around the day of the import
(``RECORDED_YEARS`` years either side) and the answers travel instead, as a ``RecordedCalendar``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pauta.core.errors import DefinitionError

RECORDED_YEARS = 20
"""A calendar other than ``BusinessDays`` is recorded for this many years before and after
the year its flow file is imported in."""

_LIST_COUNTRIES = (
    'python -c "import holidays; print(sorted(holidays.list_supported_countries()))" '
    "lists the valid codes"
)


@runtime_checkable
class Calendar(Protocol):
    """What ``calendar=`` accepts: an object that says whether a day is open for ticks.

    ``is_open`` is called with the tick's local date in the flow's timezone and must answer
    quickly and without I/O: it is asked about thousands of days (every day of the recorded
    window when the flow file is imported, and day by day when looking for the next open day).
    """

    def is_open(self, day: date, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class BusinessDays:
    """Weekdays that are not public holidays of ``country`` (and ``subdiv``, a state or
    province, when given), from the ``holidays`` package.

    ``country`` is an ISO 3166-1 alpha-2 code such as ``"AR"``, ``"ES"`` or ``"US"``;
    ``weekend`` the days of the week that are never open, Monday being 0 (default Saturday
    and Sunday: ``(5, 6)``).
    """

    country: str
    subdiv: str | None = None
    weekend: tuple[int, ...] = (5, 6)

    def __post_init__(self) -> None:
        where = f"BusinessDays({self.country!r})"
        if not isinstance(self.country, str) or not self.country.strip():
            raise DefinitionError(
                f"{where}: the country must be a code such as 'AR' or 'ES'; {_LIST_COUNTRIES}"
            )
        object.__setattr__(self, "country", self.country.strip().upper())
        if self.subdiv is not None:
            if not isinstance(self.subdiv, str) or not self.subdiv.strip():
                raise DefinitionError(f"{where}: subdiv must be a code such as 'B', or None")
            object.__setattr__(self, "subdiv", self.subdiv.strip().upper())
        weekend = self.weekend
        if isinstance(weekend, int) or not isinstance(weekend, Iterable):
            raise DefinitionError(f"{where}: weekend must be days of the week, such as (5, 6)")
        days = tuple(weekend)
        if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days):
            raise DefinitionError(
                f"{where}: weekend={weekend!r}: give days of the week as numbers from 0 "
                "(Monday) to 6 (Sunday), such as (5, 6)"
            )
        object.__setattr__(self, "weekend", tuple(sorted(set(days))))
        _check_region(self.country, self.subdiv)

    def is_open(self, day: date) -> bool:
        """Whether ``day`` is a business day: not a weekend day and not a public holiday."""
        return day.weekday() not in self.weekend and day not in _holidays(
            self.country, self.subdiv, day.year
        )

    def holidays(self, year: int) -> dict[date, str]:
        """The public holidays of ``year`` with their names, by date."""
        import holidays

        found = holidays.country_holidays(self.country, subdiv=self.subdiv, years=year)
        return dict(sorted(found.items()))

    def describe(self) -> str:
        """``"business days in AR"``, ``"business days in ES-MD"``."""
        region = f"{self.country}-{self.subdiv}" if self.subdiv else self.country
        return f"business days in {region}"


@dataclass(frozen=True, slots=True)
class RecordedCalendar:
    """A calendar's answers for every day from ``first`` to ``last``, as a bitmap (bit ``i``:
    whether ``first + i days`` is open). Asked about a day outside, it raises: there is no
    answer to give."""

    name: str
    first: date
    last: date
    bits: bytes

    @classmethod
    def record(cls, calendar: Any, first: date, last: date) -> RecordedCalendar:
        """Ask ``calendar`` about every day from ``first`` to ``last``."""
        days = (last - first).days + 1
        bits = bytearray((days + 7) // 8)
        day = first
        for i in range(days):
            if _ask(calendar, day):
                bits[i >> 3] |= 1 << (i & 7)
            day += timedelta(days=1)
        return cls(calendar_name(calendar), first, last, bytes(bits))

    def is_open(self, day: date) -> bool:
        if not self.first <= day <= self.last:
            raise DefinitionError(
                f"calendar {self.name} was asked about {day.isoformat()}, but it was read for "
                f"{self.first.isoformat()} to {self.last.isoformat()} only (when its flow file "
                "was imported); save the flow file again to read it around today, or use "
                "BusinessDays"
            )
        i = (day - self.first).days
        return bool(self.bits[i >> 3] >> (i & 7) & 1)

    def describe(self) -> str:
        return self.name  # what the recorded calendar was called

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "open": base64.b64encode(self.bits).decode("ascii"),
        }


def as_calendar(value: Any, *, where: str) -> Calendar | None:
    """``calendar=`` checked: None, or an object with an ``is_open(date)`` method."""
    if value is None:
        return None
    if isinstance(value, str):
        raise DefinitionError(
            f"{where}: calendar={value!r} is a string; give a calendar object such as "
            f"BusinessDays({value!r})"
        )
    if not callable(getattr(value, "is_open", None)):
        raise DefinitionError(
            f"{where}: calendar must have an is_open(date) -> bool method, such as "
            f"BusinessDays('AR'); got {type(value).__name__} {value!r}"
        )
    return value  # type: ignore[no-any-return]


def as_dates(value: Any, *, where: str) -> tuple[date, ...]:
    """``exclude=`` checked: dates (or ISO date strings) as a sorted tuple without repeats."""
    if value is None:
        return ()
    if isinstance(value, str | date) or not isinstance(value, Collection | Iterable):
        raise DefinitionError(
            f"{where}: exclude must be a list of dates, such as [date(2026, 12, 23)]; "
            f"got {type(value).__name__} {value!r}"
        )
    days: set[date] = set()
    for item in value:
        if isinstance(item, datetime):
            raise DefinitionError(
                f"{where}: exclude takes dates, not date-times: write "
                f"date({item.year}, {item.month}, {item.day}) for {item.isoformat()}"
            )
        if isinstance(item, str):
            try:
                item = date.fromisoformat(item)
            except ValueError:
                raise DefinitionError(
                    f"{where}: exclude date {item!r} is not an ISO date such as '2026-12-23'"
                ) from None
        if not isinstance(item, date):
            raise DefinitionError(
                f"{where}: exclude takes dates, such as date(2026, 12, 23); got "
                f"{type(item).__name__} {item!r}"
            )
        days.add(item)
    return tuple(sorted(days))


def calendar_name(calendar: Any) -> str:
    """How messages and ``describe`` name a calendar."""
    describe = getattr(calendar, "describe", None)
    if callable(describe):
        try:
            return str(describe())
        except Exception:  # a user's describe() must not break a message
            pass
    if type(calendar).__repr__ is object.__repr__:
        return f"{type(calendar).__qualname__}()"  # not the address: it changes every import
    return repr(calendar)


def calendar_spec(calendar: Any, today: date | None) -> dict[str, Any]:
    """A JSON form ``calendar_from_spec`` rebuilds: a ``BusinessDays`` by its arguments, any
    other calendar recorded for ``RECORDED_YEARS`` years either side of ``today``'s year."""
    if isinstance(calendar, BusinessDays):
        return {
            "business_days": calendar.country,
            "subdiv": calendar.subdiv,
            "weekend": list(calendar.weekend),
        }
    if not isinstance(calendar, RecordedCalendar):
        if today is None:
            raise ValueError(f"recording the calendar {calendar_name(calendar)} needs today=")
        first = date(max(1, today.year - RECORDED_YEARS), 1, 1)
        last = date(min(9999, today.year + RECORDED_YEARS), 12, 31)
        calendar = RecordedCalendar.record(calendar, first, last)
    return {"recorded": calendar.spec()}


def calendar_from_spec(spec: dict[str, Any]) -> Calendar:
    """The calendar ``calendar_spec`` describes."""
    if "business_days" in spec:
        return BusinessDays(
            spec["business_days"], spec.get("subdiv"), tuple(spec.get("weekend") or (5, 6))
        )
    recorded = spec["recorded"]
    return RecordedCalendar(
        str(recorded["name"]),
        date.fromisoformat(recorded["first"]),
        date.fromisoformat(recorded["last"]),
        base64.b64decode(recorded["open"]),
    )


def _ask(calendar: Any, day: date) -> bool:
    try:
        answer = calendar.is_open(day)
    except DefinitionError:
        raise
    except Exception as exc:
        raise DefinitionError(
            f"calendar {calendar_name(calendar)}: is_open({day!r}) raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return bool(answer)


@functools.cache
def _check_region(country: str, subdiv: str | None) -> None:
    import holidays

    try:
        holidays.country_holidays(country, subdiv=subdiv)
        return
    except NotImplementedError:
        pass
    # Listing every country costs a tenth of a second: only to explain a refusal.
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise DefinitionError(
            f"BusinessDays({country!r}): unknown country code {country!r}; use an ISO 3166-1 "
            f"alpha-2 code such as 'AR', 'ES' or 'US' ({_LIST_COUNTRIES})"
        )
    known = ", ".join(supported[country]) or "none"
    raise DefinitionError(
        f"BusinessDays({country!r}, subdiv={subdiv!r}): {country} has no subdivision "
        f"{subdiv!r}; its subdivisions are: {known}"
    )


@functools.lru_cache(maxsize=512)
def _holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year))
