"""The one place that reads the wall clock. Tests replace it with a frozen clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the current time comes from."""

    def now(self) -> datetime:
        """The current moment, timezone-aware in UTC."""
        ...

    def timestamp(self) -> float:
        """The current moment as seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring durations."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def timestamp(self) -> float:
        return self._now.timestamp()

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        step = timedelta(seconds=seconds, **delta)
        self._now += step
        self._mono += step.total_seconds()


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    """The clock in use."""
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Replace the clock (tests); returns the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def utcnow() -> datetime:
    """The current moment from the clock in use."""
    return _clock.now()


def from_timestamp(ts: float | None) -> datetime | None:
    """An epoch-seconds value as an aware UTC datetime (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC)
