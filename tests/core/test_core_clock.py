"""The clock seam: a frozen clock that moves only when told, and swapping the clock in use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pauta.core.clock import (
    Clock,
    FrozenClock,
    SystemClock,
    from_timestamp,
    get_clock,
    set_clock,
    utcnow,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def restore_clock() -> Iterator[None]:
    """Put back whatever clock was in use before the test."""
    previous = get_clock()
    yield
    set_clock(previous)


def test_frozen_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 3, 1, 12, 0))


def test_frozen_clock_default_start_is_aware() -> None:
    assert FrozenClock().now().tzinfo is not None


def test_frozen_clock_stands_still() -> None:
    clock = FrozenClock(START)
    assert clock.now() == clock.now() == START
    assert clock.timestamp() == START.timestamp()
    assert clock.monotonic() == clock.monotonic()


def test_frozen_clock_accepts_any_aware_timezone() -> None:
    madrid_noon = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert FrozenClock(madrid_noon).timestamp() == START.timestamp()


@pytest.mark.parametrize(
    ("args", "kwargs", "step"),
    [
        ((90,), {}, timedelta(seconds=90)),
        ((0.001,), {}, timedelta(milliseconds=1)),
        ((), {"minutes": 5}, timedelta(minutes=5)),
        ((), {"days": 1, "hours": 2}, timedelta(days=1, hours=2)),
        ((30,), {"minutes": 1}, timedelta(seconds=90)),
    ],
)
def test_advance_moves_now_timestamp_and_monotonic_together(
    args: tuple[float, ...], kwargs: dict[str, float], step: timedelta
) -> None:
    clock = FrozenClock(START)
    mono_before = clock.monotonic()
    clock.advance(*args, **kwargs)
    assert clock.now() == START + step
    assert clock.timestamp() == pytest.approx(START.timestamp() + step.total_seconds())
    assert clock.monotonic() - mono_before == pytest.approx(step.total_seconds())


def test_advances_add_up() -> None:
    clock = FrozenClock(START)
    for _ in range(3):
        clock.advance(minutes=10)
    assert clock.now() == START + timedelta(minutes=30)
    assert clock.monotonic() == pytest.approx(1800.0)


@pytest.mark.usefixtures("restore_clock")
def test_set_clock_returns_the_previous_clock_and_utcnow_follows() -> None:
    first, second = FrozenClock(START), FrozenClock(START + timedelta(days=1))
    set_clock(first)
    assert set_clock(second) is first
    assert get_clock() is second
    assert utcnow() == START + timedelta(days=1)
    second.advance(60)
    assert utcnow() == START + timedelta(days=1, minutes=1)


def test_system_clock_reads_the_wall_clock() -> None:
    clock = SystemClock()
    assert abs((datetime.now(UTC) - clock.now()).total_seconds()) < 60
    assert abs(datetime.now(UTC).timestamp() - clock.timestamp()) < 60
    assert clock.monotonic() <= clock.monotonic()


def test_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), FrozenClock()]
    for clock in clocks:
        assert clock.now().utcoffset() == timedelta(0)
        assert isinstance(clock.timestamp(), float)
        assert isinstance(clock.monotonic(), float)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (None, None),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (START.timestamp(), START),
        (START.timestamp() + 0.25, START + timedelta(milliseconds=250)),
    ],
)
def test_from_timestamp(ts: float | None, expected: datetime | None) -> None:
    result = from_timestamp(ts)
    assert result == expected
    if result is not None:
        assert result.tzinfo is UTC
