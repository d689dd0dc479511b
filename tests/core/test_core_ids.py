"""Run ids: 16 characters of Crockford base32, unique, and sortable by creation time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pauta.core.clock import FrozenClock, set_clock
from pauta.core.ids import new_run_id

ALPHABET = set("0123456789abcdefghjkmnpqrstvwxyz")


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    """A frozen clock in use for the test; the previous clock is put back afterwards."""
    clock = FrozenClock()
    previous = set_clock(clock)
    yield clock
    set_clock(previous)


def test_run_id_is_16_chars_of_the_alphabet() -> None:
    for _ in range(100):
        run_id = new_run_id()
        assert len(run_id) == 16
        assert set(run_id) <= ALPHABET


def test_run_ids_are_unique() -> None:
    assert len({new_run_id() for _ in range(10_000)}) == 10_000


def test_run_ids_are_unique_within_one_millisecond(frozen: FrozenClock) -> None:
    assert len({new_run_id() for _ in range(10_000)}) == 10_000


def test_later_ids_sort_after_earlier_ones(frozen: FrozenClock) -> None:
    ids = []
    for _ in range(10_000):
        ids.append(new_run_id())
        frozen.advance(0.001)
    assert ids == sorted(ids)


def test_ids_sort_by_time_across_long_gaps(frozen: FrozenClock) -> None:
    early = new_run_id()
    frozen.advance(days=400)
    assert new_run_id() > early


def test_the_time_prefix_is_the_same_within_a_millisecond(frozen: FrozenClock) -> None:
    # the first 9 characters (45 bits) come from the 48-bit millisecond count alone
    a, b = new_run_id(), new_run_id()
    assert a[:9] == b[:9]
    frozen.advance(60)
    assert new_run_id()[:9] != a[:9]
