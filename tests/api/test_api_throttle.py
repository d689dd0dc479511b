"""The lockout after repeated failed logins: free attempts, then 1 s, 2 s, 4 s... capped;
reset by a success, forgotten after a quiet while. Time is an argument: no sleeping."""

from __future__ import annotations

import pytest

from pauta.api.throttle import LoginThrottle

KEYS = ("user:ada", "address:10.0.0.1")


def _fail(throttle: LoginThrottle, times: int, now: float, keys: tuple[str, ...] = KEYS) -> None:
    for _ in range(times):
        assert throttle.retry_after(keys, now) == 0
        throttle.failed(keys, now)


def test_five_failures_are_free_then_the_lockout_doubles_up_to_a_cap() -> None:
    throttle = LoginThrottle(free_failures=5, first_lockout_s=1, max_lockout_s=60)
    _fail(throttle, 5, now=0)
    assert throttle.retry_after(KEYS, 0) == 1
    assert throttle.retry_after(KEYS, 0.25) == 0.75
    now, waits = 1.0, []
    for _ in range(8):
        assert throttle.retry_after(KEYS, now) == 0
        throttle.failed(KEYS, now)
        wait = throttle.retry_after(KEYS, now)
        waits.append(wait)
        now += wait
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]


def test_a_failure_during_the_lockout_is_not_counted() -> None:
    # a locked-out attempt is refused before its password is checked, so it cannot count
    throttle = LoginThrottle(free_failures=2, first_lockout_s=1, max_lockout_s=60)
    _fail(throttle, 2, now=0)
    assert throttle.retry_after(KEYS, 0.5) == 0.5
    assert throttle.retry_after(KEYS, 1) == 0


def test_either_key_locks_the_attempt() -> None:
    throttle = LoginThrottle(free_failures=3, first_lockout_s=1, max_lockout_s=60)
    for n in range(3):  # one address guessing three users' passwords
        throttle.failed((f"user:u{n}", "address:10.0.0.1"), 0)
    assert throttle.retry_after(("user:ada", "address:10.0.0.1"), 0) == 1
    assert throttle.retry_after(("user:ada", "address:10.0.0.2"), 0) == 0
    for n in range(3):  # three addresses guessing one user's
        throttle.failed(("user:bob", f"address:10.0.1.{n}"), 0)
    assert throttle.retry_after(("user:bob", "address:10.0.0.9"), 0) == 1


def test_a_success_resets_the_count() -> None:
    throttle = LoginThrottle(free_failures=5, first_lockout_s=1, max_lockout_s=60)
    _fail(throttle, 5, now=0)
    throttle.succeeded(KEYS)
    assert throttle.retry_after(KEYS, 0) == 0
    _fail(throttle, 5, now=0)
    assert throttle.retry_after(KEYS, 0) == 1


def test_failures_are_forgotten_after_a_quiet_while() -> None:
    throttle = LoginThrottle(free_failures=5, max_lockout_s=60, forget_after_s=900)
    _fail(throttle, 4, now=0)
    _fail(throttle, 4, now=901)  # the first four no longer count
    assert throttle.retry_after(KEYS, 901) == 0


def test_the_keys_kept_are_bounded() -> None:
    throttle = LoginThrottle(max_keys=100)
    for n in range(1000):
        throttle.failed((f"user:u{n}",), 0)
    assert len(throttle) <= 100


@pytest.mark.parametrize("bad", [{"free_failures": 0}, {"first_lockout_s": 0}, {"max_keys": 0}])
def test_nonsense_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LoginThrottle(**bad)  # type: ignore[arg-type]
