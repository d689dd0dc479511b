"""Retry policy: the delay before the next attempt, and whether there is one."""

from __future__ import annotations

from typing import Any

import pytest

from pauta.definitions.options import TaskOptions
from pauta.engine.retries import retry_delay, should_retry


class TransientError(ConnectionError):
    """A project's own error type, as a flow file would define it."""


class FlakyDatabase(TransientError):
    pass


def _mro(exc_type: type[BaseException]) -> tuple[str, ...]:
    # the form the worker reports: the class and its bases by qualified name
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in exc_type.__mro__)


@pytest.mark.parametrize(
    ("failed", "kwargs", "expected"),
    [
        (1, {"base": 2}, 2.0),
        (2, {"base": 2}, 4.0),
        (3, {"base": 2}, 8.0),
        (3, {"base": 2, "backoff": 3}, 18.0),
        (1, {"base": 2, "backoff": 1}, 2.0),
        (5, {"base": 2, "backoff": 1}, 2.0),
        (3, {"base": 2, "max_delay": 5}, 5.0),
        (10, {"base": 1, "max_delay": 60}, 60.0),
        (2, {"base": 2, "max_delay": 5}, 4.0),
        (4, {"base": 0}, 0.0),
    ],
)
def test_retry_delay_without_jitter(failed: int, kwargs: dict[str, Any], expected: float) -> None:
    assert retry_delay(failed, jitter=False, **kwargs) == expected


@pytest.mark.parametrize(
    ("failed", "kwargs", "nominal"),
    [(1, {"base": 2}, 2.0), (3, {"base": 2}, 8.0), (6, {"base": 2, "max_delay": 10}, 10.0)],
)
def test_retry_delay_jitter_stays_between_half_and_full(
    failed: int, kwargs: dict[str, Any], nominal: float
) -> None:
    assert retry_delay(failed, jitter=True, rand=lambda: 0.0, **kwargs) == nominal / 2
    assert retry_delay(failed, jitter=True, rand=lambda: 1.0, **kwargs) == nominal
    assert retry_delay(failed, jitter=True, rand=lambda: 0.5, **kwargs) == nominal * 0.75


def test_retry_delay_with_the_real_random_source_is_bounded() -> None:
    delays = [retry_delay(3, base=2) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize("failed", [0, -1])
def test_retry_delay_counts_failures_from_one(failed: int) -> None:
    with pytest.raises(ValueError, match="failed_attempts counts from 1"):
        retry_delay(failed, base=1)


@pytest.mark.parametrize(
    ("retries", "failed", "expected"),
    [
        (0, 1, False),
        (2, 1, True),
        (2, 2, True),
        (2, 3, False),
        (5, 6, False),
    ],
)
def test_should_retry_counts_attempts(retries: int, failed: int, expected: bool) -> None:
    options = TaskOptions.build("t", retries=retries)
    assert should_retry(options, failed, _mro(ValueError)) is expected


@pytest.mark.parametrize(
    ("retry_on", "error", "expected"),
    [
        (TransientError, TransientError, True),
        (TransientError, FlakyDatabase, True),
        ((KeyError, TransientError), FlakyDatabase, True),
        (ConnectionError, FlakyDatabase, True),
        (OSError, FlakyDatabase, True),
        (TransientError, ConnectionError, False),
        (TransientError, ValueError, False),
        ((KeyError, IndexError), ValueError, False),
        (LookupError, KeyError, True),
        (KeyError, LookupError, False),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_should_retry_only_the_errors_in_retry_on(
    retry_on: Any, error: type[BaseException], expected: bool
) -> None:
    options = TaskOptions.build("t", retries=3, retry_on=retry_on)
    assert should_retry(options, 1, _mro(error)) is expected


def test_retry_on_does_not_override_the_retry_count() -> None:
    options = TaskOptions.build("t", retries=1, retry_on=TransientError)
    assert not should_retry(options, 2, _mro(TransientError))


def test_a_same_named_error_from_another_module_is_not_retried() -> None:
    options = TaskOptions.build("t", retries=3, retry_on=TransientError)
    other = ("othermodule.TransientError", "builtins.Exception", "builtins.BaseException")
    assert not should_retry(options, 1, other)
